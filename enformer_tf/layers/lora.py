"""Low-rank adapters (LoRA) on the transformer's Dense projections.

Hu et al. 2021, "LoRA: Low-rank adaptation of large language models": a
frozen `Dense` with kernel `W` becomes

    y = x W + b + (alpha / rank) * dropout(x) A B

with `A` `[in, rank]` (random, stddev `1/sqrt(in)`) and `B` `[rank, out]`
(zeros), so an adapted model starts as the model it adapts. Only `A` and `B`
train. `merge_lora` folds `(alpha / rank) A B` into `W` and puts the plain
`Dense` back: the same outputs, no extra cost, and a model that saves and
exports like any other.

  apply_lora(model, rank=8, alpha=16, targets=('attention', 'mlp'))
  ...train...
  merge_lora(model)

Targets, per transformer block: `q`, `k`, `v`, `output` (the attention's
`q_layer`, `k_layer`, `v_layer`, `embedding_layer`), `mlp1`, `mlp2`
(`mlp_linear1`, `mlp_linear2`); `attention` is the first four, `mlp` the
last two.

Saving an adapted model:
- training checkpoints (`tf.train.Checkpoint`) hold the adapters; they
  restore into a model adapted the same way (`lora_config` records how,
  `restore_lora` re-applies it; `enformer-train` writes it beside the
  checkpoints, so `enformer_tf.load_model` reopens the run);
- `.keras` files and Keras weight files hold the *merged* weights: an
  adapter saves the kernel `W + (alpha / rank) A B` where its `Dense` would
  save its kernel, and the model's config (which does not record adapters)
  is the plain model's, so the file loads as a plain model with the same
  outputs;
- `merged_model(model)` is a merged plain copy (SavedModel export uses it).
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from enformer_tf.layers.attention import MultiheadAttention
from enformer_tf.layers.recompute import RecomputableDropout
from enformer_tf.layers.sublayers import build_sublayer
from enformer_tf.layers.transformer_block import TransformerBlock

# target -> (which object of the block holds it, attribute name).
TARGETS = {'q': ('mha', 'q_layer'), 'k': ('mha', 'k_layer'),
           'v': ('mha', 'v_layer'), 'output': ('mha', 'embedding_layer'),
           'mlp1': ('block', 'mlp_linear1'), 'mlp2': ('block', 'mlp_linear2')}
TARGET_GROUPS = {'attention': ('q', 'k', 'v', 'output'),
                 'mlp': ('mlp1', 'mlp2')}


@keras.saving.register_keras_serializable(package='enformer_tf')
class LoRADense(keras.layers.Layer):
  """A frozen `keras.layers.Dense` plus a trainable low-rank update.

  Args:
    layer: the `Dense` to adapt (linear: no activation); frozen here.
    rank: rank `r` of the update.
    alpha: scale numerator: the update is multiplied by `alpha / rank`.
    dropout_rate: dropout on the adapter's input (training only).

  Call args:
    inputs: `[..., in]`.
    training: enables the adapter's dropout.

  Returns:
    `[..., out]`: `layer(inputs) + (alpha / rank) dropout(inputs) A B`.
  """

  def __init__(self, layer: keras.layers.Dense, rank: int = 8,
               alpha: float = 16.0, dropout_rate: float = 0.0, **kwargs):
    if not isinstance(layer, keras.layers.Dense):
      raise ValueError(f'LoRADense wraps a keras.layers.Dense, got '
                       f'{type(layer).__name__}.')
    if layer.activation not in (None, keras.activations.linear):
      raise ValueError(f'LoRADense needs a linear Dense; {layer.name} has '
                       f'activation {layer.activation.__name__}.')
    if int(rank) != rank or rank < 1:
      raise ValueError(f'rank must be a positive integer, got {rank!r}.')
    if not alpha > 0:
      raise ValueError(f'alpha must be positive, got {alpha!r}.')
    if not 0.0 <= dropout_rate < 1.0:
      raise ValueError(f'dropout_rate must be in [0, 1), got '
                       f'{dropout_rate!r}.')
    kwargs.setdefault('name', f'lora_{layer.name}')
    kwargs.setdefault('dtype', layer.dtype_policy)
    super().__init__(**kwargs)
    self.layer = layer
    self.layer.trainable = False
    self.rank = int(rank)
    self.alpha = float(alpha)
    self.dropout_rate = float(dropout_rate)
    self.dropout = RecomputableDropout(self.dropout_rate,
                                       dtype=self.dtype_policy)

  @property
  def scale(self) -> float:
    return self.alpha / self.rank

  def build(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    build_sublayer(self.layer, input_shape)
    fan_in = int(self.layer.kernel.shape[0])
    units = int(self.layer.kernel.shape[1])
    self.lora_a = self.add_weight(
        'lora_a', shape=[fan_in, self.rank],
        initializer=keras.initializers.RandomNormal(stddev=fan_in**-0.5))
    self.lora_b = self.add_weight('lora_b', shape=[self.rank, units],
                                  initializer='zeros')
    super().build(input_shape)

  def call(self, inputs, training=None):
    x = self.dropout(inputs, training=training)
    update = tf.matmul(tf.matmul(x, tf.cast(self.lora_a, x.dtype)),
                       tf.cast(self.lora_b, x.dtype))  # [..., out]
    return self.layer(inputs) + tf.cast(self.scale, x.dtype) * update

  def delta(self) -> tf.Tensor:
    """The kernel update `(alpha / rank) A B`, `[in, out]`."""
    return self.scale * tf.matmul(self.lora_a, self.lora_b)

  def merge(self) -> keras.layers.Dense:
    """Adds the update to the wrapped kernel; returns the (trainable) Dense.

    The wrapper must not be used afterwards: its layer now includes the
    update.
    """
    self.layer.kernel.assign(self.layer.kernel + tf.cast(
        self.delta(), self.layer.kernel.dtype))
    self.layer.trainable = True
    return self.layer

  def merged_weights(self) -> List[tf.Tensor]:
    """The wrapped Dense's weights with the update folded in (not assigned):
    `[kernel + (alpha / rank) A B, bias]` (no bias if it has none)."""
    kernel = self.layer.kernel + tf.cast(self.delta(), self.layer.kernel.dtype)
    return [kernel] + ([self.layer.bias] if self.layer.use_bias else [])

  def save_own_variables(self, store):
    # Where the Dense's own weights go in a `.keras` or weights file: the
    # merged kernel and the bias, in the Dense's order. The model's config
    # names a plain Dense here, which loads them (module docstring).
    for i, value in enumerate(self.merged_weights()):
      store[f'{i}'] = value.numpy()

  def load_own_variables(self, store):
    raise ValueError(
        f'{self.name}: Keras weight files hold the merged weights of LoRA '
        'adapters, which cannot be split into base and adapter again. Load '
        'the file into a model without adapters (enformer_tf.load_model), '
        'or restore a training checkpoint to go on training the adapters.')

  def compute_output_shape(self, input_shape):
    return self.layer.compute_output_shape(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update(layer=keras.layers.serialize(self.layer), rank=self.rank,
                  alpha=self.alpha, dropout_rate=self.dropout_rate)
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config['layer'] = keras.layers.deserialize(config['layer'])
    return cls(**config)


def expand_targets(targets: Sequence[str]) -> List[str]:
  """`('attention', 'mlp2')` -> `['q', 'k', 'v', 'output', 'mlp2']`."""
  if isinstance(targets, str):
    targets = [targets]
  names = []
  for target in targets:
    for name in TARGET_GROUPS.get(target, (target,)):
      if name not in TARGETS:
        raise ValueError(
            f'Unknown LoRA target {target!r}: expected some of '
            f'{sorted(TARGETS)} or the groups {sorted(TARGET_GROUPS)}.')
      if name not in names:
        names.append(name)
  if not names:
    raise ValueError('LoRA targets are empty: name at least one of '
                     f'{sorted(TARGETS)} or {sorted(TARGET_GROUPS)}.')
  return names


def transformer_blocks(root: keras.layers.Layer) -> List[TransformerBlock]:
  """The transformer blocks under `root`, in call order."""
  return [m for m in root._flatten_layers(include_self=True)  # pylint: disable=protected-access
          if isinstance(m, TransformerBlock)]


def _holder(block: TransformerBlock, where: str) -> keras.layers.Layer:
  return block.mha if where == 'mha' else block


def apply_lora(root: keras.layers.Layer, rank: int = 8, alpha: float = 16.0,
               dropout_rate: float = 0.0,
               targets: Sequence[str] = ('attention', 'mlp'),
               blocks: Optional[Sequence[int]] = None) -> List[LoRADense]:
  """Wraps the chosen Dense layers of the transformer blocks in `LoRADense`.

  Args:
    root: a built model (or layer) holding `TransformerBlock`s.
    rank, alpha, dropout_rate: see `LoRADense`.
    targets: projection names or groups (module docstring).
    blocks: indices of the blocks to adapt (negative from the end); all if
      None.

  Returns:
    The new adapters. Their base kernels are frozen; the rest of the model's
    trainability is left as it was (`train.finetune` freezes the trunk).
  """
  names = expand_targets(targets)
  all_blocks = transformer_blocks(root)
  if not all_blocks:
    raise ValueError(f'{root.name} has no transformer blocks to adapt.')
  if blocks is None:
    chosen = all_blocks
  else:
    chosen = []
    for index in blocks:
      if int(index) != index or not -len(all_blocks) <= index < len(
          all_blocks):
        raise ValueError(f'LoRA block index {index!r} is out of range for '
                         f'{len(all_blocks)} transformer blocks.')
      chosen.append(all_blocks[int(index)])
  adapters = []
  for block in chosen:
    for name in names:
      where, attribute = TARGETS[name]
      holder = _holder(block, where)
      layer = getattr(holder, attribute)
      if isinstance(layer, LoRADense):
        raise ValueError(f'{block.name}/{layer.name} already has a LoRA '
                         'adapter.')
      if not layer.built:
        raise ValueError(f'Build the model before adding adapters '
                         f'({block.name}/{layer.name} is not built).')
      adapter = LoRADense(layer, rank=rank, alpha=alpha,
                          dropout_rate=dropout_rate)
      with tf.name_scope(block.name):
        build_sublayer(adapter, [None, int(layer.kernel.shape[0])])
      setattr(holder, attribute, adapter)
      adapters.append(adapter)
  return adapters


def lora_layers(root: keras.layers.Layer) -> List[LoRADense]:
  """The `LoRADense` adapters under `root`."""
  return [m for m in root._flatten_layers(include_self=True)  # pylint: disable=protected-access
          if isinstance(m, LoRADense)]


def merge_lora(root: keras.layers.Layer) -> int:
  """Folds every adapter under `root` into its Dense and unwraps it.

  Returns:
    The number of adapters merged.
  """
  merged = 0
  for block in transformer_blocks(root):
    for where, attribute in TARGETS.values():
      holder = _holder(block, where)
      layer = getattr(holder, attribute)
      if isinstance(layer, LoRADense):
        setattr(holder, attribute, layer.merge())
        merged += 1
  return merged


def lora_summary(root: keras.layers.Layer) -> Dict[str, int]:
  """Adapters and their parameters under `root`."""
  adapters = lora_layers(root)
  return dict(adapters=len(adapters),
              parameters=sum(int(tf.size(a.lora_a)) + int(tf.size(a.lora_b))
                             for a in adapters))


def lora_config(root: keras.layers.Layer) -> List[Dict[str, Any]]:
  """How the adapters under `root` were applied, for `restore_lora`.

  Returns:
    One entry per adapter, in block and `TARGETS` order: `block` (index
    among the transformer blocks), `target` (a `TARGETS` name), `rank`,
    `alpha`, `dropout_rate`. Empty without adapters. JSON-serialisable.
  """
  config = []
  for index, block in enumerate(transformer_blocks(root)):
    for target, (where, attribute) in TARGETS.items():
      layer = getattr(_holder(block, where), attribute)
      if isinstance(layer, LoRADense):
        config.append(dict(block=index, target=target, rank=layer.rank,
                           alpha=layer.alpha,
                           dropout_rate=layer.dropout_rate))
  return config


def restore_lora(root: keras.layers.Layer,
                 config: Sequence[Mapping[str, Any]]) -> List[LoRADense]:
  """Adapts a built `root` as `lora_config` recorded (fresh adapter weights:
  restore a checkpoint afterwards).

  Raises:
    ValueError: an entry without the `lora_config` keys, or one that does
      not fit `root` (block out of range, unknown target, twice the same).
  """
  keys = ('block', 'target', 'rank', 'alpha', 'dropout_rate')
  adapters = []
  for entry in config:
    if not isinstance(entry, Mapping) or sorted(entry) != sorted(keys):
      raise ValueError(f'A LoRA config entry must have the keys {keys}, '
                       f'got {entry!r}.')
    adapters += apply_lora(root, rank=entry['rank'], alpha=entry['alpha'],
                           dropout_rate=entry['dropout_rate'],
                           targets=[entry['target']], blocks=[entry['block']])
  return adapters


def _assign_merged(source, target, path: str, seen: set) -> int:
  """Assigns `source`'s variables to the same objects of `target`, folding
  each adapter into the plain Dense at its place; returns how many."""
  if id(source) in seen:
    return 0
  seen.add(id(source))
  if isinstance(source, tf.Variable):
    if source.shape != target.shape:
      raise ValueError(f'{path}: shape {source.shape} vs {target.shape} in '
                       'the copy.')
    target.assign(source)
    return 1
  if isinstance(source, LoRADense):
    values = source.merged_weights()
    for variable, value in zip((target.kernel, target.bias), values):
      variable.assign(value)
    return len(values)
  view = tf.train.TrackableView(source)
  target_children = view.children(target)
  assigned = 0
  for name, child in view.children(source).items():
    if name not in target_children:
      raise ValueError(f'{path}/{name} has no counterpart in the copy.')
    assigned += _assign_merged(child, target_children[name],
                               f'{path}/{name}', seen)
  return assigned


def merged_model(model: keras.Model,
                 input_shape: Sequence[Optional[int]] = (None, None, 4)
                 ) -> keras.Model:
  """`model` itself if it has no adapters, else a plain copy with every
  adapter folded into its kernel (the same outputs; `model` is unchanged).

  Args:
    model: a built model whose class rebuilds it from `get_config()` (an
      `Enformer`).
    input_shape: what the copy is built with (one-hot DNA by default).
  """
  # Anything but a Keras layer has no adapters; the caller validates it.
  if not isinstance(model, keras.layers.Layer) or not lora_layers(model):
    return model
  copy = type(model).from_config(model.get_config())
  copy.build(tf.TensorShape(input_shape))
  assigned = _assign_merged(model, copy, model.name, set())
  if assigned != len(copy.variables):
    raise ValueError(f'Merging the adapters of {model.name} set '
                     f'{assigned} of the copy\'s {len(copy.variables)} '
                     'variables: the model is not its config plus adapters.')
  return copy
