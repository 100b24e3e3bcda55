"""Import the official Enformer weights into an `Enformer`.

DeepMind published the trained model as a Sonnet checkpoint
(`enformer-fine-tuned-human-1.{index,data-00000-of-00001}`), written by
`tf.train.Checkpoint(module=Enformer())` of deepmind-research
`enformer/enformer.py`. Its keys follow the Sonnet object graph, e.g.
`module/_trunk/_layers/0/_layers/0/w/.ATTRIBUTES/VARIABLE_VALUE` for the stem
convolution. This module reads such a checkpoint with TensorFlow's own
checkpoint reader (no Sonnet needed), maps every variable onto our layer tree,
checks every shape, and only then assigns: a checkpoint that does not fit is
reported name by name and nothing is loaded.

A live or restored reference model can be imported too, through its
variables' `Variable.name`s (`enformer/trunk/stem/conv1_d/w:0`, ...); see
`load_deepmind_variables`.

Mapping onto our layer tree (checkpoint keys below `module/`; the
`Variable.name` rules are `_NAME_RULES` below):

- stem `conv1_d`: `_trunk/_layers/0/_layers/0/{w,b}` -> kernel, bias.
- each ConvBlock `<b>` (stem `_trunk/_layers/0/_layers/1/_module`; tower
  block i `_trunk/_layers/1/_layers/i/_layers/0` and `.../1/_module`; final
  `_trunk/_layers/4/_layers/0`): `<b>/_layers/0/{scale,offset}` -> batch_norm
  gamma, beta; `<b>/_layers/0/moving_{mean,variance}/average` -> moving_mean,
  moving_variance; `<b>/_layers/2/{w,b}` -> conv kernel, bias.
- SoftmaxPooling1D: `.../_layers/2/_logit_linear/w` -> `logit_linear` kernel.
- transformer block i, `<t>` = `_trunk/_layers/2/_layers/i/_layers`:
  `<t>/0/_module/_layers/0/{scale,offset}` -> `mha_layer_norm`;
  `<t>/0/_module/_layers/1/_{q,k,v,r_k}_layer/w`, `_embedding_layer/{w,b}`,
  `_r_w_bias`, `_r_r_bias` -> `mha`; `<t>/1/_module/_layers/0/...` ->
  `mlp_layer_norm`; `<t>/1/_module/_layers/{1,4}/{w,b}` -> `mlp_linear{1,2}`.
- head: `_heads/<organism>/_layers/0/{w,b}` -> `head_layers[organism]`.

The reference's BatchNorm moving averages are debiased EMAs; only their
`average` (`hidden / (1 - decay**counter)`, what Sonnet uses at inference) is
copied, `hidden` and `counter` are ignored. Sonnet's Conv1D `w`
`[width, in, out]` and Linear `w` `[in, out]` are Keras' kernels as they are;
the moving averages `[1, 1, C]` become `[C]`.

The TF Hub model takes 393,216 bp and crops the central 196,608; an `Enformer`
with `sequence_length=196_608` (the default) does the same.
"""
import dataclasses
import os
import re
from typing import (Any, Callable, Dict, List, Mapping, Optional, Sequence,
                    Tuple, Union)

import numpy as np
import tensorflow as tf
import tf_keras as keras

from enformer_tf.layers import ConvBlock, SoftmaxPooling1D
from enformer_tf.model import (NUM_CONV_TOWER_BLOCKS, Enformer,
                               conv_tower_filters)

PathLike = Union[str, os.PathLike]

_VALUE_SUFFIX = '/.ATTRIBUTES/VARIABLE_VALUE'
_STEM_CONV = '_trunk/_layers/0/_layers/0/w'
_STEM_POOL = '_trunk/_layers/0/_layers/2/_logit_linear/w'
_TOWER = '_trunk/_layers/1/_layers/{i}/_layers'
_TRANSFORMER = '_trunk/_layers/2/_layers/{i}/_layers'
_FINAL_BLOCK = '_trunk/_layers/4/_layers/0'
# The EMA state Sonnet needs to keep averaging; inference only uses `average`.
_UNUSED_KEY = re.compile(r'/moving_(mean|variance)/_(hidden|counter)$')
_MAX_LISTED = 12  # Names per problem kind in an error's first line.

# -- Variable.name -> checkpoint key -------------------------------------------
# Each rule maps a `Variable.name` template (root scope and `:0` removed) to
# the checkpoint key template of its 1st, 2nd, ... occurrence: the reference
# gives the BatchNorm mean and variance EMAs, and the two MLP linears, one name.

_CONV_BLOCK_SCOPES = (
    ('trunk/stem/pointwise_conv_block', '_trunk/_layers/0/_layers/1/_module'),
    ('trunk/conv_tower/conv_tower_block_{i}/conv_block', _TOWER + '/0'),
    ('trunk/conv_tower/conv_tower_block_{i}/pointwise_conv_block',
     _TOWER + '/1/_module'),
    ('trunk/final_pointwise/conv_block', _FINAL_BLOCK),
)
_CONV_BLOCK_PARTS = (
    ('cross_replica_batch_norm/{ln}', ('_layers/0/{ln}',)),
    ('exponential_moving_average/average',
     ('_layers/0/moving_mean/average', '_layers/0/moving_variance/average')),
    ('exponential_moving_average/hidden',
     ('_layers/0/moving_mean/_hidden', '_layers/0/moving_variance/_hidden')),
    ('exponential_moving_average/counter',
     ('_layers/0/moving_mean/_counter', '_layers/0/moving_variance/_counter')),
    ('conv1_d/{p}', ('_layers/2/{p}',)),
)
_BLOCK = 'trunk/transformer/transformer_block_{i}'
_NAME_RULES: Tuple[Tuple[str, Tuple[str, ...]], ...] = tuple(
    (f'{scope}/{part}', tuple(f'{key_scope}/{key}' for key in keys))
    for scope, key_scope in _CONV_BLOCK_SCOPES
    for part, keys in _CONV_BLOCK_PARTS) + (
        ('trunk/stem/conv1_d/{p}', ('_trunk/_layers/0/_layers/0/{p}',)),
        ('trunk/stem/softmax_pooling/linear/w', (_STEM_POOL,)),
        ('trunk/conv_tower/conv_tower_block_{i}/softmax_pooling/linear/w',
         (_TOWER + '/2/_logit_linear/w',)),
        (_BLOCK + '/mha/layer_norm/{ln}',
         (_TRANSFORMER + '/0/_module/_layers/0/{ln}',)),
        (_BLOCK + '/mha/attention_{i}/{proj}/w',
         (_TRANSFORMER + '/0/_module/_layers/1/_{proj}/w',)),
        (_BLOCK + '/mha/attention_{i}/embedding_layer/{p}',
         (_TRANSFORMER + '/0/_module/_layers/1/_embedding_layer/{p}',)),
        (_BLOCK + '/mha/attention_{i}/{bias}',
         (_TRANSFORMER + '/0/_module/_layers/1/_{bias}',)),
        (_BLOCK + '/mlp/layer_norm/{ln}',
         (_TRANSFORMER + '/1/_module/_layers/0/{ln}',)),
        (_BLOCK + '/mlp/linear/{p}',
         (_TRANSFORMER + '/1/_module/_layers/1/{p}',
          _TRANSFORMER + '/1/_module/_layers/4/{p}')),
        ('heads/head_{org}/linear/{p}', ('_heads/{org}/_layers/0/{p}',)),
    )
_FIELDS = {
    'i': r'\d+', 'p': 'w|b', 'ln': 'scale|offset',
    'proj': 'q_layer|k_layer|v_layer|r_k_layer', 'bias': 'r_w_bias|r_r_bias',
    'org': r'[A-Za-z_]\w*',
}


def _template_regex(template: str) -> 're.Pattern':
  """`a/{i}/b_{i}` -> a regex with named groups (repeats must be equal)."""
  pattern, seen = '', set()
  for literal, field in re.findall(r'([^{]*)(?:\{(\w+)\})?', template):
    pattern += re.escape(literal)
    if field:
      pattern += (f'(?P={field})' if field in seen
                  else f'(?P<{field}>{_FIELDS[field]})')
      seen.add(field)
  return re.compile(pattern + '$')


_NAME_REGEXES = [(_template_regex(name), name, keys)
                 for name, keys in _NAME_RULES]
_KEY_REGEXES = [(_template_regex(key), name, index, len(keys))
                for name, keys in _NAME_RULES for index, key in enumerate(keys)]


def _reference_name(key: str) -> str:
  """The `Variable.name` a checkpoint key corresponds to, for messages."""
  for regex, name, index, count in _KEY_REGEXES:
    match = regex.match(key)
    if match:
      name = 'enformer/' + name.format(**match.groupdict()) + ':0'
      return f'{name} (#{index + 1} of {count})' if count > 1 else name
  return key


# -- Sources of values ---------------------------------------------------------


@dataclasses.dataclass
class _Source:
  """Values keyed by checkpoint key (below the root object), with shapes."""
  description: str
  shapes: Dict[str, Tuple[int, ...]]
  read: Callable[[str], np.ndarray]
  display: Callable[[str], str]


def _checkpoint_prefix(path: PathLike) -> str:
  """The checkpoint prefix for a directory, a prefix or one of its files."""
  path = os.fspath(path)
  if tf.io.gfile.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest:
      return latest
    indexes = tf.io.gfile.glob(os.path.join(path, '*.index'))
    if len(indexes) == 1:
      return indexes[0][:-len('.index')]
    raise FileNotFoundError(
        f'No checkpoint in directory {path}: expected a `checkpoint` file or '
        f'exactly one *.index file, found {len(indexes)}.')
  path = re.sub(r'\.(index|data-\d+-of-\d+)$', '', path)
  if not tf.io.gfile.exists(path + '.index'):
    raise FileNotFoundError(
        f'No checkpoint at {path}: {path}.index does not exist (give the '
        f'checkpoint prefix, e.g. /dir/enformer-fine-tuned-human-1, or its '
        f'directory).')
  return path


def _checkpoint_source(path: PathLike) -> _Source:
  prefix = _checkpoint_prefix(path)
  try:
    reader = tf.train.load_checkpoint(prefix)
  except (tf.errors.OpError, ValueError) as error:
    raise ValueError(f'Cannot read checkpoint {prefix}: '
                     f'{str(error).splitlines()[0]}') from error
  all_shapes = reader.get_variable_to_shape_map()
  roots = sorted(k[:-len(_STEM_CONV + _VALUE_SUFFIX)] for k in all_shapes
                 if k.endswith('/' + _STEM_CONV + _VALUE_SUFFIX))
  if len(roots) != 1:
    some = ', '.join(sorted(all_shapes)[:5])
    raise ValueError(
        f'Checkpoint {prefix} does not hold exactly one Enformer written by '
        f'tf.train.Checkpoint(module=Enformer()): expected one key ending in '
        f'{_STEM_CONV + _VALUE_SUFFIX}, found {len(roots)} '
        f'(keys start: {some}).')
  root = roots[0]
  shapes = {}
  for key, shape in all_shapes.items():
    # Keys outside the model (save counters, optimizers) and optimizer slots
    # are not weights.
    if (key.startswith(root) and key.endswith(_VALUE_SUFFIX)
        and '/.OPTIMIZER_SLOT/' not in key):
      shapes[key[len(root):-len(_VALUE_SUFFIX)]] = tuple(shape)
  return _Source(
      description=f'checkpoint {prefix}', shapes=shapes,
      read=lambda key: reader.get_tensor(root + key + _VALUE_SUFFIX),
      display=lambda key: root + key)


def _as_named_values(variables) -> List[Tuple[str, Any]]:
  if hasattr(variables, 'variables') and not isinstance(variables, Mapping):
    variables = variables.variables
  if isinstance(variables, Mapping):
    return list(variables.items())
  named = []
  for item in variables:
    if isinstance(item, tuple) and len(item) == 2:
      named.append(item)
    elif hasattr(item, 'name') and hasattr(item, 'numpy'):
      named.append((item.name, item))
    else:
      raise TypeError('variables must be a module with `.variables`, or '
                      'tf.Variables, or (name, value) pairs; got an item of '
                      f'type {type(item).__name__}.')
  return named


def _variables_source(variables) -> _Source:
  """Keys the reference's variables by checkpoint key via their names."""
  named = _as_named_values(variables)
  by_name: Dict[str, List[np.ndarray]] = {}
  unknown: Dict[str, np.ndarray] = {}
  rules: Dict[str, Tuple[str, Tuple[str, ...], Dict[str, str]]] = {}
  for full_name, value in named:
    value = np.asarray(value)
    name = re.sub(r':\d+$', '', full_name)
    parts = name.split('/', 1)
    if parts[0] not in ('trunk', 'heads') and len(parts) == 2:
      name = parts[1]  # The root module's scope, `enformer` in the reference.
    for regex, _, keys in _NAME_REGEXES:
      match = regex.match(name)
      if match:
        rules[name] = (full_name, keys, match.groupdict())
        by_name.setdefault(name, []).append(value)
        break
    else:
      unknown[full_name] = value
  values: Dict[str, np.ndarray] = {}
  names: Dict[str, str] = {}
  for name, found in by_name.items():
    full_name, keys, fields = rules[name]
    if name.endswith('/mlp/linear/w'):
      # Linear 1 is [C, 2C], linear 2 [2C, C]: the narrower input first.
      found = sorted(found, key=lambda v: v.shape[0] if v.ndim else 0)
    elif name.endswith('/mlp/linear/b'):
      found = sorted(found, key=lambda v: -v.size)  # [2C] then [C].
    if len(found) > len(keys):
      unknown[f'{full_name} (#{len(keys) + 1}.. of {len(found)})'] = found[-1]
    for index, value in enumerate(found[:len(keys)]):
      key = keys[index].format(**fields)
      values[key] = value
      names[key] = full_name + (f' (#{index + 1})' if len(keys) > 1 else '')
  for name, value in unknown.items():
    values[name] = value  # No rule: reported as unexpected by name.
    names[name] = name
  return _Source(
      description='the given variables',
      shapes={k: tuple(v.shape) for k, v in values.items()},
      read=values.__getitem__,
      display=lambda key: names.get(key) or _reference_name(key))


# -- Our layer tree ------------------------------------------------------------

_Target = Tuple[str, tf.Variable, Optional[Tuple[int, ...]]]


def _conv_block_targets(scope: str, block: ConvBlock) -> List[_Target]:
  bn = block.batch_norm
  ema_shape = (1, 1) + tuple(bn.moving_mean.shape)
  return [(f'{scope}/_layers/0/scale', bn.gamma, None),
          (f'{scope}/_layers/0/offset', bn.beta, None),
          (f'{scope}/_layers/0/moving_mean/average', bn.moving_mean, ema_shape),
          (f'{scope}/_layers/0/moving_variance/average', bn.moving_variance,
           ema_shape),
          (f'{scope}/_layers/2/w', block.conv.kernel, None),
          (f'{scope}/_layers/2/b', block.conv.bias, None)]


def _pooling_targets(key: str, pooling: keras.layers.Layer) -> List[_Target]:
  if isinstance(pooling, SoftmaxPooling1D):
    return [(key, pooling.logit_linear.kernel, None)]
  return []  # Max pooling has no weights.


def _dense_targets(scope: str, dense: keras.layers.Dense) -> List[_Target]:
  targets = [(f'{scope}/w', dense.kernel, None)]
  if dense.use_bias:
    targets.append((f'{scope}/b', dense.bias, None))
  return targets


def _model_targets(model: Enformer) -> List[_Target]:
  """(checkpoint key, our variable, source shape if it differs) for all."""
  stem, conv_tower, transformer, _, final_pointwise = model.trunk.layers
  conv, residual, pooling = stem.layers
  targets = [('_trunk/_layers/0/_layers/0/w', conv.kernel, None),
             ('_trunk/_layers/0/_layers/0/b', conv.bias, None)]
  targets += _conv_block_targets('_trunk/_layers/0/_layers/1/_module',
                                 residual.layer)
  targets += _pooling_targets(_STEM_POOL, pooling)
  for i, tower_block in enumerate(conv_tower.layers):
    block, residual, pooling = tower_block.layers
    scope = _TOWER.format(i=i)
    targets += _conv_block_targets(f'{scope}/0', block)
    targets += _conv_block_targets(f'{scope}/1/_module', residual.layer)
    targets += _pooling_targets(f'{scope}/2/_logit_linear/w', pooling)
  for i, block in enumerate(transformer.layers):
    mha_scope = _TRANSFORMER.format(i=i) + '/0/_module/_layers'
    mlp_scope = _TRANSFORMER.format(i=i) + '/1/_module/_layers'
    mha = block.mha
    targets += [(f'{mha_scope}/0/scale', block.mha_layer_norm.gamma, None),
                (f'{mha_scope}/0/offset', block.mha_layer_norm.beta, None)]
    for name in ('q_layer', 'k_layer', 'v_layer', 'r_k_layer',
                 'embedding_layer'):
      if hasattr(mha, name):
        targets += _dense_targets(f'{mha_scope}/1/_{name}', getattr(mha, name))
    if mha.relative_positions:
      targets += [(f'{mha_scope}/1/_r_w_bias', mha.r_w_bias, None),
                  (f'{mha_scope}/1/_r_r_bias', mha.r_r_bias, None)]
    targets += [(f'{mlp_scope}/0/scale', block.mlp_layer_norm.gamma, None),
                (f'{mlp_scope}/0/offset', block.mlp_layer_norm.beta, None)]
    targets += _dense_targets(f'{mlp_scope}/1', block.mlp_linear1)
    targets += _dense_targets(f'{mlp_scope}/4', block.mlp_linear2)
  targets += _conv_block_targets(_FINAL_BLOCK, final_pointwise.layers[0])
  for organism, head in model.head_layers.items():
    targets += _dense_targets(f'_heads/{organism}/_layers/0', head)

  covered = {variable.ref() for _, variable, _ in targets}
  unmapped = [w.name for w in model.weights if w.ref() not in covered]
  if unmapped:
    raise ValueError(f'The converter has no reference weight for these model '
                     f'weights (has the model changed?): {unmapped}.')
  return targets


# -- Loading -------------------------------------------------------------------


class WeightImportError(ValueError):
  """The source does not fit the model; nothing was assigned.

  Attributes:
    missing: source names the model needs but the source lacks.
    unexpected: source names the model has no place for.
    misshaped: `name: source shape vs model shape` entries.
  """

  def __init__(self, description: str, missing: Sequence[str],
               unexpected: Sequence[str], misshaped: Sequence[str]):
    self.missing = list(missing)
    self.unexpected = list(unexpected)
    self.misshaped = list(misshaped)
    problems = []
    for label, names in (('missing', self.missing),
                         ('unexpected', self.unexpected),
                         ('misshaped', self.misshaped)):
      if names:
        shown = '; '.join(names[:_MAX_LISTED])
        more = (f'; ... {len(names) - _MAX_LISTED} more'
                if len(names) > _MAX_LISTED else '')
        problems.append(f'{len(names)} {label} ({shown}{more})')
    lines = [f'{description} does not match the model, nothing was loaded: '
             + ', '.join(problems) + '.']
    for label, names in (('missing', self.missing),
                         ('unexpected', self.unexpected),
                         ('misshaped', self.misshaped)):
      lines += [f'  {label}: {name}' for name in names]
    super().__init__('\n'.join(lines))


def _ensure_built(model: Enformer) -> None:
  if not model.built:
    # Building needs no length: every weight's shape depends on channels.
    model.build(tf.TensorShape([None, None, 4]))


def _load(model: Enformer, source: _Source) -> Enformer:
  if not isinstance(model, Enformer):
    raise TypeError(f'model must be an enformer_tf.Enformer, got '
                    f'{type(model).__name__}.')
  _ensure_built(model)
  targets = _model_targets(model)
  missing, misshaped = [], []
  for key, variable, source_shape in targets:
    expected = source_shape or tuple(variable.shape)
    if key not in source.shapes:
      missing.append(source.display(key))
    elif source.shapes[key] != tuple(expected):
      misshaped.append(f'{source.display(key)}: {list(source.shapes[key])} '
                       f'vs model {list(expected)} ({variable.name})')
  wanted = {key for key, _, _ in targets}
  unexpected = [source.display(key) for key in sorted(source.shapes)
                if key not in wanted and not _UNUSED_KEY.search(key)]
  if missing or unexpected or misshaped:
    raise WeightImportError(source.description, missing, unexpected, misshaped)
  # Read everything before assigning anything.
  values = [np.reshape(source.read(key), variable.shape).astype(
      variable.dtype.as_numpy_dtype) for key, variable, _ in targets]
  for (_, variable, _), value in zip(targets, values):
    variable.assign(value)
  return model


def load_deepmind_checkpoint(model: Enformer,
                             checkpoint_path: PathLike) -> Enformer:
  """Loads DeepMind's Sonnet Enformer checkpoint into `model`.

  Args:
    model: an `Enformer` whose configuration matches the checkpoint (see
      `infer_config_from_checkpoint`); built here if needed.
    checkpoint_path: checkpoint prefix (`.../enformer-fine-tuned-human-1`),
      one of its files, or its directory.

  Returns:
    `model`, with every weight assigned.

  Raises:
    FileNotFoundError: no checkpoint at `checkpoint_path`.
    WeightImportError: a weight is missing, unexpected or misshaped; every such
      name is listed and nothing is assigned.
  """
  return _load(model, _checkpoint_source(checkpoint_path))


def load_deepmind_variables(model: Enformer, variables) -> Enformer:
  """Loads weights from variables named like the reference's.

  Args:
    model: an `Enformer` whose configuration matches; built here if needed.
    variables: a reference `Enformer` Sonnet module (anything with
      `.variables`), an iterable of `tf.Variable`s, or `(name, value)` pairs,
      named like `enformer/trunk/stem/conv1_d/w:0`. The BatchNorm mean and
      variance EMAs share a name: the mean must come first, as the reference
      creates and lists it. The two MLP linears share a name too and are told
      apart by shape.

  Returns:
    `model`, with every weight assigned.

  Raises:
    WeightImportError: as `load_deepmind_checkpoint`.
  """
  return _load(model, _variables_source(variables))


# -- Configuration -------------------------------------------------------------


def _tower_divisor(channels: int, filters: List[int]) -> int:
  """A `conv_tower_divisible_by` that reproduces `filters` (128 preferred)."""
  for divisor in [128] + list(range(channels // 2, 0, -1)):
    if conv_tower_filters(channels, divisor) == filters:
      return divisor
  raise ValueError(
      f'The conv tower filters {filters} are not C/2..C exponentially spaced '
      f'and rounded for channels={channels}; Enformer cannot reproduce them.')


def _infer_config(source: _Source) -> Dict[str, Any]:
  shapes = source.shapes

  def shape_of(key):
    if key not in shapes:
      raise ValueError(f'{source.description} lacks {source.display(key)}, '
                       f'needed to infer the model configuration.')
    return shapes[key]

  channels = 2 * shape_of(_STEM_CONV)[-1]
  config: Dict[str, Any] = dict(channels=channels)
  num_tower_blocks = len({m.group(1) for k in shapes for m in [
      re.match(r'_trunk/_layers/1/_layers/(\d+)/', k)] if m})
  if num_tower_blocks != NUM_CONV_TOWER_BLOCKS:
    raise ValueError(f'{source.description} has {num_tower_blocks} conv tower '
                     f'blocks; Enformer has {NUM_CONV_TOWER_BLOCKS}.')
  filters = [shape_of(_TOWER.format(i=i) + '/0/_layers/2/w')[-1]
             for i in range(NUM_CONV_TOWER_BLOCKS)]
  config['conv_tower_divisible_by'] = _tower_divisor(channels, filters)
  config['pooling_type'] = 'attention' if _STEM_POOL in shapes else 'max'
  num_layers = len({m.group(1) for k in shapes for m in [
      re.match(r'_trunk/_layers/2/_layers/(\d+)/', k)] if m})
  config['num_transformer_layers'] = num_layers
  if num_layers:
    attention = _TRANSFORMER.format(i=0) + '/0/_module/_layers/1'
    _, num_heads, _, key_size = shape_of(f'{attention}/_r_w_bias')
    config.update(
        num_heads=num_heads, key_size=key_size,
        num_relative_position_features=shape_of(
            f'{attention}/_r_k_layer/w')[0])
  heads = {}
  for key, shape in shapes.items():
    match = re.match(r'_heads/(\w+)/_layers/0/w$', key)
    if match:
      heads[match.group(1)] = shape[-1]
  if not heads:
    raise ValueError(f'{source.description} has no heads (keys like '
                     f'_heads/human/_layers/0/w).')
  config['heads'] = dict(sorted(heads.items()))
  return config


def infer_config_from_checkpoint(checkpoint_path: PathLike) -> Dict[str, Any]:
  """`Enformer` arguments read off a DeepMind checkpoint's shapes.

  Returns `channels`, `num_transformer_layers`, `num_heads`, `key_size`,
  `num_relative_position_features`, `pooling_type`, `heads` (organism ->
  tracks) and `conv_tower_divisible_by`. Input and crop lengths are not stored
  in a checkpoint: the `Enformer` defaults (196,608 bp, 896 bins) are the
  published model's.
  """
  return _infer_config(_checkpoint_source(checkpoint_path))


def infer_config_from_variables(variables) -> Dict[str, Any]:
  """`infer_config_from_checkpoint` for variables named like the reference's."""
  return _infer_config(_variables_source(variables))


def _from_source(source: _Source, model_kwargs) -> Enformer:
  config = _infer_config(source)
  config.update(model_kwargs)
  return _load(Enformer(**config), source)


def enformer_from_deepmind_checkpoint(checkpoint_path: PathLike,
                                      **model_kwargs) -> Enformer:
  """An `Enformer` with DeepMind's weights, its configuration inferred.

  Args:
    checkpoint_path: as in `load_deepmind_checkpoint`.
    **model_kwargs: `Enformer` arguments; they override the inferred ones
      (e.g. `sequence_length`, `target_length`, dropout rates).

  Returns:
    A built `Enformer` with every weight loaded. For the official checkpoint
    it predicts like the TF Hub model: give it 393,216 bp and it keeps the
    central 196,608.
  """
  return _from_source(_checkpoint_source(checkpoint_path), model_kwargs)


def enformer_from_deepmind_variables(variables, **model_kwargs) -> Enformer:
  """`enformer_from_deepmind_checkpoint` for reference-named variables."""
  return _from_source(_variables_source(variables), model_kwargs)
