"""Untrusted model files: loading never runs Python code that came with them.

A `.keras` file, a training checkpoint directory and an exported SavedModel
may come from anyone. Loading them may run TensorFlow's own graph, but no
Python from the file or from beside it: no `Lambda` bytecode, no function or
class the config names from an arbitrary module, no module planted in the
directory (even with the directory on `sys.path` and as the working
directory), no pickle. Each test plants code that would leave a trace (a
marker file, a call to a spy, an entry in `sys.modules`) and checks that
there is none. gin files and command-line paths are trusted configuration
(see the README's security note) and are not tested here, except that the
exporter reads the `operative_config.gin` of a checkpoint without running
its imports or references.
"""
import copy
import json
import os
import pickle
import shutil
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tensorflow.core.protobuf import saved_model_pb2

from reliability import tiny_serving
from enformer_tf import io
from enformer_tf.constants import OPERATIVE_CONFIG as OPERATIVE_CONFIG_FILE

# Ops that would let a graph run Python or touch files other than its own
# variables (the checkpoint ops SaveV2 / RestoreV2 / MergeV2Checkpoints are
# TensorFlow's variable I/O).
PYTHON_OR_FILE_OPS = {'PyFunc', 'PyFuncStateless', 'EagerPyFunc', 'ReadFile',
                      'WriteFile', 'MatchingFiles', 'DeleteFile',
                      'ImmutableConst', 'LoadAndRemapMatrix'}


# -- Traps ---------------------------------------------------------------------


class MarkerOnUnpickle:
  """Unpickling this creates `path` (what a malicious pickle would do)."""

  def __init__(self, path):
    self.path = str(path)

  def __reduce__(self):
    return open, (self.path, 'w')


def plant_module(directory, name, marker):
  """A module `name` that creates `marker` when imported or called."""
  source = textwrap.dedent(f'''\
      import pathlib
      pathlib.Path({str(marker)!r}).write_text('imported')

      def function(*args, **kwargs):
        pathlib.Path({str(marker)!r}).write_text('called')
        return args[0] if args else None

      class Planted:

        @classmethod
        def from_config(cls, config):
          pathlib.Path({str(marker)!r}).write_text('from_config')
          raise ValueError('planted code ran')
      ''')
  path = os.path.join(str(directory), f'{name}.py')
  with open(path, 'w') as f:
    f.write(source)
  return path


def plant_everything(directory, markers_dir, prefix):
  """Modules, an `__init__.py` and pickles in `directory` and below it."""
  planted = []
  for sub in ('', 'variables', 'assets.extra'):
    folder = os.path.join(str(directory), sub)
    os.makedirs(folder, exist_ok=True)
    tag = sub.replace('.', '_') or 'top'
    for name in (f'{prefix}_{tag}', '__init__'):
      planted.append(plant_module(folder, name,
                                  markers_dir / f'{name}_{tag}.imported'))
    with open(os.path.join(folder, 'model.pkl'), 'wb') as f:
      pickle.dump(MarkerOnUnpickle(markers_dir / f'{tag}.unpickled'), f)
  return planted


class AuditLog:
  """Records unpickling and code execution (PEP 578 audit hooks) while on.

  A hook cannot be removed, so one hook records only while a log is active.
  """
  _active = None

  def __init__(self):
    self.events = []

  @classmethod
  def _hook(cls, event, args):
    log = cls._active
    if log is not None and event in ('pickle.find_class', 'exec'):
      log.events.append((event, args))

  def __enter__(self):
    if not getattr(AuditLog, '_installed', False):
      sys.addaudithook(AuditLog._hook)
      AuditLog._installed = True
    AuditLog._active = self
    return self

  def __exit__(self, *exc_info):
    AuditLog._active = None

  def code_from(self, directory):
    """Files under `directory` whose code was executed."""
    return [args[0].co_filename for event, args in self.events
            if event == 'exec' and _is_under(
                getattr(args[0], 'co_filename', ''), directory)]

  def unpickled(self):
    return [args for event, args in self.events
            if event == 'pickle.find_class']


def _is_under(path, directory) -> bool:
  """Whether `path` is a real file path inside `directory`; code compiled
  from strings has pseudo-paths like '<string>', which are not."""
  if not path or not os.path.isabs(path):
    return False
  directory = os.path.join(os.path.realpath(str(directory)), '')
  return os.path.realpath(path).startswith(directory)


def modules_from(directory):
  """Names of imported modules whose file is under `directory`."""
  return sorted(name for name, module in list(sys.modules.items())
                if _is_under(getattr(module, '__file__', None), directory))


@pytest.fixture
def markers(tmp_path):
  directory = tmp_path / 'markers'
  directory.mkdir()
  return directory


def traces(markers_dir):
  return sorted(os.listdir(markers_dir))


# -- .keras files --------------------------------------------------------------


def keras_archive(path, config, weights_from):
  """A `.keras` zip with `config` and the other entries of `weights_from`."""
  with zipfile.ZipFile(weights_from) as source:
    entries = {name: source.read(name) for name in source.namelist()}
  entries['config.json'] = json.dumps(config).encode()
  with zipfile.ZipFile(path, 'w') as archive:
    for name, data in entries.items():
      archive.writestr(name, data)
  return str(path)


@pytest.fixture(scope='module')
def dense_keras(tmp_path_factory):
  """(path, config) of a small functional Keras model's `.keras` file."""
  inputs = keras.Input((3,), name='x')
  outputs = keras.layers.Dense(2, name='dense')(inputs)
  path = str(tmp_path_factory.mktemp('keras') / 'dense.keras')
  keras.Model(inputs, outputs).save(path)
  with zipfile.ZipFile(path) as archive:
    return path, json.loads(archive.read('config.json'))


def _lambda_model(marker):
  """A functional model whose Lambda layer creates `marker` when run."""
  inputs = keras.Input((3,))
  # Defaults are saved with the bytecode, so the path travels with it.
  outputs = keras.layers.Lambda(
      lambda x, path=str(marker): (open(path, 'w').close(), x)[1])(inputs)
  return keras.Model(inputs, outputs)


def _remove_trace_of_building(marker):
  """Building the model here ran the lambda once, on purpose."""
  if os.path.exists(marker):
    os.remove(marker)


def test_keras_file_with_lambda_bytecode_is_refused(tmp_path, markers):
  path = str(tmp_path / 'lambda.keras')
  _lambda_model(markers / 'lambda.ran').save(path)
  _remove_trace_of_building(markers / 'lambda.ran')
  with pytest.raises(ValueError, match='(?i)lambda|not an Enformer'):
    io.load_keras_model(path)
  assert traces(markers) == []


def test_hdf5_file_named_keras_with_lambda_is_refused(tmp_path, markers):
  """Keras loads a non-zip `.keras` as HDF5, where safe mode does not apply."""
  h5 = str(tmp_path / 'lambda.h5')
  _lambda_model(markers / 'lambda.ran').save(h5)
  _remove_trace_of_building(markers / 'lambda.ran')
  disguised = shutil.copy(h5, tmp_path / 'model.keras')
  with pytest.raises(ValueError):
    io.load_keras_model(str(disguised))
  assert traces(markers) == []


def _lambda_naming(module, function):
  """A Lambda layer config that names `module.function`, not bytecode."""
  return {
      'module': 'keras.layers', 'class_name': 'Lambda', 'registered_name':
      None, 'name': 'dense', 'inbound_nodes': [[['x', 0, 0, {}]]],
      'config': {'name': 'dense', 'trainable': True, 'dtype': 'float32',
                 'function': {'module': module, 'class_name': 'function',
                              'config': function,
                              'registered_name': function},
                 'function_type': 'function', 'module': module,
                 'output_shape': None, 'output_shape_type': 'raw',
                 'output_shape_module': None, 'arguments': {}}}


def test_keras_config_naming_os_system_does_not_call_it(tmp_path,
                                                        dense_keras,
                                                        monkeypatch):
  """`os.system` named by a crafted config.json is never called.

  A spy stands in for `os.system` (Keras looks it up in the `os` module), so
  a call is seen whatever its argument.
  """
  calls = []
  monkeypatch.setattr(os, 'system', lambda *args, **kwargs: calls.append(
      args) or 0)
  path, config = dense_keras
  crafted = copy.deepcopy(config)
  crafted['config']['layers'][1] = _lambda_naming('os', 'system')
  with pytest.raises(ValueError):
    io.load_keras_model(
        keras_archive(tmp_path / 'system.keras', crafted, path))
  assert calls == []


def test_keras_config_naming_os_system_elsewhere_does_not_call_it(
    tmp_path, dense_keras, monkeypatch):
  """As an activation, initializer or the model class: refused, not called."""
  calls = []
  monkeypatch.setattr(os, 'system', lambda *args, **kwargs: calls.append(
      args) or 0)
  path, config = dense_keras
  system = {'module': 'os', 'class_name': 'function', 'config': 'system',
            'registered_name': 'system'}
  for where in ('activation', 'kernel_initializer', 'kernel_constraint',
                'model class'):
    crafted = copy.deepcopy(config)
    if where == 'model class':
      crafted.update(module='os', class_name='system', registered_name=None)
    else:
      crafted['config']['layers'][1]['config'][where] = system
    with pytest.raises(ValueError):
      io.load_keras_model(
          keras_archive(tmp_path / f'{where}.keras', crafted, path))
  assert calls == []


@pytest.mark.parametrize('where', ['model class', 'lambda function'])
def test_keras_config_naming_a_planted_module_does_not_import_it(
    tmp_path, dense_keras, markers, monkeypatch, where):
  """A module beside the file (on sys.path, e.g. the working directory)."""
  name = f'enformer_planted_keras_{where.replace(" ", "_")}'
  plant_module(tmp_path, name, markers / 'planted.ran')
  monkeypatch.syspath_prepend(str(tmp_path))
  path, config = dense_keras
  crafted = copy.deepcopy(config)
  if where == 'model class':
    crafted.update(module=name, class_name='Planted', registered_name=None)
  else:
    crafted['config']['layers'][1] = _lambda_naming(name, 'function')
  try:
    with pytest.raises(ValueError):
      io.load_keras_model(
          keras_archive(tmp_path / 'planted.keras', crafted, path))
    assert traces(markers) == []
    assert name not in sys.modules
  finally:
    sys.modules.pop(name, None)


# -- SavedModel ----------------------------------------------------------------


def test_exported_graph_has_no_python_or_file_ops(tmp_path_factory):
  path = tiny_serving.shared_export(tmp_path_factory)
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(path, 'saved_model.pb'), 'rb') as f:
    proto.ParseFromString(f.read())
  ops = set()
  for meta_graph in proto.meta_graphs:
    ops.update(node.op for node in meta_graph.graph_def.node)
    for function in meta_graph.graph_def.library.function:
      ops.update(node.op for node in function.node_def)
  assert {'Conv2D', 'Softplus', 'Assert'} <= ops  # The whole graph was read.
  assert ops & PYTHON_OR_FILE_OPS == set()


def test_saved_model_load_runs_no_python_from_its_directory(
    tmp_path, tmp_path_factory, markers, monkeypatch):
  """Planted modules, `__init__.py`s and pickles in the export are inert,
  even with the export as working directory and first on sys.path."""
  export = tiny_serving.private_copy(
      tiny_serving.shared_export(tmp_path_factory), str(tmp_path / '1'))
  plant_everything(export, markers, 'enformer_planted_sm')
  monkeypatch.chdir(export)
  monkeypatch.syspath_prepend(export)
  x = tiny_serving.one_hot(tiny_serving.random_codes(1))
  with AuditLog() as log:
    loaded = tf.saved_model.load(export)
    outputs = loaded.signatures['human'](sequence=tf.constant(x))
    loaded.model.predict_on_batch(tf.constant(np.tile(x, [1, 2, 1])))  # 2 L
  assert outputs['human'].shape == (1, tiny_serving.BINS, 5)
  assert traces(markers) == []
  assert modules_from(export) == []
  assert log.code_from(export) == []
  assert log.unpickled() == []


def test_audit_log_sees_planted_code_when_it_runs(tmp_path, markers,
                                                  monkeypatch):
  """The traps work: importing and unpickling planted files is seen."""
  plant_everything(tmp_path, markers, 'enformer_planted_probe')
  monkeypatch.syspath_prepend(str(tmp_path))
  try:
    with AuditLog() as log:
      __import__('enformer_planted_probe_top')
      with open(tmp_path / 'model.pkl', 'rb') as f:
        pickle.load(f)
  finally:
    sys.modules.pop('enformer_planted_probe_top', None)
  assert traces(markers) == ['enformer_planted_probe_top_top.imported',
                             'top.unpickled']
  assert log.code_from(tmp_path) and log.unpickled()


# -- Checkpoint directories ----------------------------------------------------

OPERATIVE_CONFIG = textwrap.dedent('''\
    import enformer_tf
    import {planted}

    LENGTH = 1024
    enformer_tf.Enformer.channels = 48
    enformer_tf.Enformer.conv_tower_divisible_by = 8
    enformer_tf.Enformer.heads = {{'human': 5, 'mouse': 3}}
    enformer_tf.Enformer.num_heads = 2
    enformer_tf.Enformer.num_transformer_layers = 1
    enformer_tf.Enformer.sequence_length = %LENGTH
    enformer_tf.Enformer.target_length = 4
    Trainer.model = @{planted}.function()
''')


def _training_dir(directory, model, config):
  checkpoint = tf.train.Checkpoint(step=tf.Variable(7, dtype=tf.int64),
                                   model=model)
  tf.train.CheckpointManager(checkpoint, str(directory), max_to_keep=1,
                             checkpoint_name='ckpt').save(checkpoint_number=7)
  (directory / OPERATIVE_CONFIG_FILE).write_text(config)


def test_checkpoint_loading_runs_no_python_from_its_directory(
    tmp_path, markers, monkeypatch):
  """The operative config's imports and references are parsed, not run."""
  planted = 'enformer_planted_ckpt'
  model = tiny_serving.tiny_model()
  _training_dir(tmp_path, model, OPERATIVE_CONFIG.format(planted=planted))
  plant_everything(tmp_path, markers, planted)
  plant_module(tmp_path, planted, markers / 'gin_import.ran')
  monkeypatch.chdir(tmp_path)
  monkeypatch.syspath_prepend(str(tmp_path))
  with AuditLog() as log:
    restored = io.model_from_checkpoint(str(tmp_path))
    # A reference among the Enformer bindings is refused, not evaluated.
    (tmp_path / OPERATIVE_CONFIG_FILE).write_text(
        OPERATIVE_CONFIG.format(planted=planted) +
        f'enformer_tf.Enformer.channels = @{planted}.function()\n')
    with pytest.raises(ValueError, match='cannot be resolved'):
      io.model_from_checkpoint(str(tmp_path))
  for variable, expected in zip(restored.variables, model.variables):
    np.testing.assert_array_equal(variable.numpy(), expected.numpy())
  assert traces(markers) == []
  assert modules_from(tmp_path) == []
  assert log.code_from(tmp_path) == [] and log.unpickled() == []
