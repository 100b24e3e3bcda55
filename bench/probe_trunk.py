"""Where in the trunk is a track's signal? Linear probes of each stage.

  python bench/probe_trunk.py --model DIR_OR_KERAS --records human=DIR \
      [--records mouse=DIR] [--examples 512]

A model that predicts a track flat can have lost it anywhere: the conv tower
never found the motif, the transformer washed it out, or only the head
failed to read it. For each stage of the trunk (conv tower, transformer,
final pointwise; all cropped to the target bins, inference mode) this fits a
ridge regression from the stage's features at a bin to log(1 + target) of
each track on training examples, and reports its Pearson R on validation
examples, beside the R of the model's own head. A track whose probe R is
high at the conv tower but low after the transformer lost its signal in the
transformer; one that is low everywhere was never found.

One JSON line per organism: `{stage: {track: R}}` and `head: {track: R}`,
plus each stage's feature standard deviation.
"""
import argparse
import json
import os
import sys
from typing import Dict

import numpy as np

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAGES = ('conv_tower', 'transformer', 'final_pointwise')
RIDGE_ALPHA = 1.0


def ridge_fit(features: np.ndarray, targets: np.ndarray,
              alpha: float = RIDGE_ALPHA) -> np.ndarray:
  """Weights `[F + 1, N]` (last row: intercept) of a ridge regression."""
  a = np.concatenate([features, np.ones((len(features), 1))], axis=1)
  gram = a.T @ a + alpha * np.eye(a.shape[1])
  return np.linalg.solve(gram, a.T @ targets)


def ridge_predict(weights: np.ndarray, features: np.ndarray) -> np.ndarray:
  return features @ weights[:-1] + weights[-1]


def pearson_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Pearson R of each column of `a` `[n, N]` with the same column of `b`:
  the package's `PearsonR` metric, which the evaluation tables use."""
  from enformer_tf.train import metrics
  statistics = metrics.PearsonR(a.shape[-1])
  statistics.update_state(b, a)
  return statistics.pearson_r().numpy()


def stage_features(model, head: str, sequences: np.ndarray,
                   batch_size: int = 32) -> Dict[str, np.ndarray]:
  """Each stage's output at the target bins, `{stage: [B, T, F]}`, and the
  head's predictions (`'head'`), from one inference pass."""
  import tensorflow as tf
  stem, conv_tower, transformer, crop, final_pointwise = model.trunk.layers
  out = {stage: [] for stage in STAGES + ('head',)}
  for start in range(0, len(sequences), batch_size):
    # Records hold windows of the model's own length: no cropping needed.
    x = tf.cast(sequences[start:start + batch_size], model.compute_dtype)
    x = conv_tower(stem(x, training=False), training=False)
    out['conv_tower'].append(crop(x).numpy())
    x = crop(transformer(x, training=False))
    out['transformer'].append(x.numpy())
    x = final_pointwise(x, training=False)
    out['final_pointwise'].append(x.numpy())
    out['head'].append(model.head_layers[head](x).numpy())
  return {stage: np.concatenate(v) for stage, v in out.items()}


def probe(model, head: str, train: Dict[str, np.ndarray],
          valid: Dict[str, np.ndarray], track_names) -> dict:
  """Probe R per stage and track, the head's own R, and feature scales."""
  length = train['sequence'].shape[1]
  if model.sequence_length is not None and length != model.sequence_length:
    raise SystemExit(f'probe_trunk: the records hold {length}-bp windows, the '
                     f'model takes {model.sequence_length} bp')
  train_features = stage_features(model, head, train['sequence'])
  valid_features = stage_features(model, head, valid['sequence'])
  num_tracks = train['target'].shape[-1]
  y_train = np.log1p(train['target'].reshape(-1, num_tracks))
  y_valid = np.log1p(valid['target'].reshape(-1, num_tracks))
  result = {'head': head, 'stages': {}, 'feature_std': {}}
  for stage in STAGES:
    f_train = train_features[stage].reshape(-1, train_features[stage].shape[-1])
    f_valid = valid_features[stage].reshape(-1, valid_features[stage].shape[-1])
    weights = ridge_fit(f_train.astype(np.float64), y_train)
    r = pearson_columns(ridge_predict(weights, f_valid.astype(np.float64)),
                        y_valid)
    result['stages'][stage] = {n: round(float(v), 4)
                               for n, v in zip(track_names, r)}
    result['feature_std'][stage] = round(float(f_valid.std()), 4)
  r = pearson_columns(valid_features['head'].reshape(-1, num_tracks),
                      valid['target'].reshape(-1, num_tracks))
  result['model_head'] = {n: round(float(v), 4)
                          for n, v in zip(track_names, r)}
  return result


def read_examples(records_dir: str, split: str, count: int):
  from enformer_tf.train import config
  dataset = config.basenji_datasets({'x': records_dir}, split)['x']
  sequences, targets = [], []
  for example in dataset.take(count).batch(64):
    sequences.append(example['sequence'].numpy())
    targets.append(example['target'].numpy())
  if not sequences:
    raise SystemExit(f'probe_trunk: no {split} examples in {records_dir}')
  return {'sequence': np.concatenate(sequences),
          'target': np.concatenate(targets).astype(np.float64)}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--model', required=True,
                      help='.keras file, training directory or checkpoint')
  parser.add_argument('--records', action='append', required=True,
                      help='HEAD=DIR: Basenji records of that head')
  parser.add_argument('--examples', type=int, default=512,
                      help='training examples to fit on (validation: half)')
  args = parser.parse_args(argv)
  sys.path.insert(0, REPO)
  from enformer_tf.io import load_model
  from enformer_tf.train import evaluate
  model = load_model(args.model)
  for item in args.records:
    head, _, records_dir = item.partition('=')
    if not records_dir:
      raise SystemExit(f'probe_trunk: --records {item!r}: expected HEAD=DIR')
    train = read_examples(records_dir, 'train', args.examples)
    valid = read_examples(records_dir, 'valid', max(1, args.examples // 2))
    names = evaluate.read_track_identifiers(records_dir)
    print(json.dumps(probe(model, head, train, valid, names)), flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
