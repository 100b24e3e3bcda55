"""Building sub-layers under their own name scope."""
import tensorflow as tf
import tf_keras as keras


def build_sublayer(layer: keras.layers.Layer, input_shape) -> None:
  """`layer.build(input_shape)` inside `layer`'s name scope.

  A parent that builds a child explicitly (rather than by calling it) would
  otherwise create the child's weights under the parent's scope only, giving
  names like `residual/gamma:0` instead of
  `residual/pointwise_conv_block/cross_replica_batch_norm/gamma:0`.
  """
  if layer.built:
    return
  with tf.name_scope(layer.name):
    layer.build(tf.TensorShape(input_shape))
