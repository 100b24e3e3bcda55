"""Centre crop along the length axis."""
from typing import Optional

import tensorflow as tf
import tf_keras as keras


@keras.saving.register_keras_serializable(package='enformer_tf')
class TargetLengthCrop1D(keras.layers.Layer):
  """Keeps the central `target_length` positions of `[B, L, C]`.

  Trims `(L - target_length) // 2` positions on the left and the rest on the
  right, so the output always has exactly `target_length` positions (the
  reference returns one extra position when `L - target_length` is odd).

  Args:
    target_length: positions to keep; `None` keeps everything.

  Call args:
    inputs: `[B, L, C]` with `L >= target_length`.

  Returns:
    `[B, target_length, C]`.
  """

  def __init__(self, target_length: Optional[int], **kwargs):
    kwargs.setdefault('name', 'target_length_crop')
    super().__init__(**kwargs)
    if target_length is not None and (int(target_length) != target_length
                                      or target_length < 1):
      raise ValueError('target_length must be a positive integer or None, '
                       f'got {target_length!r}.')
    self.target_length = None if target_length is None else int(target_length)

  def call(self, inputs):
    if self.target_length is None:
      return inputs
    length = inputs.shape[-2]
    if length is None:
      length = tf.shape(inputs)[-2]
      tf.debugging.assert_greater_equal(
          length, self.target_length,
          message=f'inputs shorter than target_length={self.target_length}')
    elif length < self.target_length:
      raise ValueError(f'Input length {length} is shorter than '
                       f'target_length={self.target_length}.')
    trim = (length - self.target_length) // 2
    return inputs[..., trim:trim + self.target_length, :]

  def compute_output_shape(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    if self.target_length is None:
      return input_shape
    return input_shape[:-2].concatenate([self.target_length, input_shape[-1]])

  def get_config(self):
    config = super().get_config()
    config.update(target_length=self.target_length)
    return config
