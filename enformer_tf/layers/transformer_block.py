"""One transformer block: attention then MLP, each pre-normalised and residual."""
from typing import Any, Dict, Optional

import tensorflow as tf
import tf_keras as keras

from enformer_tf.layers.attention import MultiheadAttention
from enformer_tf.layers.initializers import sonnet_default_initializer
from enformer_tf.layers.recompute import RecomputableDropout
from enformer_tf.layers.sublayers import build_sublayer

LAYER_NORM_EPSILON = 1e-5


@keras.saving.register_keras_serializable(package='enformer_tf')
class TransformerBlock(keras.layers.Layer):
  """Residual(LayerNorm -> MHA -> Dropout), then
  Residual(LayerNorm -> Dense(2C) -> Dropout -> ReLU -> Dense(C) -> Dropout).

  Follows `TransformerBlock` in deepmind-research `enformer/attention_module.py`
  and the `transformer_block_{i}` of `enformer.py`.

  Args:
    channels: model width `C`; the attention output must have this size.
    dropout_rate: dropout after the attention and in the MLP.
    attention_kwargs: `MultiheadAttention` arguments.
    attention_name: name of the attention layer (`attention_{i}` in the
      reference tree).
    mlp_zero_initialize: start the MLP's output projection (`mlp_linear2`)
      at zero, as the attention's output projection already starts, so
      that the block is the identity at initialisation. The reference
      initialises it like `mlp_linear1`; this is an option for small models
      (see `Enformer`).

  Call args:
    inputs: `[B, T, C]`.
    training: enables dropout.
    return_attention_weights: also return the `[B, H, T, T]` weights.

  Returns:
    `[B, T, C]`, and the attention weights if asked for.
  """

  def __init__(self, channels: int, dropout_rate: float,
               attention_kwargs: Dict[str, Any],
               attention_name: Optional[str] = None,
               mlp_zero_initialize: bool = False, **kwargs):
    kwargs.setdefault('name', 'transformer_block')
    super().__init__(**kwargs)
    if int(channels) != channels or channels < 1:
      raise ValueError(f'channels must be a positive integer, got '
                       f'{channels!r}.')
    if not 0.0 <= dropout_rate < 1.0:
      raise ValueError(f'dropout_rate must be in [0, 1), got {dropout_rate!r}.')
    self.channels = int(channels)
    self.dropout_rate = float(dropout_rate)
    self.attention_kwargs = dict(attention_kwargs)
    self.attention_name = attention_name or 'attention'
    self.mlp_zero_initialize = bool(mlp_zero_initialize)
    policy = self.dtype_policy
    self.mha_layer_norm = keras.layers.LayerNormalization(
        epsilon=LAYER_NORM_EPSILON, name='mha_layer_norm', dtype=policy)
    self.mha = MultiheadAttention(**self.attention_kwargs,
                                  name=self.attention_name, dtype=policy)
    if self.mha.num_heads * self.mha.value_size != self.channels:
      raise ValueError(
          f'num_heads * value_size = {self.mha.num_heads} * '
          f'{self.mha.value_size} must equal channels={self.channels}.')
    self.mha_dropout = RecomputableDropout(self.dropout_rate, dtype=policy)
    self.mlp_layer_norm = keras.layers.LayerNormalization(
        epsilon=LAYER_NORM_EPSILON, name='mlp_layer_norm', dtype=policy)
    self.mlp_linear1 = keras.layers.Dense(
        2 * self.channels, kernel_initializer=sonnet_default_initializer(),
        name='mlp_linear1', dtype=policy)
    self.mlp_dropout1 = RecomputableDropout(self.dropout_rate, dtype=policy)
    self.mlp_linear2 = keras.layers.Dense(
        self.channels,
        kernel_initializer=('zeros' if self.mlp_zero_initialize else
                            sonnet_default_initializer()),
        name='mlp_linear2', dtype=policy)
    self.mlp_dropout2 = RecomputableDropout(self.dropout_rate, dtype=policy)

  def build(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    for layer in (self.mha_layer_norm, self.mha, self.mlp_layer_norm,
                  self.mlp_linear1):
      build_sublayer(layer, input_shape)
    build_sublayer(self.mlp_linear2,
                   input_shape[:-1].concatenate([2 * self.channels]))
    super().build(input_shape)

  def call(self, inputs, training=None, return_attention_weights=False):
    x = self.mha_layer_norm(inputs)
    x, weights = self.mha(x, training=training, return_attention_weights=True)
    x = self.mha_dropout(x, training=training)
    mha_output = inputs + x

    x = self.mlp_layer_norm(mha_output)
    x = self.mlp_linear1(x)  # [B, T, 2C]
    x = self.mlp_dropout1(x, training=training)
    x = tf.nn.relu(x)
    x = self.mlp_linear2(x)  # [B, T, C]
    x = self.mlp_dropout2(x, training=training)
    output = mha_output + x
    if return_attention_weights:
      return output, weights
    return output

  def compute_output_shape(self, input_shape):
    return tf.TensorShape(input_shape)

  def get_config(self):
    config = super().get_config()
    # The attention layer's own config holds the arguments in serialised
    # form (an initializer object becomes a dict), so the block's config
    # stays JSON.
    mha_config = self.mha.get_config()
    attention_kwargs = {key: mha_config[key] for key in self.attention_kwargs}
    config.update(channels=self.channels, dropout_rate=self.dropout_rate,
                  attention_kwargs=attention_kwargs,
                  attention_name=self.attention_name,
                  mlp_zero_initialize=self.mlp_zero_initialize)
    return config
