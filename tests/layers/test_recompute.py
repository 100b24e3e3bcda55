"""RecomputableDropout: Keras' Dropout, with the masks `recompute_grad`
repeats in its backward pass."""
import numpy as np
import tensorflow as tf

from enformer_tf.layers import RecomputableDropout, recompute_grad
from enformer_tf.layers import recompute
from layer_test_case import run_layer_test

X = np.random.RandomState(0).randn(2, 8, 3).astype('float32')


def test_dropout_contract_non_default_args():
  # No weights: nothing for a fit step to train.
  run_layer_test(RecomputableDropout,
                 dict(rate=0.3, noise_shape=(None, 1, 3), seed=5,
                      name='dropout_3'),
                 X, (2, 8, 3), run_fit=False)


def test_outside_recompute_it_is_inverted_dropout():
  layer = RecomputableDropout(0.5, seed=1)
  np.testing.assert_array_equal(layer(X, training=False).numpy(), X)
  out = layer(X, training=True).numpy()
  kept = out != 0
  assert 0.2 < kept.mean() < 0.8
  np.testing.assert_allclose(out[kept], 2 * X[kept], rtol=1e-6)


def test_shared_seed_repeats_the_masks_and_each_call_draws_anew():
  layer = RecomputableDropout(0.5, noise_shape=(None, 8, 1))
  seed = tf.constant([3, 4])

  def two_calls():
    # pylint: disable-next=protected-access
    with recompute._shared_dropout_seed(seed):
      return [layer(X, training=True).numpy() for _ in range(2)]

  first, second = two_calls()
  again_first, again_second = two_calls()
  np.testing.assert_array_equal(first, again_first)
  np.testing.assert_array_equal(second, again_second)
  assert not np.array_equal(first != 0, second != 0)
  for out in (first, second):
    kept = out != 0
    assert np.all(kept == kept[..., :1])  # The noise shape: whole positions.
    np.testing.assert_allclose(out[kept], 2 * X[kept], rtol=1e-6)


def test_recompute_grad_gradient_follows_the_forward_mask():
  # d sum(dropout(x)) / dx is mask / (1 - rate): the recomputation in the
  # backward pass drew the mask the forward pass used.
  layer = RecomputableDropout(0.5)
  x = tf.constant(X)
  with tf.GradientTape() as tape:
    tape.watch(x)
    out = recompute_grad(layer, x, training=True)
  gradient = tape.gradient(out, x).numpy()
  np.testing.assert_array_equal(gradient, 2.0 * (out.numpy() != 0))
