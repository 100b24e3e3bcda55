"""Attention ("softmax") pooling and the pooling factory."""
import tensorflow as tf
import tf_keras as keras

from enformer_tf.layers.precision import at_least_float32
from enformer_tf.layers.sublayers import build_sublayer

POOLING_TYPES = ('attention', 'max')


@keras.saving.register_keras_serializable(package='enformer_tf')
class SoftmaxPooling1D(keras.layers.Layer):
  """Pooling with learned softmax weights over each window (attention pooling).

  Each window of `pool_size` positions is reduced to the sum of its values
  weighted by a softmax over the window of per-position logits. The logits are
  a bias-free linear map of the input, initialised to `w_init_scale * I`:
  scale 0 is average pooling, scale ~2 with `per_channel=True` leans towards
  max pooling channel by channel.

  Follows `SoftmaxPooling1D` in deepmind-research `enformer/enformer.py`.

  Args:
    pool_size: window size and stride.
    per_channel: one softmax per channel if True, else one shared across
      channels.
    w_init_scale: scale of the identity the logit weights start from.

  Call args:
    inputs: `[B, L, C]`, `L` divisible by `pool_size`.

  Returns:
    `[B, L / pool_size, C]`.
  """

  def __init__(self, pool_size: int = 2, per_channel: bool = False,
               w_init_scale: float = 0.0, **kwargs):
    kwargs.setdefault('name', 'softmax_pooling')
    super().__init__(**kwargs)
    if int(pool_size) != pool_size or pool_size < 1:
      raise ValueError(f'pool_size must be a positive integer, got '
                       f'{pool_size!r}.')
    self.pool_size = int(pool_size)
    self.per_channel = bool(per_channel)
    self.w_init_scale = float(w_init_scale)

  def build(self, input_shape):
    num_features = input_shape[-1]
    if num_features is None:
      raise ValueError('SoftmaxPooling1D needs a known channel dimension, got '
                       f'input shape {input_shape}.')
    # Named after the reference's `linear` sub-module.
    self.logit_linear = keras.layers.Dense(
        num_features if self.per_channel else 1, use_bias=False,
        kernel_initializer=keras.initializers.Identity(self.w_init_scale),
        name='linear', dtype=self.dtype_policy)
    build_sublayer(self.logit_linear, [None, num_features])
    super().build(input_shape)

  def call(self, inputs):
    num_features = inputs.shape[-1]
    length = inputs.shape[1] if inputs.shape[1] is not None else tf.shape(
        inputs)[1]
    windows = tf.reshape(inputs, [-1, length // self.pool_size,
                                  self.pool_size,
                                  num_features])  # [B, L/p, p, C]
    if self.pool_size == 2:
      return self._pool_pairs(windows)
    return self._pool_windows(windows)

  def _pool_pairs(self, windows):
    """Windows of two: the softmax of two logits is a sigmoid of their gap.

    With `d = x0 - x1` the output `w0 x0 + w1 x1` is `x1 + sigmoid(l0 - l1) d`,
    and the logits are linear, so `l0 - l1 = linear(d)`: one product on
    `L/2` rows instead of `L`, and no softmax over a length-2 axis (which
    TensorFlow would run through two transposes of the whole tensor).
    """
    first, second = windows[:, :, 0], windows[:, :, 1]  # [B, L/2, C] each
    diff = first - second  # [B, L/2, C]
    # The sigmoid in float32, for the same reason as the softmax below.
    logit_gap = tf.cast(self.logit_linear(diff),
                        at_least_float32(diff.dtype))  # [B, L/2, C|1]
    weight = tf.cast(tf.nn.sigmoid(logit_gap), diff.dtype)
    return second + weight * diff  # [B, L/2, C]

  def _pool_windows(self, windows):
    # Softmax in float32: under bfloat16 the window weights would lose the
    # small differences between neighbouring positions. Written out over the
    # window axis because tf.nn.softmax on a non-last axis transposes twice.
    logits = tf.cast(self.logit_linear(windows),
                     at_least_float32(windows.dtype))  # [B, L/p, p, C|1]
    logits -= tf.reduce_max(logits, axis=-2, keepdims=True)
    weights = tf.exp(logits)
    weights /= tf.reduce_sum(weights, axis=-2, keepdims=True)
    return tf.reduce_sum(windows * tf.cast(weights, windows.dtype),
                         axis=-2)  # [B, L/p, C]

  def compute_output_shape(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    length = input_shape[1]
    length = None if length is None else length // self.pool_size
    return tf.TensorShape([input_shape[0], length, input_shape[-1]])

  def get_config(self):
    config = super().get_config()
    config.update(pool_size=self.pool_size, per_channel=self.per_channel,
                  w_init_scale=self.w_init_scale)
    return config


def pooling_layer(pooling_type: str, pool_size: int,
                  name: str = 'softmax_pooling',
                  **kwargs) -> keras.layers.Layer:
  """The reference's `pooling_module`: attention pooling or max pooling.

  `kwargs` (e.g. `dtype`) go to the layer's constructor.
  """
  if pooling_type == 'attention':
    return SoftmaxPooling1D(pool_size=pool_size, per_channel=True,
                            w_init_scale=2.0, name=name, **kwargs)
  if pooling_type == 'max':
    return keras.layers.MaxPool1D(pool_size=pool_size, padding='same',
                                  name=name, **kwargs)
  raise ValueError(f'pooling_type must be one of {POOLING_TYPES}, got '
                   f'{pooling_type!r}.')
