"""Sub-layers built from shapes under their own name scope, and plain
stacks of them (`sequential`) built the same way."""
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


def sequential(layers, name: str) -> keras.Sequential:
  """A `keras.Sequential` that calls its layers in turn and nothing more.

  By default a Sequential that sees a new input shape builds a functional
  graph of its layers by calling them on symbolic inputs; nested
  Sequentials repeat that at every level, so building the trunk traced its
  innermost layers many times over (1.36 s against 0.51 s built from
  shapes for a 48-channel model, bench/build.py) and a call at a new length
  or batch size traced them again. Its inputs
  would also pass through a float32 input layer unless built with the
  compute dtype. With Keras's "deferred" behaviour it is a plain stack of
  layers; `build_by_shape` builds it.
  """
  stack = keras.Sequential(layers, name=name)
  stack._use_legacy_deferred_behavior = True  # pylint: disable=protected-access
  return stack


def build_by_shape(layer: keras.layers.Layer, input_shape) -> tf.TensorShape:
  """Builds `layer` (into Sequentials, layer by layer) from `input_shape`
  alone, without a symbolic call; returns its output shape."""
  input_shape = tf.TensorShape(input_shape)
  if not isinstance(layer, keras.Sequential):
    build_sublayer(layer, input_shape)
    return tf.TensorShape(layer.compute_output_shape(input_shape))
  # No name scope for the Sequential itself: its layers' weights keep the
  # names a symbolic build gave them ('conv1_d/kernel:0', not
  # 'trunk/stem/conv1_d/kernel:0'), which checkpoints and tools know.
  shape = input_shape
  for child in layer.layers:
    shape = build_by_shape(child, shape)
  layer._build_input_shape = input_shape  # pylint: disable=protected-access
  layer.built = True
  return shape
