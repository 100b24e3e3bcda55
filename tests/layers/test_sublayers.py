"""Sub-layers built from shapes under their own name scope, and plain stacks."""
import numpy as np
import tensorflow as tf
import tf_keras as keras

from enformer_tf.layers.sublayers import (build_by_shape, build_sublayer,
                                          sequential)

X = np.random.RandomState(0).randn(2, 5, 3).astype('float32')


class _CountingDense(keras.layers.Dense):
  """A Dense that records its calls (a symbolic build would call it)."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self.calls = 0

  def call(self, inputs):
    self.calls += 1
    return super().call(inputs)


def test_build_sublayer_names_weights_under_the_sublayer_once():
  child = keras.layers.Dense(2, name='child')
  with tf.name_scope('parent'):
    build_sublayer(child, [None, 3])
  assert child.kernel.name == 'parent/child/kernel:0'
  kernel = child.kernel
  build_sublayer(child, [None, 3])  # Already built: left as it is.
  assert child.kernel is kernel


def test_build_by_shape_builds_nested_stacks_without_calling_them():
  first, second = _CountingDense(4, name='a'), _CountingDense(2, name='b')
  stack = sequential([first, sequential([second], name='inner')],
                     name='outer')
  shape = build_by_shape(stack, [None, 5, 3])
  assert shape.as_list() == [None, 5, 2] and stack.built
  assert first.calls == second.calls == 0
  # The names a symbolic build of the same stack gives.
  symbolic = keras.Sequential([
      keras.layers.Dense(4, name='a'),
      keras.Sequential([keras.layers.Dense(2, name='b')], name='inner')],
                              name='outer')
  symbolic.build((None, 5, 3))
  assert sorted(w.name for w in stack.weights) == sorted(
      w.name for w in symbolic.weights)
  # A plain stack: a call is the layers' calls in turn.
  expected = X @ first.kernel.numpy() + first.bias.numpy()
  expected = expected @ second.kernel.numpy() + second.bias.numpy()
  np.testing.assert_allclose(stack(X).numpy(), expected, rtol=1e-5,
                             atol=1e-6)


def test_sequential_keeps_the_compute_dtype():
  # No float32 input layer in front of a bfloat16 stack.
  stack = sequential([keras.layers.Dense(2, dtype='mixed_bfloat16')],
                     name='stack')
  build_by_shape(stack, [None, 5, 3])
  assert stack(tf.constant(X, tf.bfloat16)).dtype == tf.bfloat16
