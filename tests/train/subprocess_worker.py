"""Training runs that need a fresh process (for test_trainer, test_distributed).

Op determinism is process-wide and irreversible, and MultiWorkerMirroredStrategy
must be created before TensorFlow initialises its devices, so these runs happen
outside the pytest process:

  python subprocess_worker.py resume WORK_DIR OUT.npz
  TF_CONFIG=... python subprocess_worker.py multi_worker MODEL_DIR OUT.npz
"""
import functools
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from enformer_tf import Enformer  # noqa: E402
from enformer_tf.train import Trainer, train_and_evaluate  # noqa: E402

HEADS = {'human': 3, 'mouse': 2}


def _model(**kwargs):
  return Enformer(channels=48, num_transformer_layers=1, num_heads=2,
                  heads=HEADS, target_length=4, sequence_length=1024,
                  conv_tower_divisible_by=8, **kwargs)


def _datasets(num_examples=6):
  rng = np.random.default_rng(0)
  datasets = {}
  for head, tracks in HEADS.items():
    sequence = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (num_examples,
                                                              1024))]
    target = rng.gamma(1.0, 1.0, (num_examples, 4, tracks)).astype(np.float32)
    datasets[head] = tf.data.Dataset.from_tensor_slices(
        {'sequence': sequence, 'target': target})
  return datasets


def _weights(model):
  return {f'{i:03d}': v.numpy() for i, v in enumerate(model.variables)}


def resume(work_dir: str, out: str):
  """N steps in one go vs. a new Trainer resuming from step k to N.

  The run stopped at k is the uninterrupted run's directory as it stood
  after step k (its checkpoints 1..k and a state file naming ckpt-k): the
  checkpoint a run ending at k writes is the same save of the same state
  (with deterministic ops, the same values), and a third Trainer would
  cost a third trace of the train step (~12 s). Resuming mid-stream still
  has to restore the weights, the optimizer's slots and iterations, the
  dropout generators and both organisms' data-stream positions exactly,
  or the weights at N differ.
  """
  kwargs = dict(batch_size=2, deterministic=True, seed=3, checkpoint_every=1,
                summary_every=1, progress=False, learning_rate=1e-3)
  # Default dropout rates: the dropout generators' state must be restored too.
  full_dir = os.path.join(work_dir, 'full')
  full = train_and_evaluate(_model, _datasets, full_dir, num_steps=4,
                            **kwargs)
  stopped = os.path.join(work_dir, 'stopped')
  os.makedirs(stopped)
  for path in tf.io.gfile.glob(os.path.join(full_dir, 'ckpt-[12].*')):
    tf.io.gfile.copy(path, os.path.join(stopped, os.path.basename(path)))
  tf.compat.v1.train.update_checkpoint_state(
      stopped, os.path.join(stopped, 'ckpt-2'),
      all_model_checkpoint_paths=[os.path.join(stopped, f'ckpt-{k}')
                                  for k in (1, 2)])
  resumed = Trainer(_model, _datasets, stopped, **kwargs)
  start = int(resumed.step.numpy())
  resumed.train(4)
  np.savez(out, start=start, steps=int(resumed.step.numpy()),
           iterations=int(resumed.optimizer.iterations.numpy()),
           **{f'full_{k}': v for k, v in _weights(full.model).items()},
           **{f'resumed_{k}': v for k, v in _weights(resumed.model).items()})


def multi_worker(model_dir: str, out: str):
  """Two steps under MultiWorkerMirroredStrategy from TF_CONFIG."""
  model = functools.partial(_model, dropout_rate=0.0,
                            attention_dropout_rate=0.0,
                            positional_dropout_rate=0.0,
                            final_dropout_rate=0.0)
  trainer = train_and_evaluate(model, _datasets, model_dir, num_steps=2,
                               batch_size=2, strategy='multi_worker', seed=0,
                               checkpoint_every=1, progress=False,
                               learning_rate=1e-3, eval_data=_datasets)
  np.savez(out, chief=trainer.is_chief,
           replicas=trainer.strategy.num_replicas_in_sync,
           pearson_r=trainer.last_eval['human'].pearson_r,
           **_weights(trainer.model))


if __name__ == '__main__':
  {'resume': resume, 'multi_worker': multi_worker}[sys.argv[1]](*sys.argv[2:])
