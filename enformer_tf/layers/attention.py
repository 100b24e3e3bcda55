"""Multi-head attention with Enformer's relative positional basis."""
from typing import List, Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from enformer_tf import positional
from enformer_tf.layers.initializers import attention_initializer
from enformer_tf.layers.precision import at_least_float32
from enformer_tf.layers.recompute import RecomputableDropout
from enformer_tf.layers.sublayers import build_sublayer


@keras.saving.register_keras_serializable(package='enformer_tf')
class MultiheadAttention(keras.layers.Layer):
  """Multi-head self-attention with Transformer-XL style relative positions.

  logits = (q + r_w_bias) k^T + relative_shift((q + r_r_bias) r_k^T), with q
  scaled by `key_size ** -0.5` and `r_k` a bias-free projection of the
  relative basis features of the distances `-(T-1) .. T-1`.

  Follows `MultiheadAttention` in deepmind-research
  `enformer/attention_module.py`; argument names are the reference's.

  Args:
    value_size: value size per head.
    key_size: key and query size per head.
    num_heads: number of heads.
    scaling: scale queries by `key_size ** -0.5`.
    attention_dropout_rate: dropout on the attention weights in training.
    relative_positions: use relative positional logits.
    relative_position_symmetric: only the symmetric basis if True; else
      symmetric and `sign(d)`-asymmetric versions.
    relative_position_functions: basis names from
      `enformer_tf.positional.FEATURE_FUNCTIONS`.
    num_relative_position_features: number of basis features; `None` takes the
      largest multiple of `2 * len(functions)` up to `value_size`.
    positional_dropout_rate: dropout on the basis features in training.
    zero_initialize: start the output projection at zero.
    initializer: projection initializer; defaults to variance scaling with
      scale 2.0 (fan-in, truncated normal), as in the reference.

  Call args:
    inputs: `[B, T, C]`.
    training: enables the two dropouts.
    return_attention_weights: also return the `[B, H, T, T]` softmax weights.

  Returns:
    `[B, T, num_heads * value_size]`, and the weights if asked for.
  """

  def __init__(self,
               value_size: int,
               key_size: int,
               num_heads: int,
               scaling: bool = True,
               attention_dropout_rate: float = 0.1,
               relative_positions: bool = False,
               relative_position_symmetric: bool = False,
               relative_position_functions: Optional[Sequence[str]] = None,
               num_relative_position_features: Optional[int] = None,
               positional_dropout_rate: float = 0.1,
               zero_initialize: bool = True,
               initializer=None,
               **kwargs):
    kwargs.setdefault('name', 'attention')
    super().__init__(**kwargs)
    for arg, value in (('value_size', value_size), ('key_size', key_size),
                       ('num_heads', num_heads)):
      if int(value) != value or value < 1:
        raise ValueError(f'{arg} must be a positive integer, got {value!r}.')
    for arg, value in (('attention_dropout_rate', attention_dropout_rate),
                       ('positional_dropout_rate', positional_dropout_rate)):
      if not 0.0 <= value < 1.0:
        raise ValueError(f'{arg} must be in [0, 1), got {value!r}.')
    self.value_size = int(value_size)
    self.key_size = int(key_size)
    self.num_heads = int(num_heads)
    self.scaling = bool(scaling)
    self.attention_dropout_rate = float(attention_dropout_rate)
    self.relative_positions = bool(relative_positions)
    self.relative_position_symmetric = bool(relative_position_symmetric)
    if relative_position_functions is None:
      relative_position_functions = positional.DEFAULT_FUNCTIONS
    for name in relative_position_functions:
      positional.get_positional_feature_function(name)  # Validates the name.
    self.relative_position_functions: List[str] = list(
        relative_position_functions)
    num_components = len(self.relative_position_functions) * (
        1 if self.relative_position_symmetric else 2)
    if num_relative_position_features is None:
      num_relative_position_features = (
          self.value_size // num_components) * num_components
    elif num_relative_position_features % num_components:
      raise ValueError(
          f'num_relative_position_features={num_relative_position_features} '
          f'must be divisible by {num_components} (number of basis functions'
          f'{"" if self.relative_position_symmetric else " x 2"}).')
    self.num_relative_position_features = int(num_relative_position_features)
    self.positional_dropout_rate = float(positional_dropout_rate)
    self.zero_initialize = bool(zero_initialize)
    self.initializer = keras.initializers.get(
        initializer or attention_initializer())

    key_proj_size = self.key_size * self.num_heads
    embedding_size = self.value_size * self.num_heads

    def projection(units, name, use_bias=False, kernel_initializer=None):
      return keras.layers.Dense(
          units, use_bias=use_bias, name=name, dtype=self.dtype_policy,
          kernel_initializer=kernel_initializer or self._fresh_initializer())

    self.q_layer = projection(key_proj_size, 'q_layer')
    self.k_layer = projection(key_proj_size, 'k_layer')
    self.v_layer = projection(embedding_size, 'v_layer')
    self.embedding_layer = projection(
        embedding_size, 'embedding_layer', use_bias=True,
        kernel_initializer='zeros' if self.zero_initialize else None)
    if self.relative_positions:
      self.r_k_layer = projection(key_proj_size, 'r_k_layer')
    # Both dropouts act on float32 (or float64) tensors: the softmax weights
    # and the basis features.
    precise = at_least_float32(self.compute_dtype).name
    self.attention_dropout = RecomputableDropout(self.attention_dropout_rate,
                                                 dtype=precise)
    self.positional_dropout = RecomputableDropout(
        self.positional_dropout_rate, dtype=precise)

  def build(self, input_shape):
    channels = input_shape[-1]
    for layer in (self.q_layer, self.k_layer, self.v_layer):
      build_sublayer(layer, [None, channels])
    build_sublayer(self.embedding_layer,
                   [None, self.value_size * self.num_heads])
    if self.relative_positions:
      build_sublayer(self.r_k_layer,
                     [None, self.num_relative_position_features])
      bias_shape = [1, self.num_heads, 1, self.key_size]
      self.r_w_bias = self.add_weight(
          'r_w_bias', shape=bias_shape, initializer=self._fresh_initializer())
      self.r_r_bias = self.add_weight(
          'r_r_bias', shape=bias_shape, initializer=self._fresh_initializer())
    super().build(input_shape)

  def _fresh_initializer(self):
    # A tf-keras initializer instance returns the same values every time it
    # is called, so q, k, v and the biases would start identical if they
    # shared one: each weight gets its own copy.
    return self.initializer.__class__.from_config(
        self.initializer.get_config())

  def _multihead_output(self, linear, inputs):
    """`[B, T, C]` -> `[B, H, T, C']` through `linear`."""
    output = linear(inputs)  # [B, T, H * C']
    channels = output.shape[-1] // self.num_heads
    length = inputs.shape[1] if inputs.shape[1] is not None else tf.shape(
        inputs)[1]
    output = tf.reshape(output, [-1, length, self.num_heads, channels])
    return tf.transpose(output, [0, 2, 1, 3])  # [B, H, T, C']

  def relative_position_features(self, seq_len) -> tf.Tensor:
    """Basis features of the distances `-(T-1) .. T-1`: `[1, 2T-1, Cr]`."""
    distances = tf.range(-seq_len + 1, seq_len, dtype=tf.float32)[tf.newaxis]
    return positional.positional_features_all(
        positions=distances,
        feature_size=self.num_relative_position_features,
        seq_length=seq_len,
        feature_functions=self.relative_position_functions,
        symmetric=self.relative_position_symmetric)

  def call(self, inputs, training=None, return_attention_weights=False):
    seq_len = inputs.shape[1] if inputs.shape[1] is not None else tf.shape(
        inputs)[1]
    q = self._multihead_output(self.q_layer, inputs)  # [B, H, T, K]
    k = self._multihead_output(self.k_layer, inputs)  # [B, H, T, K]
    v = self._multihead_output(self.v_layer, inputs)  # [B, H, T, V]
    if self.scaling:
      q *= self.key_size**-0.5

    if self.relative_positions:
      positional_encodings = self.relative_position_features(seq_len)
      positional_encodings = self.positional_dropout(
          positional_encodings, training=training)  # [1, 2T-1, Cr]
      r_k = self._multihead_output(
          self.r_k_layer,
          tf.cast(positional_encodings, self.compute_dtype))  # [1, H, 2T-1, K]
      content_logits = tf.matmul(q + self.r_w_bias, k,
                                 transpose_b=True)  # [B, H, T, T]
      relative_logits = tf.matmul(q + self.r_r_bias, r_k,
                                  transpose_b=True)  # [B, H, T, 2T-1]
      relative_logits = positional.relative_shift(
          relative_logits)  # [B, H, T, T]
      logits = content_logits + relative_logits
    else:
      logits = tf.matmul(q, k, transpose_b=True)  # [B, H, T, T]

    # Softmax in float32: in bfloat16 logits of a 1536-long row lose the
    # differences that decide where attention goes.
    weights = tf.nn.softmax(tf.cast(
        logits, at_least_float32(self.compute_dtype)))  # [B, H, T, T]
    dropped = tf.cast(self.attention_dropout(weights, training=training),
                      self.compute_dtype)
    output = tf.matmul(dropped, v)  # [B, H, T, V]
    output = tf.transpose(output, [0, 2, 1, 3])  # [B, T, H, V]
    output = tf.reshape(
        output, [-1, seq_len, self.num_heads * self.value_size])  # [B, T, H*V]
    output = self.embedding_layer(output)
    if return_attention_weights:
      return output, weights
    return output

  def compute_output_shape(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    return input_shape[:-1].concatenate([self.num_heads * self.value_size])

  def get_config(self):
    config = super().get_config()
    config.update(
        value_size=self.value_size,
        key_size=self.key_size,
        num_heads=self.num_heads,
        scaling=self.scaling,
        attention_dropout_rate=self.attention_dropout_rate,
        relative_positions=self.relative_positions,
        relative_position_symmetric=self.relative_position_symmetric,
        relative_position_functions=list(self.relative_position_functions),
        num_relative_position_features=self.num_relative_position_features,
        positional_dropout_rate=self.positional_dropout_rate,
        zero_initialize=self.zero_initialize,
        initializer=keras.initializers.serialize(self.initializer))
    return config
