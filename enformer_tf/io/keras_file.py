"""Loading a `.keras` Enformer, which is untrusted input.

Keras (even with `safe_mode`) imports any module a `.keras` config names and
calls what it finds there, and loads a file that is not a zip archive as
legacy HDF5, where `safe_mode` does not apply. `load_keras_model` refuses
both before Keras reads the file.
"""
import json
import os
import zipfile
from typing import List

import tf_keras as keras

# The modules a `.keras` config may name. Keras (even with safe_mode) imports
# any module a config names and calls what it finds there: a `Lambda` layer
# naming `os.system`, or a class of a module planted on `sys.path`.
_TRUSTED_CONFIG_MODULES = ('enformer_tf', 'tf_keras', 'keras')


def _config_modules(config) -> List[str]:
  """Every `module` named anywhere in a Keras object config."""
  modules, stack = [], [config]
  while stack:
    value = stack.pop()
    if isinstance(value, dict):
      if isinstance(value.get('module'), str):
        modules.append(value['module'])
      stack.extend(value.values())
    elif isinstance(value, list):
      stack.extend(value)
  return modules


def _check_keras_archive(path: str) -> None:
  """Refuses, before Keras reads it, a `.keras` file that is not an Enformer
  archive naming only trusted modules (see `load_keras_model`)."""
  # Keras loads a `.keras` file that is not a zip archive as legacy HDF5,
  # where safe_mode does not apply: a Lambda layer's bytecode would run.
  if not zipfile.is_zipfile(path):
    raise ValueError(
        f'{path} is not a .keras archive (a zip file); legacy HDF5 and '
        'SavedModel models are not loaded, since Keras would run the Python '
        'bytecode of their Lambda layers.')
  try:
    with zipfile.ZipFile(path) as archive:
      config = json.loads(archive.read('config.json'))
  except (KeyError, ValueError, zipfile.BadZipFile) as e:
    raise ValueError(f'{path} has no readable config.json: {e}') from e
  if not isinstance(config, dict):
    raise ValueError(f'{path} has a config.json that is not a Keras object.')
  module = str(config.get('module') or '')
  if module.split('.')[0] != 'enformer_tf':
    raise ValueError(f'{path} holds a {config.get("class_name")} of module '
                     f'{module!r}, not an Enformer.')
  untrusted = sorted({name for name in _config_modules(config)
                      if name.split('.')[0] not in _TRUSTED_CONFIG_MODULES})
  if untrusted:
    raise ValueError(
        f'{path} names the Python modules {untrusted} in its config; only '
        'enformer_tf and Keras objects are loaded (Keras would import those '
        'modules and call what they hold).')


def load_keras_model(path: str) -> keras.Model:
  """Loads an Enformer saved with `model.save('model.keras')`.

  The file is untrusted input: before Keras reads it, a file that is not a
  zip archive (a legacy HDF5 file renamed `.keras`), whose top-level object
  is not an `enformer_tf` class, or whose config names modules other than
  `enformer_tf` and Keras is refused; Keras then loads it in safe mode (no
  `Lambda` bytecode).

  Args:
    path: a `.keras` file.

  Returns:
    The model, uncompiled.

  Raises:
    FileNotFoundError: no file at `path`.
    ValueError: `path` is not a `.keras` archive, names untrusted code, or
      holds no Enformer-like model.
  """
  import enformer_tf.model  # noqa: F401  (registers the Enformer classes)

  path = os.fspath(path)
  if not os.path.exists(path):
    raise FileNotFoundError(f'No .keras model file at {path}.')
  if not path.endswith('.keras') or os.path.isdir(path):
    raise ValueError(f'{path} is not a .keras file; save the model with '
                     "model.save('model.keras').")
  _check_keras_archive(path)
  try:
    model = keras.models.load_model(path, compile=False, safe_mode=True)
  except (OSError, ValueError, TypeError, KeyError,
          zipfile.BadZipFile) as e:
    raise ValueError(f'Could not load the Keras model {path}: {e}') from e
  missing = [a for a in ('embed', 'heads', 'head_layers', 'sequence_length')
             if not hasattr(model, a)]
  if missing:
    raise ValueError(f'{path} holds a {type(model).__name__}, not an '
                     f'Enformer (it has no {", ".join(missing)}).')
  return model
