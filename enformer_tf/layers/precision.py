"""The dtype that softmaxes, sigmoids and counts are computed in."""
import tensorflow as tf


def at_least_float32(dtype) -> tf.DType:
  """float32 for 16-bit floats (mixed precision), else `dtype` itself.

  Softmax weights, pooling gates and the heads' counts need float32 under
  bfloat16 compute; a float64 model (used to check gradients against finite
  differences) keeps float64 throughout instead of dropping to float32 there.
  """
  dtype = tf.as_dtype(dtype)
  return tf.float32 if dtype.size < 4 else dtype
