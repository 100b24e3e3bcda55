"""Enformer: stem -> conv tower -> transformer -> crop -> final pointwise -> heads.

Avsec et al., "Effective gene expression prediction from sequence by
integrating long-range interactions", Nature Methods 18, 1196-1203 (2021).
The layer tree mirrors deepmind-research `enformer/enformer.py`
(`trunk/stem`, `trunk/conv_tower/conv_tower_block_{i}`,
`trunk/transformer/transformer_block_{i}`, `trunk/final_pointwise`,
`head_{organism}`), so converting the official weights is a table.
"""
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

from enformer_tf import chunked_inference, positional
from enformer_tf.constants import (BIN_SIZE, DEFAULT_HEADS,  # noqa: F401
                                   SEQUENCE_LENGTH, TARGET_LENGTH)
from enformer_tf.layers import (ConvBlock, Residual, TargetLengthCrop1D,
                                TransformerBlock, gelu, pooling_layer,
                                recompute_grad)
from enformer_tf.layers.convolution import validate_implementation
from enformer_tf.layers.initializers import sonnet_default_initializer
from enformer_tf.layers.precision import at_least_float32
from enformer_tf.layers.sublayers import (build_by_shape, build_sublayer,
                                          sequential)

NUM_CONV_TOWER_BLOCKS = 6


def exponential_linspace_int(start: int, end: int, num: int,
                             divisible_by: int = 1) -> List[int]:
  """`num` integers from `start` to `end`, spaced exponentially, rounded."""
  def _round(x):
    return int(np.round(x / divisible_by) * divisible_by)
  base = np.exp(np.log(end / start) / (num - 1))
  return [_round(start * base**i) for i in range(num)]


def conv_tower_filters(channels: int, divisible_by: int = 128) -> List[int]:
  """Filters of the six conv-tower blocks: C/2 .. C, exponentially spaced."""
  return exponential_linspace_int(channels // 2, channels,
                                  NUM_CONV_TOWER_BLOCKS, divisible_by)


@keras.saving.register_keras_serializable(package='enformer_tf')
class Enformer(keras.Model):
  """Enformer: one-hot DNA `[B, L, 4]` -> `{organism: [B, bins, tracks]}`.

  Args:
    channels: model width `C` (1536 in the paper).
    num_transformer_layers: transformer blocks (11).
    num_heads: attention heads (8); `C / num_heads` is the value size.
    pooling_type: `'attention'` (softmax pooling, the paper) or `'max'`.
    heads: organism -> number of output tracks.
    target_length: bins kept by the central crop; `None` keeps all.
    sequence_length: the model's input length; longer inputs (e.g. the TF Hub
      model's 393,216 bp) are centre-cropped to it, `None` never crops.
    dropout_rate: dropout in the transformer (0.4).
    attention_dropout_rate: dropout on attention weights (0.05).
    positional_dropout_rate: dropout on positional features (0.01).
    final_dropout_rate: dropout after the final pointwise block (0.05).
    mlp_zero_initialize: start each transformer block's MLP output
      projection at zero (like its attention output), so that the
      transformer is the identity at initialisation. `False` is the
      reference's initialisation, and converted weights overwrite it either
      way; `True` is for training small models from scratch (README,
      "Long range").
    key_size: attention key/query size per head (64).
    num_relative_position_features: relative basis size; `None` is
      `C / num_heads` as in the paper (192).
    relative_position_functions: relative basis classes.
    conv_tower_divisible_by: conv-tower filters are rounded to multiples of
      this (128 in the paper; narrow test models need smaller values).
    synchronized_batch_norm: reduce BatchNorm statistics across replicas.
    mixed_bfloat16: compute in bfloat16 with float32 variables (Keras'
      `mixed_bfloat16` policy for every layer but the heads), whatever the
      global policy. Softmaxes (attention, pooling), BatchNorm and LayerNorm
      statistics, the positional basis and the heads stay in float32; see
      the comments where each is cast. `False` follows the global policy,
      or Keras' `dtype` argument: `dtype='float64'` gives a float64 model
      throughout (slow; for checking gradients against finite differences).
    recompute_grad: in training, keep only the inputs of the stem, of each
      conv-tower block and of each transformer block for the backward pass
      and recompute their activations there (`layers.recompute_grad`): less
      memory for about one more forward pass. Inference is unchanged.
    conv_implementation: how the conv blocks' convolutions are computed
      (`layers.convolution`): `'auto'` (from 512 channels, matrix products
      of shifted views for both passes, where oneDNN's float32 convolution
      ran at a half (forward) to a quarter (backward) of the `tf.matmul`
      rate, keeping oneDNN's AMX convolution for the bfloat16 forward pass
      at width 5; narrower convolutions are TensorFlow's), `'conv'`
      (TensorFlow's throughout) or `'matmul'` (products throughout). The
      same weights; outputs equal to rounding.
    inference_chunk_length: in inference, inputs longer than this many bp run
      the stem and the first two conv-tower blocks in chunks of this length
      (with a halo covering their receptive field; `chunked_inference`):
      the same outputs with less peak memory. A multiple of 128; `None`
      runs the whole length at once.

  Call args:
    inputs: one-hot DNA `[B, L, 4]` (A, C, G, T; N = zeros). `L` is a
      multiple of 128 with at least `target_length` bins; see
      `valid_input_lengths`.
    training: enables dropout and BatchNorm batch statistics.

  Returns:
    dict organism -> `[B, target_length, tracks]` (softplus, float32; float64
    in a float64 model).
  """

  def __init__(self,
               channels: int = 1536,
               num_transformer_layers: int = 11,
               num_heads: int = 8,
               pooling_type: str = 'attention',
               heads: Optional[Mapping[str, int]] = None,
               target_length: Optional[int] = TARGET_LENGTH,
               sequence_length: Optional[int] = SEQUENCE_LENGTH,
               dropout_rate: float = 0.4,
               attention_dropout_rate: float = 0.05,
               positional_dropout_rate: float = 0.01,
               final_dropout_rate: float = 0.05,
               mlp_zero_initialize: bool = False,
               key_size: int = 64,
               num_relative_position_features: Optional[int] = None,
               relative_position_functions: Optional[Sequence[str]] = None,
               conv_tower_divisible_by: int = 128,
               synchronized_batch_norm: bool = True,
               mixed_bfloat16: bool = False,
               recompute_grad: bool = False,
               inference_chunk_length: Optional[int] = 49_152,
               conv_implementation: str = 'auto',
               **kwargs):
    kwargs.setdefault('name', 'enformer')
    if mixed_bfloat16:
      if kwargs.get('dtype') not in (None, 'mixed_bfloat16'):
        raise ValueError(
            f'mixed_bfloat16=True sets the dtype policy; got also '
            f'dtype={kwargs["dtype"]!r}. Pass one or the other.')
      kwargs['dtype'] = 'mixed_bfloat16'
    super().__init__(**kwargs)
    heads = dict(DEFAULT_HEADS if heads is None else heads)
    relative_position_functions = list(
        relative_position_functions or positional.DEFAULT_FUNCTIONS)
    _validate(channels=channels, num_transformer_layers=num_transformer_layers,
              num_heads=num_heads, pooling_type=pooling_type, heads=heads,
              target_length=target_length, sequence_length=sequence_length,
              conv_tower_divisible_by=conv_tower_divisible_by,
              inference_chunk_length=inference_chunk_length)
    self.channels = int(channels)
    self.num_transformer_layers = int(num_transformer_layers)
    self.num_heads = int(num_heads)
    self.pooling_type = pooling_type
    self.heads = {str(k): int(v) for k, v in heads.items()}
    self.target_length = target_length
    self.sequence_length = sequence_length
    self.dropout_rate = float(dropout_rate)
    self.attention_dropout_rate = float(attention_dropout_rate)
    self.positional_dropout_rate = float(positional_dropout_rate)
    self.final_dropout_rate = float(final_dropout_rate)
    self.mlp_zero_initialize = bool(mlp_zero_initialize)
    self.key_size = int(key_size)
    value_size = self.channels // self.num_heads
    self.num_relative_position_features = (
        value_size if num_relative_position_features is None
        else int(num_relative_position_features))
    self.relative_position_functions = relative_position_functions
    self.conv_tower_divisible_by = int(conv_tower_divisible_by)
    self.synchronized_batch_norm = bool(synchronized_batch_norm)
    self.mixed_bfloat16 = bool(mixed_bfloat16)
    self.recompute_grad = bool(recompute_grad)
    validate_implementation(conv_implementation)
    self.conv_implementation = conv_implementation
    self.inference_chunk_length = (None if inference_chunk_length is None
                                   else int(inference_chunk_length))
    # Every layer gets the model's policy explicitly: a layer left on the
    # float32 global policy would cast bfloat16 (or float64) inputs to float32.
    self._layer_dtype = self.dtype_policy.name
    if self.dtype_policy.variable_dtype not in ('float32', 'float64'):
      raise ValueError(
          f'Enformer computes in float32, mixed_bfloat16 or float64; got '
          f'dtype policy {self._layer_dtype!r}.')

    filters = conv_tower_filters(self.channels, self.conv_tower_divisible_by)
    if min(filters) < 1 or filters[-1] != self.channels:
      raise ValueError(
          f'conv_tower_divisible_by={conv_tower_divisible_by} rounds the conv '
          f'tower filters for channels={channels} to {filters}; they must be '
          f'positive and end at channels. Use a divisor of channels no larger '
          f'than channels // 2.')
    self.trunk = sequential(
        [self._build_stem(), self._build_conv_tower(filters),
         self._build_transformer(value_size),
         TargetLengthCrop1D(target_length, name='target_input',
                            dtype=self._layer_dtype),
         self._build_final_pointwise()], 'trunk')
    self.head_layers = {
        organism: keras.layers.Dense(
            tracks, activation='softplus', name=f'head_{organism}',
            kernel_initializer=sonnet_default_initializer(),
            # Heads in float32 (float64 in a float64 model): softplus outputs
            # are counts the Poisson loss takes logs of.
            dtype=at_least_float32(self.dtype_policy.compute_dtype).name)
        for organism, tracks in self.heads.items()}

  # -- Construction -----------------------------------------------------------

  def _conv_block(self, filters, width, name='conv_block'):
    return ConvBlock(filters, width, synchronized=self.synchronized_batch_norm,
                     conv_implementation=self.conv_implementation,
                     name=name, dtype=self._layer_dtype)

  def _build_stem(self):
    return sequential([
        keras.layers.Conv1D(
            self.channels // 2, 15, padding='same', name='conv1_d',
            kernel_initializer=sonnet_default_initializer(),
            dtype=self._layer_dtype),
        Residual(self._conv_block(self.channels // 2, 1,
                                  'pointwise_conv_block'),
                 dtype=self._layer_dtype),
        pooling_layer(self.pooling_type, 2, dtype=self._layer_dtype),
    ], 'stem')

  def _build_conv_tower(self, filters):
    return sequential([
        sequential([
            self._conv_block(num_filters, 5),
            Residual(self._conv_block(num_filters, 1, 'pointwise_conv_block'),
                     dtype=self._layer_dtype),
            pooling_layer(self.pooling_type, 2, dtype=self._layer_dtype),
        ], f'conv_tower_block_{i}')
        for i, num_filters in enumerate(filters)], 'conv_tower')

  def _build_transformer(self, value_size):
    attention_kwargs = dict(
        value_size=value_size,
        key_size=self.key_size,
        num_heads=self.num_heads,
        scaling=True,
        attention_dropout_rate=self.attention_dropout_rate,
        relative_positions=True,
        relative_position_symmetric=False,
        relative_position_functions=self.relative_position_functions,
        num_relative_position_features=self.num_relative_position_features,
        positional_dropout_rate=self.positional_dropout_rate,
        zero_initialize=True)
    # An empty Sequential is the identity, which is what the reference's
    # empty transformer does with num_transformer_layers=0.
    return sequential([
        TransformerBlock(self.channels, self.dropout_rate, attention_kwargs,
                         attention_name=f'attention_{i}',
                         mlp_zero_initialize=self.mlp_zero_initialize,
                         name=f'transformer_block_{i}',
                         dtype=self._layer_dtype)
        for i in range(self.num_transformer_layers)], 'transformer')

  def _build_final_pointwise(self):
    return sequential([
        self._conv_block(2 * self.channels, 1),
        keras.layers.Dropout(self.final_dropout_rate, dtype=self._layer_dtype),
        keras.layers.Activation(gelu, dtype=self._layer_dtype),
    ], 'final_pointwise')

  def build(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    length = self._checked_length(input_shape)
    trunk_input_shape = input_shape[:1].concatenate([length, 4])
    embedding_shape = build_by_shape(self.trunk, trunk_input_shape)
    for head in self.head_layers.values():
      build_sublayer(head, embedding_shape)
    super().build(input_shape)

  # -- Inputs -----------------------------------------------------------------

  def valid_input_lengths(self) -> str:
    """A sentence describing the input lengths this model accepts."""
    min_bins = self.target_length or 1
    text = (f'a multiple of {BIN_SIZE} bp of at least '
            f'{min_bins * BIN_SIZE:,} bp ({min_bins} bins)')
    if self.sequence_length is not None:
      text += (f' and at most sequence_length={self.sequence_length:,} bp; '
               f'longer multiples of {BIN_SIZE} (e.g. '
               f'{2 * self.sequence_length:,} bp, as the TF Hub model takes) '
               f'are centre-cropped to {self.sequence_length:,} bp')
    return text

  def _checked_length(self, input_shape: tf.TensorShape) -> Optional[int]:
    """The length the trunk sees after the input crop; validates the shape."""
    if input_shape.rank != 3 or input_shape[-1] != 4:
      raise ValueError(
          f'Enformer expects one-hot DNA of shape [batch, length, 4], got '
          f'shape {input_shape}.')
    length = input_shape[1]
    if length is None:
      return None
    if self.sequence_length is not None and length > self.sequence_length:
      cropped = self.sequence_length
    else:
      cropped = length
    if length % BIN_SIZE or cropped < (self.target_length or 1) * BIN_SIZE:
      raise ValueError(
          f'Enformer input length {length:,} bp is not valid: expected '
          f'{self.valid_input_lengths()}.')
    return cropped

  def _prepare_inputs(self, inputs):
    """Validates `[B, L, 4]`, centre-crops long inputs, casts."""
    inputs = tf.convert_to_tensor(inputs)
    length = self._checked_length(inputs.shape)
    dtype = inputs.dtype
    if not (dtype.is_floating or dtype.is_integer or dtype.is_bool):
      # tf.cast would fail on strings and silently drop imaginary parts.
      raise ValueError(
          'Enformer expects one-hot DNA as numbers (float, int or bool), got '
          f'dtype {dtype.name}; encode text with '
          'enformer_tf.data.encoding.one_hot_encode.')
    if inputs.shape.rank and inputs.shape[0] == 0:
      raise ValueError('Enformer got an empty batch (0 sequences).')
    if length is None:  # Unknown static length: check at run time.
      tf.debugging.assert_equal(
          tf.shape(inputs)[1] % BIN_SIZE, 0,
          message=f'Enformer input length must be a multiple of {BIN_SIZE}')
      if self.sequence_length is not None:
        trim = tf.maximum(tf.shape(inputs)[1] - self.sequence_length, 0) // 2
        inputs = inputs[:, trim:tf.shape(inputs)[1] - trim]
    elif length != inputs.shape[1]:
      trim = (inputs.shape[1] - length) // 2
      inputs = inputs[:, trim:trim + length]
    return tf.cast(inputs, self.compute_dtype)

  # -- Forward ----------------------------------------------------------------

  def call(self, inputs, training=None):
    embedding = self.embed(inputs, training=training)
    return {organism: head(embedding)
            for organism, head in self.head_layers.items()}

  def embed(self, inputs, training=None) -> tf.Tensor:
    """The trunk's output `[B, target_length, 2C]`: the Enformer embedding."""
    inputs = self._prepare_inputs(inputs)
    if self.recompute_grad and training is True:
      return self._recomputing_trunk(inputs)
    if self._runs_in_chunks(inputs, training):
      return self._chunked_trunk(inputs)
    return self.trunk(inputs, training=training)

  def _runs_in_chunks(self, inputs, training) -> bool:
    if training is None:
      training = keras.backend.learning_phase()
    inference = isinstance(training, (bool, int)) and not training
    length = inputs.shape[1]
    return (inference and self.inference_chunk_length is not None and
            length is not None and length > self.inference_chunk_length)

  def _chunked_trunk(self, x):
    """The trunk in inference, its high-resolution start in chunks."""
    _, _, transformer, crop, final_pointwise = self.trunk.layers
    x = self._chunked_conv_tower(x)
    for block in transformer.layers:
      x = block(x, training=False)
    return final_pointwise(crop(x), training=False)

  def _chunked_conv_tower(self, x):
    """Stem and conv tower in inference, the first blocks in chunks."""
    stem, conv_tower = self.trunk.layers[:2]
    chunked = conv_tower.layers[:chunked_inference.CHUNKED_TOWER_BLOCKS]
    reduction = 2**(1 + len(chunked))  # The stem's pool and one per block.
    radius = chunked_inference.receptive_radius(stem, chunked)
    halo = -(-radius // reduction) * reduction

    def high_resolution(piece):
      piece = stem(piece, training=False)
      for block in chunked:
        piece = block(piece, training=False)
      return piece

    x = chunked_inference.run_in_chunks(
        high_resolution, x, self.inference_chunk_length, halo, reduction)
    for block in conv_tower.layers[len(chunked):]:
      x = block(x, training=False)
    return x

  def _recomputing_trunk(self, x):
    """The trunk in training, recomputing each block in the backward pass."""
    stem, conv_tower, transformer, crop, final_pointwise = self.trunk.layers
    x = recompute_grad(stem, x, training=True)
    for block in conv_tower.layers + transformer.layers:
      x = recompute_grad(block, x, training=True)
    return final_pointwise(crop(x), training=True)

  def predict_head(self, inputs, head: str, training=None) -> tf.Tensor:
    """One organism's `[B, bins, tracks]`, without computing the other heads."""
    if head not in self.head_layers:
      raise ValueError(f'Unknown head {head!r}; this model has heads '
                       f'{sorted(self.head_layers)}.')
    return self.head_layers[head](self.embed(inputs, training=training))

  def attention_weights(self, inputs) -> List[tf.Tensor]:
    """Attention weights of each transformer layer, `[B, H, T, T]` each.

    `T` is the number of 128-bp bins before the final crop.
    """
    return self._attend(inputs)[1]

  def embed_with_attention(self, inputs
                           ) -> Tuple[tf.Tensor, List[tf.Tensor]]:
    """`embed` in inference, with each layer's `attention_weights`.

    One pass gives both, so a tool that needs predictions, their input
    gradient and the attention (enhancer prioritisation) runs the trunk once.
    """
    x, weights = self._attend(inputs)
    crop, final_pointwise = self.trunk.layers[3:]
    return final_pointwise(crop(x, training=False), training=False), weights

  def _attend(self, inputs) -> Tuple[tf.Tensor, List[tf.Tensor]]:
    """The transformer's output in inference, and its attention weights."""
    stem, conv_tower, transformer = self.trunk.layers[:3]
    x = self._prepare_inputs(inputs)
    if self._runs_in_chunks(x, training=False):
      x = self._chunked_conv_tower(x)
    else:
      x = conv_tower(stem(x, training=False), training=False)
    weights = []
    for block in transformer.layers:
      x, block_weights = block(x, training=False,
                               return_attention_weights=True)
      weights.append(block_weights)
    return x, weights

  def get_config(self):
    return dict(
        name=self.name,
        channels=self.channels,
        num_transformer_layers=self.num_transformer_layers,
        num_heads=self.num_heads,
        pooling_type=self.pooling_type,
        heads=dict(self.heads),
        target_length=self.target_length,
        sequence_length=self.sequence_length,
        dropout_rate=self.dropout_rate,
        attention_dropout_rate=self.attention_dropout_rate,
        positional_dropout_rate=self.positional_dropout_rate,
        final_dropout_rate=self.final_dropout_rate,
        mlp_zero_initialize=self.mlp_zero_initialize,
        key_size=self.key_size,
        num_relative_position_features=self.num_relative_position_features,
        relative_position_functions=list(self.relative_position_functions),
        conv_tower_divisible_by=self.conv_tower_divisible_by,
        synchronized_batch_norm=self.synchronized_batch_norm,
        mixed_bfloat16=self.mixed_bfloat16,
        recompute_grad=self.recompute_grad,
        inference_chunk_length=self.inference_chunk_length,
        conv_implementation=self.conv_implementation,
        **({} if self.mixed_bfloat16 or self._layer_dtype == 'float32'
           else {'dtype': self._layer_dtype}))

  @classmethod
  def from_config(cls, config, custom_objects=None):
    return cls(**config)


def _validate(*, channels, num_transformer_layers, num_heads, pooling_type,
              heads, target_length, sequence_length, conv_tower_divisible_by,
              inference_chunk_length):
  """Argument checks with messages that name the argument and the value."""
  for arg, value in (('channels', channels), ('num_heads', num_heads),
                     ('conv_tower_divisible_by', conv_tower_divisible_by)):
    if int(value) != value or value < 1:
      raise ValueError(f'{arg} must be a positive integer, got {value!r}.')
  if int(num_transformer_layers) != num_transformer_layers or (
      num_transformer_layers < 0):
    raise ValueError('num_transformer_layers must be a non-negative integer, '
                     f'got {num_transformer_layers!r}.')
  if channels % num_heads:
    raise ValueError(f'channels={channels} must be divisible by '
                     f'num_heads={num_heads}.')
  if pooling_type not in ('attention', 'max'):
    raise ValueError("pooling_type must be 'attention' or 'max', got "
                     f'{pooling_type!r}.')
  if not heads:
    raise ValueError('heads must name at least one organism, e.g. '
                     "{'human': 5313}.")
  for organism, tracks in heads.items():
    if not isinstance(organism, str) or not organism.isidentifier():
      raise ValueError(f'head names must be identifiers, got {organism!r}.')
    if int(tracks) != tracks or tracks < 1:
      raise ValueError(f'heads[{organism!r}] must be a positive number of '
                       f'tracks, got {tracks!r}.')
  for arg, value in (('target_length', target_length),
                     ('sequence_length', sequence_length)):
    if value is not None and (int(value) != value or value < 1):
      raise ValueError(f'{arg} must be a positive integer or None, got '
                       f'{value!r}.')
  if inference_chunk_length is not None and (
      int(inference_chunk_length) != inference_chunk_length or
      inference_chunk_length < BIN_SIZE or inference_chunk_length % BIN_SIZE):
    raise ValueError(
        f'inference_chunk_length must be a positive multiple of {BIN_SIZE} '
        f'or None, got {inference_chunk_length!r}.')
  if sequence_length is not None:
    if sequence_length % BIN_SIZE:
      raise ValueError(f'sequence_length={sequence_length} must be a multiple '
                       f'of {BIN_SIZE}.')
    if target_length is not None and sequence_length < target_length * BIN_SIZE:
      raise ValueError(
          f'sequence_length={sequence_length} gives '
          f'{sequence_length // BIN_SIZE} bins, fewer than '
          f'target_length={target_length}.')
