"""Rebuilding an Enformer from a training directory.

The `Trainer` writes, beside the checkpoints, `model_config.json`
(`write_model_config`: the model's `get_config()`, new heads included, and
its LoRA adapters, `layers.lora.lora_config`) and `operative_config.gin`
(the run's gin bindings). The model is rebuilt from `model_config.json`, or,
in directories written before it existed, from the `Enformer` bindings of
the gin config, without running the training code; its weights are restored
from the newest checkpoint. A fine-tuning run (`Trainer.model =
@finetune_model`) has only the former: its gin config binds the fine-tuning
function, not `Enformer`.
"""
import json
import os
from typing import Any, Dict

import tensorflow as tf
import tf_keras as keras

from enformer_tf.atomic import write_atomically
from enformer_tf.constants import MODEL_CONFIG, OPERATIVE_CONFIG
from enformer_tf.layers import lora as lora_lib
from enformer_tf.model import Enformer

MODEL_CONFIG_FORMAT = 1


class _GinValue:
  """A `@reference` or `%macro` in a gin file, resolved after parsing."""

  def __init__(self, kind: str, name: str):
    self.kind, self.name = kind, name

  def __repr__(self):
    return f'{self.kind}{self.name}'


def _gin_delegate():
  from gin import config_parser

  class Delegate(config_parser.ParserDelegate):

    def configurable_reference(self, scoped_name, evaluate):
      return _GinValue('@', scoped_name + ('()' if evaluate else ''))

    def macro(self, macro_name):
      return _GinValue('%', macro_name)

  return Delegate()


def enformer_kwargs_from_gin(text: str, source: str = 'the gin config'
                             ) -> Dict[str, object]:
  """The `Enformer` constructor arguments bound in a gin config.

  Reads bindings whose configurable is `Enformer` under any module path
  (`Enformer.x`, `enformer_tf.Enformer.x`, `enformer_tf.model.Enformer.x`),
  resolving `%MACRO`s; a scoped binding (`scope/Enformer.x`) overrides the
  unscoped one. Nothing is registered with gin.

  Args:
    text: the config (e.g. an `operative_config.gin`).
    source: where it came from, for messages.

  Returns:
    keyword -> value.

  Raises:
    ValueError: no `Enformer` bindings, bindings under several scopes, a
      configurable reference (`@...`) or an undefined macro as a value.
  """
  from gin import config_parser

  macros, bindings = {}, {}
  for statement in config_parser.ConfigParser(text, _gin_delegate()):
    if not isinstance(statement, config_parser.BindingStatement):
      continue
    if not statement.arg_name:
      name = (f'{statement.scope}/{statement.selector}' if statement.scope
              else statement.selector)
      macros[name] = statement.value
    elif statement.selector.split('.')[-1] == 'Enformer':
      bindings.setdefault(statement.scope, {})[statement.arg_name] = (
          statement.value)
  if not bindings:
    raise ValueError(f'{source} binds no Enformer parameters (expected lines '
                     'like `Enformer.channels = 1536`).')
  scopes = sorted(s for s in bindings if s)
  if len(scopes) > 1:
    raise ValueError(f'{source} binds Enformer under several scopes '
                     f'{scopes}; cannot tell which model was trained.')
  kwargs = dict(bindings.get('', {}))
  if scopes:
    kwargs.update(bindings[scopes[0]])

  def resolve(value, arg):
    if isinstance(value, _GinValue):
      if value.kind == '%' and value.name in macros:
        return resolve(macros[value.name], arg)
      raise ValueError(
          f'{source} binds Enformer.{arg} = {value!r}, which cannot be '
          'resolved without running the training code; bind a literal.')
    if isinstance(value, (list, tuple)):
      return type(value)(resolve(v, arg) for v in value)
    if isinstance(value, dict):
      return {k: resolve(v, arg) for k, v in value.items()}
    return value

  return {arg: resolve(value, arg) for arg, value in kwargs.items()}


def model_config(model: Enformer) -> Dict[str, Any]:
  """What `write_model_config` writes: `format`, `class_name`, `config`
  (`model.get_config()`) and `lora` (`layers.lora.lora_config`)."""
  return dict(format=MODEL_CONFIG_FORMAT, class_name=type(model).__name__,
              config=model.get_config(), lora=lora_lib.lora_config(model))


def write_model_config(directory: str, model: keras.Model) -> bool:
  """Writes `directory/model_config.json` for an `Enformer` (atomically).

  Returns:
    Whether it was written (other models have no such config).
  """
  if not isinstance(model, Enformer):
    return False
  text = json.dumps(model_config(model), indent=1, sort_keys=True)
  write_atomically(os.path.join(directory, MODEL_CONFIG), text + '\n')
  return True


def model_from_config_file(path: str) -> Enformer:
  """The built model a `model_config.json` describes, its adapters applied
  (weights fresh: restore a checkpoint into it).

  Raises:
    ValueError: not a model config of a known format, or one whose
      arguments or adapters do not fit `Enformer`.
  """
  try:
    with open(path, encoding='utf-8') as f:
      spec = json.load(f)
  except ValueError as e:
    raise ValueError(f'{path} is not JSON: {e}') from e
  if not isinstance(spec, dict) or spec.get('format') != MODEL_CONFIG_FORMAT:
    raise ValueError(f'{path} is not a model config of format '
                     f'{MODEL_CONFIG_FORMAT} (written by enformer_tf\'s '
                     'Trainer).')
  if spec.get('class_name') != 'Enformer':
    raise ValueError(f'{path} describes a {spec.get("class_name")!r}, not an '
                     'Enformer.')
  try:
    model = Enformer.from_config(spec['config'])
  except (KeyError, TypeError, ValueError) as e:
    raise ValueError(f'{path} holds Enformer arguments it does not take: '
                     f'{e}') from e
  model.build(tf.TensorShape([None, model.sequence_length, 4]))
  lora_lib.restore_lora(model, spec.get('lora') or [])
  return model


def _model_from_gin(config_path: str) -> Enformer:
  with open(config_path, encoding='utf-8') as f:
    kwargs = enformer_kwargs_from_gin(f.read(), config_path)
  try:
    model = Enformer(**kwargs)
  except TypeError as e:
    raise ValueError(f'{config_path} binds Enformer arguments it does not '
                     f'take: {e}') from e
  model.build(tf.TensorShape([None, model.sequence_length, 4]))
  return model


def model_from_checkpoint(checkpoint_dir: str) -> keras.Model:
  """Rebuilds an Enformer from a training directory and restores its weights.

  The directory is what `enformer_tf.train.Trainer` writes:
  `model_config.json` and `operative_config.gin` (module docstring) beside
  `tf.train.CheckpointManager` checkpoints of `tf.train.Checkpoint(step=...,
  model=..., optimizer=...)`. The model is built from `model_config.json`
  if there is one, else from the gin config's `Enformer` bindings. The
  latest checkpoint is restored; only the `model` branch is read, and every
  model variable must be found in it. LoRA adapters are restored and then
  merged (`layers.lora.merge_lora`): the model returned is a plain Enformer
  with the run's outputs, ready to save or export.

  Args:
    checkpoint_dir: the training directory, or one checkpoint's prefix
      (`DIR/ckpt-1000`) with the configs beside it.

  Returns:
    The built Enformer with the checkpoint's weights.

  Raises:
    FileNotFoundError: no checkpoint, or neither config file.
    ValueError: the config describes no usable Enformer, or the checkpoint
      does not match the model it describes.
  """
  checkpoint_dir = os.fspath(checkpoint_dir)
  if os.path.isdir(checkpoint_dir):
    directory = checkpoint_dir
    checkpoint = tf.train.latest_checkpoint(checkpoint_dir)
    if checkpoint is None:
      raise FileNotFoundError(
          f'No checkpoint in {checkpoint_dir} (expected a `checkpoint` state '
          'file written by tf.train.CheckpointManager).')
  elif tf.io.gfile.exists(checkpoint_dir + '.index'):
    directory, checkpoint = os.path.dirname(checkpoint_dir), checkpoint_dir
  else:
    raise FileNotFoundError(f'{checkpoint_dir} is neither a training '
                            'directory nor a checkpoint prefix.')
  config_path = os.path.join(directory, MODEL_CONFIG)
  if os.path.exists(config_path):
    model = model_from_config_file(config_path)
  else:
    config_path = os.path.join(directory, OPERATIVE_CONFIG)
    if not os.path.exists(config_path):
      raise FileNotFoundError(
          f'No {MODEL_CONFIG} or {OPERATIVE_CONFIG} in {directory}: the '
          'model\'s architecture is read from the config saved beside the '
          'checkpoints.')
    model = _model_from_gin(config_path)
  if model.sequence_length is None:
    raise ValueError(f'{config_path} gives Enformer sequence_length = None; '
                     'an export needs a fixed input length.')
  try:
    status = tf.train.Checkpoint(model=model).restore(checkpoint)
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError) as e:
    raise ValueError(
        f'Checkpoint {checkpoint} does not hold every variable of the model '
        f'described by {config_path} with the same shape: '
        f'{str(e).strip().splitlines()[0]}') from e
  status.expect_partial()  # The optimizer and step are not needed.
  lora_lib.merge_lora(model)
  return model
