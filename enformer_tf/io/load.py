"""One way to open a model, whatever was saved.

Users have a `.keras` file (`model.save`, `enformer-convert`), a training
directory (`enformer-train`'s checkpoints + `operative_config.gin`) or a
single checkpoint prefix in it; every CLI that reads a model takes any of
them. The official weights (a DeepMind Sonnet checkpoint) are converted once
with `enformer-convert` or `from_deepmind_checkpoint`.
"""
import os
import zipfile

import tf_keras as keras

from enformer_tf.io import keras_file, training_dir


def load_model(path: str) -> keras.Model:
  """An Enformer from a `.keras` file, a training directory or a checkpoint.

  Args:
    path: `model.keras`, a directory written by `enformer-train`, or a
      checkpoint prefix (`DIR/ckpt-1000`) inside one.

  Returns:
    The built model (inference only: call it with `training=False`).

  Raises:
    FileNotFoundError: nothing at `path`.
    ValueError: `path` exists but holds no Enformer.
  """
  path = os.fspath(path)
  if path.endswith('.keras'):
    try:
      return keras_file.load_keras_model(path)
    except (KeyError, zipfile.BadZipFile) as e:
      # A zip archive without the .keras layout (e.g. no config.json).
      raise ValueError(f'Could not load the Keras model {path}: '
                       f'{" ".join(str(e).split())}') from e
  if os.path.isdir(path) or os.path.exists(path + '.index'):
    return training_dir.model_from_checkpoint(path)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f'No model at {path}: expected a .keras file, a training directory '
        'or a checkpoint prefix.')
  raise ValueError(f'{path} is not a model: expected a .keras file, a '
                   'training directory or a checkpoint prefix.')
