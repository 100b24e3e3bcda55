"""Training Enformer: the multi-organism `Trainer`, the `model.fit` path,
losses, metrics, schedules and the gin configuration.

  from enformer_tf import train
  trainer = train.train_and_evaluate(model, train_data, 'runs/x',
                                     num_steps=1000, eval_data=valid_data)

Modules, by concern:
  trainer.py   `Trainer`: datasets to steps, checkpoints, evaluation
  step.py      the one strategy-aware global train step
  datasets.py  organism -> dataset: checks and the training stream
  run.py       `train_and_evaluate`, `run_training` (train, then evaluate)
  fit.py       `fit_dataset`, `compile_for_fit` (`model.fit`)
  config.py    gin: the configurables, `train_from_gin` (enformer-train)
  finetune.py  start from saved weights: new heads, what trains, adapters
  summaries.py TensorBoard scalars;  optimizer.py  Adam with clipping
  checkpointing.py, interrupt.py, non_finite.py, op_errors.py: faults
  losses.py, metrics.py, schedules.py, augment.py, evaluate.py, ...

Gin names are `enformer_tf.train.<name>`, and each is this package's public
name: `Trainer`, `LinearWarmup`, `basenji_datasets`, `random_datasets`, and
the entry point `train` (`train_from_bindings` in Python), which gin files
bind as `train.model_dir` and `train.num_steps`.
"""
from enformer_tf.train.config import basenji_datasets
from enformer_tf.train.config import random_datasets
from enformer_tf.train.config import train_from_bindings
from enformer_tf.train.config import train_from_gin
from enformer_tf.train.datasets import OrganismDatasets
from enformer_tf.train.finetune import finetune_adam
from enformer_tf.train.finetune import finetune_model
from enformer_tf.train.finetune import prepare_finetune
from enformer_tf.train.fit import compile_for_fit
from enformer_tf.train.fit import fit_dataset
from enformer_tf.train.interrupt import TrainingInterrupted
from enformer_tf.train.non_finite import NonFiniteLossError
from enformer_tf.train.optimizer import adam
from enformer_tf.train.run import run_training
from enformer_tf.train.run import train_and_evaluate
from enformer_tf.train.schedules import LinearWarmup
from enformer_tf.train.schedules import WarmupCosineDecay
from enformer_tf.train.trainer import Trainer

__all__ = [
    'LinearWarmup', 'NonFiniteLossError', 'OrganismDatasets', 'Trainer',
    'TrainingInterrupted', 'adam', 'basenji_datasets', 'compile_for_fit',
    'finetune_adam', 'finetune_model', 'fit_dataset', 'prepare_finetune',
    'random_datasets', 'run_training', 'train_and_evaluate',
    'WarmupCosineDecay', 'train_from_bindings', 'train_from_gin',
]
