"""Pre-activation convolution block: BatchNorm -> GELU -> Conv1D."""
from typing import Optional

import tensorflow as tf
import tf_keras as keras

from enformer_tf.layers.activations import gelu
from enformer_tf.layers.convolution import Conv1D
from enformer_tf.layers.initializers import sonnet_default_initializer
from enformer_tf.layers.sublayers import build_sublayer

BATCH_NORM_MOMENTUM = 0.9
BATCH_NORM_EPSILON = 1e-5


@keras.saving.register_keras_serializable(package='enformer_tf')
class ConvBlock(keras.layers.Layer):
  """BatchNorm -> GELU -> Conv1D, the reference's `conv_block`.

  BatchNorm uses momentum 0.9 and epsilon 1e-5 with a learned scale (init 1)
  and offset; with `synchronized=True` its batch statistics are reduced across
  replicas under a `tf.distribute` strategy, like Sonnet's
  `CrossReplicaBatchNorm`. The reference's moving averages are debiased EMAs;
  Keras' are plain EMAs started at (0, 1). Both agree after a few dozen steps,
  and a converted checkpoint copies the debiased averages into
  `moving_mean` / `moving_variance`.

  Args:
    filters: output channels of the convolution.
    width: convolution kernel width (SAME padding).
    synchronized: synchronise BatchNorm statistics across replicas.
    kernel_initializer: defaults to Sonnet's truncated normal, stddev
      `1/sqrt(fan_in)`.
    conv_implementation: how the convolution is computed
      (`layers.convolution.Conv1D`): `'auto'`, `'conv'` or `'matmul'`; the
      same weights either way, outputs equal to rounding.

  Call args:
    inputs: `[B, L, C_in]`.
    training: BatchNorm uses batch statistics and updates its averages if True.

  Returns:
    `[B, L, filters]`.
  """

  def __init__(self, filters: int, width: int = 1, synchronized: bool = True,
               kernel_initializer: Optional[keras.initializers.Initializer] = None,
               conv_implementation: str = 'auto',
               **kwargs):
    kwargs.setdefault('name', 'conv_block')
    super().__init__(**kwargs)
    if int(filters) != filters or filters < 1:
      raise ValueError(f'filters must be a positive integer, got {filters!r}.')
    if int(width) != width or width < 1:
      raise ValueError(f'width must be a positive integer, got {width!r}.')
    self.filters = int(filters)
    self.width = int(width)
    self.synchronized = bool(synchronized)
    self.kernel_initializer = keras.initializers.get(
        kernel_initializer or sonnet_default_initializer())
    self.batch_norm = keras.layers.BatchNormalization(
        momentum=BATCH_NORM_MOMENTUM, epsilon=BATCH_NORM_EPSILON,
        synchronized=self.synchronized, gamma_initializer='ones',
        name='cross_replica_batch_norm', dtype=self.dtype_policy)
    self.conv = Conv1D(
        self.filters, self.width, implementation=conv_implementation,
        kernel_initializer=self.kernel_initializer, name='conv1_d',
        dtype=self.dtype_policy)
    self.conv_implementation = conv_implementation
    # Fine-tuning (train/finetune.py): normalise with the moving averages
    # and leave them alone, while gamma and beta may still train.
    self.freeze_statistics = False

  def build(self, input_shape):
    build_sublayer(self.batch_norm, input_shape)
    build_sublayer(self.conv, input_shape)
    super().build(input_shape)

  def call(self, inputs, training=None):
    if self._uses_moving_statistics(training):
      x = self._normalize_with_moving_statistics(inputs)
    else:
      x = self.batch_norm(inputs, training=training)
    return self.conv(gelu(x))

  def _uses_moving_statistics(self, training) -> bool:
    """True when BatchNorm would normalise with its moving averages."""
    if not self.batch_norm.trainable or self.freeze_statistics:
      return True  # Keras runs a frozen BatchNorm in inference mode.
    if training is None:
      training = keras.backend.learning_phase()
    # A symbolic `training` is left to the Keras layer's own cond.
    return isinstance(training, (bool, int)) and not training

  def _normalize_with_moving_statistics(self, inputs):
    """Inference BatchNorm as one per-channel multiply-add.

    The same `x * scale + (beta - mean * scale)` that Keras evaluates, without
    its float32 round trip of the whole activation under mixed precision:
    the statistics and `scale = gamma / sqrt(var + eps)` stay in float32 (they
    are per-channel and would lose the variance's precision in bfloat16);
    only the full-resolution multiply-add runs in the compute dtype, whose
    result is rounded to it for the convolution anyway.
    """
    bn = self.batch_norm
    scale = bn.gamma * tf.math.rsqrt(bn.moving_variance + bn.epsilon)  # [C]
    shift = bn.beta - bn.moving_mean * scale  # [C]
    return (inputs * tf.cast(scale, inputs.dtype)
            + tf.cast(shift, inputs.dtype))  # [B, L, C]

  def compute_output_shape(self, input_shape):
    return tf.TensorShape(input_shape)[:-1].concatenate([self.filters])

  def get_config(self):
    config = super().get_config()
    config.update(
        filters=self.filters, width=self.width,
        synchronized=self.synchronized,
        conv_implementation=self.conv_implementation,
        kernel_initializer=keras.initializers.serialize(
            self.kernel_initializer))
    return config
