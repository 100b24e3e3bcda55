"""Evaluation over a split: per-track Pearson R and R², tables per organism.

The metric is REFERENCE §5's: Pearson R per track pooled over all examples
and bins of the split, then the mean over tracks. Tables are tab-separated:
`{head}.tsv` with one row per track (`index, identifier, pearson_r, r2`) and
`summary.tsv` with the means per organism; `curves.tsv` keeps every
evaluation's per-track figures (`step, head, index, identifier, pearson_r,
r2`), the learning curve of each track, which the mean over tracks hides
(a flat sparse track beside a learnt dense one).
"""
import dataclasses
import logging
import os
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import tensorflow as tf
import tf_keras as keras

from enformer_tf import atomic
from enformer_tf.data import targets as targets_lib
from enformer_tf.train import metrics as metrics_lib

logger = logging.getLogger(__name__)

TrackNames = Mapping[str, Union[str, Sequence[str]]]


@dataclasses.dataclass
class HeadEvaluation:
  """Per-track results of one organism's head on one split.

  Attributes:
    head: organism name.
    pearson_r: `[N]` Pearson R per track (NaN where undefined).
    r2: `[N]` R² per track (NaN where undefined).
    num_values: values pooled per track (examples x bins).
  """
  head: str
  pearson_r: np.ndarray
  r2: np.ndarray
  num_values: int

  @property
  def mean_pearson_r(self) -> float:
    return _nan_mean(self.pearson_r)

  @property
  def mean_r2(self) -> float:
    return _nan_mean(self.r2)


def _nan_mean(values: np.ndarray) -> float:
  finite = np.isfinite(values)
  return float(values[finite].mean()) if finite.any() else float('nan')


def predict_head(model: keras.Model, sequence, head: str, training: bool):
  """`model.predict_head` if the model has it, else the head of `model()`."""
  if hasattr(model, 'predict_head'):
    return model.predict_head(sequence, head, training=training)
  return model(sequence, training=training)[head]


class Evaluator:
  """Streams a model's predictions over per-organism datasets into metrics.

  Metrics are created inside `strategy.scope()` and reduced across
  replicas (and workers) when read. One `Evaluator` can be reused, e.g.
  every few thousand training steps; its metrics are reset per call.

  Args:
    model: a multi-head model (`predict_head(x, head, training)` or a dict
      output).
    strategy: the strategy the model was built under; the current one if
      None.
  """

  def __init__(self, model: keras.Model,
               strategy: Optional[tf.distribute.Strategy] = None):
    self.model = model
    self.strategy = strategy or tf.distribute.get_strategy()
    self._metrics: Dict[str, metrics_lib.PearsonR] = {}
    self._step_fn = tf.function(self._step, reduce_retracing=True,
                                autograph=False)

  def _metric(self, head: str, num_tracks: int) -> metrics_lib.PearsonR:
    if head in self._metrics and self._metrics[head].num_tracks != num_tracks:
      raise ValueError(
          f'The {head} evaluation data has {num_tracks} tracks; this '
          f'Evaluator measured {self._metrics[head].num_tracks} before.')
    if head not in self._metrics:
      with self.strategy.scope():
        self._metrics[head] = metrics_lib.PearsonR(
            num_tracks, name=f'{head}_pearson_r')
    return self._metrics[head]

  def _step(self, batch, head):
    def replica_fn(batch):
      prediction = predict_head(self.model, batch['sequence'], head,
                                training=False)  # [b, T, N]
      self._metrics[head].update_state(
          batch['target'], prediction,
          sample_weight=batch['weight'][:, None, None])  # [b, 1, 1]
    self.strategy.run(replica_fn, args=(batch,))

  def evaluate(self, datasets: Mapping[str, tf.data.Dataset],
               batch_size: int,
               steps: Optional[int] = None) -> Dict[str, HeadEvaluation]:
    """Evaluates each head on its dataset.

    Args:
      datasets: organism -> unbatched `{'sequence': [L, 4], 'target': [T, N]}`
        examples (finite).
      batch_size: global batch size.
      steps: evaluate at most this many batches per organism (all if None).

    Returns:
      organism -> `HeadEvaluation`.
    """
    if int(batch_size) != batch_size or batch_size < 1:
      raise ValueError(
          f'batch_size must be a positive integer, got {batch_size!r}.')
    results = {}
    for head, dataset in datasets.items():
      if not self.model.built:  # Variables cannot be created in _step_fn.
        with self.strategy.scope():
          self.model.build(tf.TensorShape([None]).concatenate(
              dataset.element_spec['sequence'].shape))
      num_tracks = dataset.element_spec['target'].shape[-1]
      if num_tracks is None:
        raise ValueError(f'The {head} evaluation dataset must have a known '
                         'number of tracks (static last dimension of target).')
      metric = self._metric(head, int(num_tracks))
      metric.reset_state()
      # Padding the last batch to full size with weight-0 examples keeps
      # shapes static and gives every replica a non-empty share.
      batched = dataset.batch(batch_size).map(
          lambda batch: _pad_batch(batch, batch_size))
      if steps is not None:
        batched = batched.take(steps)
      batched = batched.prefetch(tf.data.AUTOTUNE)
      batched = batched.with_options(_data_sharded_options())
      for batch in self.strategy.experimental_distribute_dataset(batched):
        self._step_fn(batch, head)
      per_track = {k: v.numpy() for k, v in metric.per_track().items()}
      results[head] = HeadEvaluation(
          head=head, pearson_r=per_track['pearson_r'], r2=per_track['r2'],
          num_values=int(per_track['count'].max(initial=0)))
    return results


def _pad_batch(batch, batch_size: int):
  """Pads `sequence` and `target` to `batch_size`; `weight` marks real rows."""
  size = tf.shape(batch['sequence'])[0]
  def pad(x):
    paddings = [[0, batch_size - size]] + [[0, 0]] * (x.shape.rank - 1)
    return tf.ensure_shape(tf.pad(x, paddings),
                           [batch_size] + x.shape[1:].as_list())
  return {'sequence': pad(batch['sequence']),  # [B, L, 4]
          'target': pad(batch['target']),  # [B, T, N]
          'weight': pad(tf.ones([size], tf.float32))}  # [B]


def _data_sharded_options() -> tf.data.Options:
  """Every worker reads the same stream and keeps its share of each batch."""
  options = tf.data.Options()
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  return options


def evaluate(model: keras.Model, datasets: Mapping[str, tf.data.Dataset],
             batch_size: int = 1, steps: Optional[int] = None,
             strategy: Optional[tf.distribute.Strategy] = None,
             output_dir: Optional[str] = None,
             track_names: Optional[TrackNames] = None,
             step: Optional[int] = None) -> Dict[str, HeadEvaluation]:
  """Evaluates `model` on each organism's split; optionally writes tables.

  Args:
    model: a built multi-head model.
    datasets: organism -> unbatched finite dataset of examples.
    batch_size: global batch size.
    steps: batches per organism (all if None).
    strategy: the model's strategy (the current one if None).
    output_dir: if given, `write_tables` writes the TSVs there.
    track_names: organism -> track identifiers, a `targets.txt` path or a
      data directory holding one.
    step: training step recorded in `summary.tsv`.

  Returns:
    organism -> `HeadEvaluation`.
  """
  results = Evaluator(model, strategy).evaluate(datasets, batch_size, steps)
  if output_dir is not None:
    write_tables(results, output_dir, track_names, step=step)
  return results


def read_track_identifiers(path: str) -> Optional[List[str]]:
  """Track identifiers from a Basenji `targets.txt` (or its directory).

  Returns the `identifier` column in `index` order, or None (logged) if the
  file is missing.
  """
  if os.path.isdir(path):
    path = os.path.join(path, 'targets.txt')
  if not os.path.exists(path):
    logger.warning('No track metadata at %s; identifiers left blank.', path)
    return None
  targets = targets_lib.read_targets(path, required_columns=('identifier',))
  return [target.identifier
          for target in sorted(targets, key=lambda target: target.index)]


def _identifiers(head: str, num_tracks: int,
                 track_names: Optional[TrackNames]) -> Sequence[str]:
  names = (track_names or {}).get(head)
  if isinstance(names, (str, os.PathLike)):
    names = read_track_identifiers(os.fspath(names))
  if names is None:
    return [''] * num_tracks
  if len(names) != num_tracks:
    raise ValueError(f'track_names[{head!r}] has {len(names)} identifiers but '
                     f'the {head} head has {num_tracks} tracks.')
  return list(names)


def resolve_track_names(results: Mapping[str, HeadEvaluation],
                        track_names: Optional[TrackNames] = None
                        ) -> Dict[str, List[str]]:
  """head -> identifiers (blank where unknown), each targets.txt read once;
  what `write_tables` and `append_curves` accept as `track_names`."""
  return {head: list(_identifiers(head, len(result.pearson_r), track_names))
          for head, result in results.items()}


def track_labels(identifiers: Sequence[str]) -> List[str]:
  """Per-track labels for summaries: the identifier, else `track{index}`."""
  return [name or f'track{i}' for i, name in enumerate(identifiers)]


def write_tables(results: Mapping[str, HeadEvaluation], output_dir: str,
                 track_names: Optional[TrackNames] = None,
                 step: Optional[int] = None) -> Dict[str, str]:
  """Writes `{head}.tsv` per organism and `summary.tsv`; returns the paths."""
  tf.io.gfile.makedirs(output_dir)
  paths = {}
  for head, result in results.items():
    names = _identifiers(head, len(result.pearson_r), track_names)
    path = os.path.join(output_dir, f'{head}.tsv')
    with tf.io.gfile.GFile(path, 'w') as f:
      f.write('index\tidentifier\tpearson_r\tr2\n')
      for i, (name, r, r2) in enumerate(zip(names, result.pearson_r,
                                            result.r2)):
        f.write(f'{i}\t{name}\t{r:.6f}\t{r2:.6f}\n')
    paths[head] = path
  path = os.path.join(output_dir, 'summary.tsv')
  with tf.io.gfile.GFile(path, 'w') as f:
    f.write('head\tstep\tnum_tracks\tnum_values\tpearson_r\tr2\n')
    for head, result in results.items():
      f.write(f'{head}\t{"" if step is None else step}\t'
              f'{len(result.pearson_r)}\t{result.num_values}\t'
              f'{result.mean_pearson_r:.6f}\t{result.mean_r2:.6f}\n')
  paths['summary'] = path
  return paths


CURVES_HEADER = 'step\thead\tindex\tidentifier\tpearson_r\tr2\n'


def append_curves(results: Mapping[str, HeadEvaluation], output_dir: str,
                  step: int, track_names: Optional[TrackNames] = None) -> str:
  """Adds this evaluation's per-track rows to `curves.tsv`; returns its path.

  Rows of `step` or later already there are dropped first: a run resumed
  from an earlier checkpoint re-evaluates those steps, and the curve must
  hold one row per step and track, the run's latest. The file is rewritten
  atomically (`atomic.write_atomically`): a cut leaves the old curve.
  """
  tf.io.gfile.makedirs(output_dir)
  path = os.path.join(output_dir, 'curves.tsv')
  kept = []
  if tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path) as f:
      lines = f.read().splitlines()[1:]
    kept = [line + '\n' for line in lines
            if line and int(line.split('\t', 1)[0]) < step]
  for head, result in results.items():
    names = _identifiers(head, len(result.pearson_r), track_names)
    for i, (name, r, r2) in enumerate(zip(names, result.pearson_r,
                                          result.r2)):
      kept.append(f'{step}\t{head}\t{i}\t{name}\t{r:.6f}\t{r2:.6f}\n')
  atomic.write_atomically(path, CURVES_HEADER + ''.join(kept))
  return path


def read_curves(path: str) -> Dict[str, Dict[str, Dict[int, float]]]:
  """`curves.tsv` (or its directory) as head -> track -> step -> Pearson R.

  Tracks are named by identifier, or by index where the identifier is blank.
  """
  if tf.io.gfile.isdir(path):
    path = os.path.join(path, 'curves.tsv')
  curves: Dict[str, Dict[str, Dict[int, float]]] = {}
  with tf.io.gfile.GFile(path) as f:
    lines = f.read().splitlines()
  if not lines or lines[0] + '\n' != CURVES_HEADER:
    raise ValueError(f'{path} is not a curves table: its header is '
                     f'{lines[:1]}, expected {CURVES_HEADER.split()}.')
  for line in lines[1:]:
    step, head, index, name, r, _ = line.split('\t')
    curves.setdefault(head, {}).setdefault(name or index, {})[int(step)] = (
        float(r))
  return curves
