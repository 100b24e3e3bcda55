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
last two. The wrapped model's own config does not record the adapters:
checkpoints of it restore into a model adapted the same way; merge before
saving a `.keras` file or exporting.
"""
from typing import Dict, List, Optional, Sequence

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
