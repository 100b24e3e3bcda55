"""Rebuilding an Enformer from a training directory.

`enformer-train` writes `operative_config.gin` (the run's gin bindings, the
`Enformer` constructor arguments among them) beside the checkpoints; the
model is rebuilt from those bindings, without running the training code, and
its weights restored from the newest checkpoint.
"""
import os
from typing import Dict

import tensorflow as tf
import tf_keras as keras

from enformer_tf.constants import OPERATIVE_CONFIG
from enformer_tf.model import Enformer


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


def model_from_checkpoint(checkpoint_dir: str) -> keras.Model:
  """Rebuilds an Enformer from a training directory and restores its weights.

  The directory is what `enformer_tf.train.Trainer` writes:
  `operative_config.gin` (the gin bindings of the run, including the
  `Enformer` constructor arguments) beside `tf.train.CheckpointManager`
  checkpoints of `tf.train.Checkpoint(step=..., model=..., optimizer=...)`.
  The latest checkpoint is restored; only the `model` branch is read, and
  every model variable must be found in it.

  Args:
    checkpoint_dir: the training directory, or one checkpoint's prefix
      (`DIR/ckpt-1000`) with the operative config beside it.

  Returns:
    The built Enformer with the checkpoint's weights.

  Raises:
    FileNotFoundError: no checkpoint or no `operative_config.gin`.
    ValueError: the config binds no usable `Enformer` arguments, or the
      checkpoint does not match the model it describes.
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
  config_path = os.path.join(directory, OPERATIVE_CONFIG)
  if not os.path.exists(config_path):
    raise FileNotFoundError(
        f'No {OPERATIVE_CONFIG} in {directory}: the model\'s architecture '
        'is read from the gin config saved beside the checkpoints.')
  with open(config_path, encoding='utf-8') as f:
    kwargs = enformer_kwargs_from_gin(f.read(), config_path)
  try:
    model = Enformer(**kwargs)
  except TypeError as e:
    raise ValueError(f'{config_path} binds Enformer arguments it does not '
                     f'take: {e}') from e
  if model.sequence_length is None:
    raise ValueError(f'{config_path} binds Enformer.sequence_length = None; '
                     'an export needs a fixed input length.')
  model.build(tf.TensorShape([None, model.sequence_length, 4]))
  try:
    status = tf.train.Checkpoint(model=model).restore(checkpoint)
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError) as e:
    raise ValueError(
        f'Checkpoint {checkpoint} does not hold every variable of the model '
        f'described by {config_path} with the same shape: '
        f'{str(e).strip().splitlines()[0]}') from e
  status.expect_partial()  # The optimizer and step are not needed.
  return model
