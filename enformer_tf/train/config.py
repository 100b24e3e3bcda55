"""Gin configuration: the one module that registers configurables.

Model, layer and training code stay free of gin; this module makes them
configurable from `gin/` files:

| gin name                             | what                               |
|--------------------------------------|------------------------------------|
| `enformer_tf.Enformer`               | the model (bind uncalled)          |
| `keras.optimizers.Adam`              | tf-keras Adam (bind uncalled)      |
| `enformer_tf.train.LinearWarmup`     | warmup-then-constant schedule      |
| `enformer_tf.train.Trainer`          | the training loop's arguments      |
| `enformer_tf.train.train`            | entry point: model_dir, num_steps  |
| `enformer_tf.train.basenji_datasets` | Basenji2 TFRecords per organism    |
| `enformer_tf.train.random_datasets`  | random tensors (smoke tests)       |

Classes that own variables (model, optimizer) are bound *uncalled*
(`Trainer.model = @enformer_tf.Enformer`) so that the trainer constructs them
inside `strategy.scope()`. Data sources are bound uncalled under a scope per
split (`Trainer.train_data = @train/basenji_datasets`).
"""
import logging
import os
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence

import gin
import numpy as np
import tensorflow as tf
import tf_keras as keras

import enformer_tf
from enformer_tf.model import Enformer
from enformer_tf.train import loop
from enformer_tf.train import schedules

# The repository's gin/ directory: `include` lines and `--gin_file` paths
# are looked up here after the working directory.
GIN_DIR = Path(enformer_tf.__file__).resolve().parent.parent / 'gin'


def basenji_datasets(data_dirs: Mapping[str, str], split: str = 'train',
                     shuffle_buffer: int = 0, seed: Optional[int] = None,
                     skip_corrupt: bool = False) -> loop.OrganismDatasets:
  """One Basenji2-format split per organism (`basenji.load_dataset`).

  Args:
    data_dirs: organism -> directory with `statistics.json` and
      `tfrecords/`.
    split: `'train'`, `'valid'` or `'test'`.
    shuffle_buffer: examples in the shuffle buffer (0: file order).
    seed: shuffle seed (reproducible order).
    skip_corrupt: skip the rest of a corrupt or truncated TFRecord file
      (logged, and counted in `Trainer.read_reports`) instead of stopping
      with an error that names it.

  Returns:
    organism -> unbatched `{'sequence': [L, 4], 'target': [T, N]}` dataset,
    with a `basenji.ReadReport` per organism in `read_reports` if
    `skip_corrupt`.
  """
  from enformer_tf.data import basenji  # pylint: disable=g-import-not-at-top
  reports = {organism: basenji.ReadReport() for organism in data_dirs
             } if skip_corrupt else {}
  return loop.OrganismDatasets(
      {organism: basenji.load_dataset(
          data_dir, split, shuffle_buffer=shuffle_buffer, seed=seed,
          skip_corrupt=skip_corrupt, report=reports.get(organism))
       for organism, data_dir in data_dirs.items()}, reports)


def random_datasets(heads: Mapping[str, int], num_examples: int = 8,
                    sequence_length: int = 1024, target_length: int = 4,
                    seed: int = 0) -> Dict[str, tf.data.Dataset]:
  """Random one-hot sequences and gamma-distributed targets per organism.

  Nothing to learn: for smoke tests of the pipeline without data files.

  Args:
    heads: organism -> number of tracks.
    num_examples: examples per organism.
    sequence_length: bp per example.
    target_length: bins per example.
    seed: NumPy seed.
  """
  rng = np.random.default_rng(seed)
  datasets = {}
  for organism, num_tracks in heads.items():
    bases = rng.integers(0, 4, size=(num_examples, sequence_length))
    datasets[organism] = tf.data.Dataset.from_tensor_slices({
        'sequence': np.eye(4, dtype=np.float32)[bases],  # [n, L, 4]
        'target': rng.gamma(1.0, 1.0, size=(
            num_examples, target_length, num_tracks)).astype(np.float32),
    })
  return datasets


_Trainer = gin.external_configurable(
    loop.Trainer, name='Trainer', module='enformer_tf.train',
    denylist=['model_dir'])


def train(model_dir: str = gin.REQUIRED,
          num_steps: int = gin.REQUIRED) -> loop.Trainer:
  """Gin entry point: a `Trainer` from the bindings, trained and evaluated.

  Args:
    model_dir: checkpoints, summaries, tables, operative config (the CLI's
      `--model_dir` overrides the binding).
    num_steps: the final global step.

  Returns:
    The `Trainer` (its `model`, `last_eval`).
  """
  return loop.run(lambda: _Trainer(model_dir=model_dir), num_steps)


gin.external_configurable(Enformer, module='enformer_tf')
gin.external_configurable(keras.optimizers.Adam, module='keras.optimizers')
gin.external_configurable(schedules.LinearWarmup, module='enformer_tf.train')
gin.external_configurable(basenji_datasets, module='enformer_tf.train')
gin.external_configurable(random_datasets, module='enformer_tf.train')
train = gin.external_configurable(train, module='enformer_tf.train')

def resolve_gin_file(path: str) -> str:
  """`path` as given if it exists, else relative to the repo's `gin/`.

  Raises:
    FileNotFoundError: found in neither place.
  """
  if os.path.exists(path):
    return path
  candidate = GIN_DIR / path
  if candidate.exists():
    return str(candidate)
  raise FileNotFoundError(
      f'gin file {path!r} not found in the working directory '
      f'({os.getcwd()}) or in {GIN_DIR}.')


def parse_gin(gin_files: Sequence[str], gin_params: Sequence[str] = (),
              finalize: bool = True):
  """Parses gin files (CWD, then `gin/`) and bindings, strictly.

  Unknown configurables or parameters are errors (`skip_unknown=False`).
  `include` lines resolve against the working directory, then `gin/`.
  Clears any earlier configuration first.
  """
  gin.clear_config()
  paths = [resolve_gin_file(path) for path in gin_files]
  # Absolute search paths first: with a relative one, gin also tries to
  # import `data/` or `train/` as a Python package, and a namespace package
  # of that name on sys.path (a `data/` directory in the working directory)
  # makes it fail with a TypeError. Restored afterwards.
  prefixes = gin.config._LOCATION_PREFIXES  # pylint: disable=protected-access
  saved = list(prefixes)
  prefixes[:] = [os.getcwd(), str(GIN_DIR)] + saved
  quiet = _QuietIncludeLookup()
  logging.getLogger().addFilter(quiet)
  try:
    gin.parse_config_files_and_bindings(
        paths, list(gin_params), skip_unknown=False,
        finalize_config=finalize)
  finally:
    logging.getLogger().removeFilter(quiet)
    prefixes[:] = saved


class _QuietIncludeLookup(logging.Filter):
  """Drops gin's logging of each search path it tries for an include.

  Gin logs an error for every search path that misses, even when a later
  one has the file; a file missing everywhere still raises.
  """

  def filter(self, record):
    return record.module != 'resource_reader'
