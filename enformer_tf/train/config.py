"""Gin configuration: the one module that registers configurables.

Model, layer and training code stay free of gin; this module makes them
configurable from gin files (the bundled ones in `enformer_tf/gin/`, and the
user's own folders, see `gin_search_path`):

| gin name                             | what                               |
|--------------------------------------|------------------------------------|
| `enformer_tf.Enformer`               | the model (bind uncalled)          |
| `keras.optimizers.Adam`              | tf-keras Adam (bind uncalled)      |
| `enformer_tf.train.LinearWarmup`     | warmup-then-constant schedule      |
| `enformer_tf.train.WarmupCosineDecay` | warmup, then cosine decay (CPU)   |
| `enformer_tf.train.Trainer`          | the training loop's arguments      |
| `enformer_tf.train.train`            | entry point: model_dir, num_steps  |
|                                      | (`train_from_bindings` in Python)  |
| `enformer_tf.train.basenji_datasets` | Basenji2 TFRecords per organism    |
| `enformer_tf.train.random_datasets`  | random tensors (smoke tests)       |
| `enformer_tf.train.finetune_model`   | a model from saved weights, with   |
|                                      | new heads and what trains (bind    |
|                                      | uncalled as `Trainer.model`)       |
| `enformer_tf.train.finetune_adam`    | Adam, lower trunk learning rate    |
|                                      | (bind uncalled: `Trainer.optimizer`)|

Classes that own variables (model, optimizer) are bound *uncalled*
(`Trainer.model = @enformer_tf.Enformer`) so that the trainer constructs them
inside `strategy.scope()`. Data sources are bound uncalled under a scope per
split (`Trainer.train_data = @train/basenji_datasets`).

`train_from_gin` is the whole of `enformer-train`: it parses gin files and
bindings, then calls the entry point.
"""
import importlib.resources
import logging
import os
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence

import gin
import numpy as np
import tensorflow as tf
import tf_keras as keras

from enformer_tf.model import Enformer
from enformer_tf.train import datasets as datasets_lib
from enformer_tf.train import finetune
from enformer_tf.train import run
from enformer_tf.train import schedules
from enformer_tf.train import trainer as trainer_lib

# Environment variable naming the user's own gin folders (os.pathsep-separated),
# searched before the bundled ones.
GIN_PATH_ENV = 'ENFORMER_GIN_PATH'


def basenji_datasets(data_dirs: Mapping[str, str], split: str = 'train',
                     shuffle_buffer: int = 0, seed: Optional[int] = None,
                     skip_corrupt: bool = False
                     ) -> datasets_lib.OrganismDatasets:
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
  return datasets_lib.OrganismDatasets(
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
    trainer_lib.Trainer, name='Trainer', module='enformer_tf.train',
    denylist=['model_dir'])


def train_from_bindings(model_dir: str = gin.REQUIRED,
                        num_steps: int = gin.REQUIRED) -> trainer_lib.Trainer:
  """Gin entry point `train`: a `Trainer` from the bindings, trained and
  evaluated (`run.run_training`).

  Registered as `enformer_tf.train.train`, so gin files bind
  `train.model_dir` and `train.num_steps`.

  Args:
    model_dir: checkpoints, summaries, tables, operative config (the CLI's
      `--model_dir` overrides the binding).
    num_steps: the final global step.

  Returns:
    The `Trainer` (its `model`, `last_eval`).
  """
  return run.run_training(lambda: _Trainer(model_dir=model_dir), num_steps)


gin.external_configurable(Enformer, module='enformer_tf')
gin.external_configurable(keras.optimizers.Adam, module='keras.optimizers')
gin.external_configurable(schedules.LinearWarmup, module='enformer_tf.train')
gin.external_configurable(schedules.WarmupCosineDecay,
                          module='enformer_tf.train')
gin.external_configurable(basenji_datasets, module='enformer_tf.train')
gin.external_configurable(random_datasets, module='enformer_tf.train')
gin.external_configurable(finetune.finetune_model, module='enformer_tf.train')
gin.external_configurable(finetune.finetune_adam, module='enformer_tf.train')
train_from_bindings = gin.external_configurable(
    train_from_bindings, name='train', module='enformer_tf.train')


def bundled_gin_dir() -> Path:
  """The gin files shipped with the package: `enformer_tf/gin/`.

  Package data found with `importlib.resources`, so a wheel install finds its
  own copy in site-packages.

  Raises:
    ValueError: the package is not installed as files on disk (e.g. zipped),
      so gin cannot open its files.
  """
  gin_dir = importlib.resources.files('enformer_tf') / 'gin'
  if not isinstance(gin_dir, Path) or not gin_dir.is_dir():
    raise ValueError(
        f'enformer_tf\'s bundled gin folder is not a directory on disk '
        f'({gin_dir}); install enformer_tf unzipped.')
  return gin_dir


def gin_search_path(search_dirs: Sequence[str] = ()) -> List[Path]:
  """The folders gin files are looked up in, after the working directory.

  In order: `search_dirs` (e.g. `--gin_search_path`), then the folders in
  the `ENFORMER_GIN_PATH` environment variable (separated by `os.pathsep`),
  then the bundled `enformer_tf/gin/`. A user's file with the same relative
  name as a bundled one (`model/enformer_small.gin`) wins, in `--gin_file`
  and in `include` lines alike.

  Args:
    search_dirs: the user's gin folders, searched first.

  Returns:
    Absolute folders, searched in order.

  Raises:
    ValueError: a user folder is not a directory.
  """
  env_dirs = [d for d in os.environ.get(GIN_PATH_ENV, '').split(os.pathsep)
              if d]
  dirs = []
  for source, directory in ([('--gin_search_path', d) for d in search_dirs] +
                            [(GIN_PATH_ENV, d) for d in env_dirs]):
    if not os.path.isdir(directory):
      raise ValueError(f'{source} {directory!r} is not a directory; expected '
                       'a folder of gin files.')
    dirs.append(Path(os.path.abspath(directory)))
  return dirs + [bundled_gin_dir()]


def resolve_gin_file(path: str, search_dirs: Sequence[str] = ()) -> str:
  """`path` as given if it exists, else the first match on the search path.

  Args:
    path: a gin file: absolute, relative to the working directory, or
      relative to a folder of `gin_search_path(search_dirs)`.
    search_dirs: the user's gin folders (see `gin_search_path`).

  Returns:
    A path to an existing file.

  Raises:
    FileNotFoundError: found nowhere; the message lists where it looked.
  """
  if os.path.isfile(path):
    return path
  dirs = gin_search_path(search_dirs)
  if not os.path.isabs(path):
    for directory in dirs:
      candidate = directory / path
      if candidate.is_file():
        return str(candidate)
  looked = [os.path.abspath(path)] + (
      [] if os.path.isabs(path) else [str(d / path) for d in dirs])
  raise FileNotFoundError(
      f'gin file {path!r} not found; looked in: {", ".join(looked)}. Add a '
      f'folder with --gin_search_path DIR or {GIN_PATH_ENV}.')


def parse_gin(gin_files: Sequence[str], gin_params: Sequence[str] = (),
              finalize: bool = True, search_dirs: Sequence[str] = ()):
  """Parses gin files and bindings, strictly.

  `--gin_file` paths and `include` lines resolve against the working
  directory, then `search_dirs`, then `ENFORMER_GIN_PATH`, then the bundled
  `enformer_tf/gin/` (`gin_search_path`). Unknown configurables or
  parameters are errors (`skip_unknown=False`). Clears any earlier
  configuration first.

  Args:
    gin_files: gin files, applied in order.
    gin_params: bindings applied after the files.
    finalize: lock the configuration afterwards.
    search_dirs: the user's gin folders, searched before the bundled ones.
  """
  gin.clear_config()
  dirs = gin_search_path(search_dirs)
  paths = [resolve_gin_file(path, search_dirs) for path in gin_files]
  # Absolute search paths only: with a relative one (gin's default ''), gin
  # also tries to import `data/` or `train/` as a Python package, and a
  # namespace package of that name on sys.path (a `data/` directory in the
  # working directory) makes it fail with a TypeError. The working
  # directory comes first, as '' would. Restored afterwards.
  prefixes = gin.config._LOCATION_PREFIXES  # pylint: disable=protected-access
  saved = list(prefixes)
  prefixes[:] = [os.getcwd()] + [str(d) for d in dirs] + [
      p for p in saved if p]
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


def train_from_gin(gin_files: Sequence[str], gin_params: Sequence[str] = (),
                   model_dir: Optional[str] = None,
                   search_dirs: Sequence[str] = ()) -> trainer_lib.Trainer:
  """Parses the configuration and trains; what `enformer-train` runs.

  Args:
    gin_files: gin files, applied in order.
    gin_params: bindings applied after the files, e.g. `'train.num_steps = 10'`.
    model_dir: overrides `train.model_dir`.
    search_dirs: the user's gin folders (`--gin_search_path`), searched
      before the bundled ones (`gin_search_path`).

  Returns:
    The finished `Trainer`.

  Raises:
    ValueError: no gin file, or a gin syntax error (on one line).
  """
  if not gin_files:
    raise ValueError('Give at least one --gin_file, e.g. '
                     '--gin_file experiments/paper.gin.')
  try:
    parse_gin(gin_files, gin_params, search_dirs=search_dirs)
  except SyntaxError as e:  # gin's parse errors; not a user-facing type.
    raise ValueError(
        f'gin: {e.msg} ({e.filename or "--gin_param"}, line {e.lineno}): '
        f'{(e.text or "").strip()}') from None
  if model_dir is not None:
    return train_from_bindings(model_dir=model_dir)
  return train_from_bindings()

