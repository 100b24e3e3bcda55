"""Residual: `x + layer(x)` around any layer."""
import numpy as np
import pytest
import tf_keras as keras

from enformer_tf.layers import ConvBlock, Residual
from layer_test_case import run_layer_test
from numpy_reference import np_conv_block
from random_weights import randomise_weights

X = np.random.RandomState(0).randn(2, 8, 3).astype('float32')


def test_residual_contract():
  run_layer_test(Residual,
                 dict(layer=keras.layers.Dense(3, name='inner'), name='res'),
                 X, (2, 8, 3))


def test_residual_adds_input():
  inner = keras.layers.Dense(3)
  out = Residual(inner)(X).numpy()
  np.testing.assert_allclose(out, X + inner(X).numpy(), rtol=1e-6)


def test_residual_passes_training():
  res = Residual(keras.layers.Dropout(0.5))
  np.testing.assert_array_equal(res(X, training=False).numpy(), 2 * X)
  assert not np.allclose(res(X, training=True).numpy(), 2 * X)


def test_residual_contract_around_a_conv_block():
  # As the stem and the conv tower use it.
  run_layer_test(Residual,
                 dict(layer=ConvBlock(3, 5, synchronized=False,
                                      name='pointwise_conv_block'),
                      name='residual_2'),
                 X, (2, 8, 3))


def test_residual_conv_block_matches_numpy():
  res = Residual(ConvBlock(3, 3))
  res.build(X.shape)
  randomise_weights(res, seed=4, scale=0.3)
  expected = X + np_conv_block(X.astype(np.float64), res.layer)
  np.testing.assert_allclose(res(X, training=False).numpy(), expected,
                             rtol=1e-4, atol=1e-5)


def test_residual_weights_are_named_under_their_layer():
  res = Residual(ConvBlock(3, 1, name='pointwise_conv_block'))
  res(X)  # Builds inside the residual's own name scope.
  assert 'residual/pointwise_conv_block/cross_replica_batch_norm/gamma:0' in {
      w.name for w in res.weights}


def test_residual_rejects_a_non_layer():
  with pytest.raises(ValueError, match='must be a Keras layer'):
    Residual(lambda x: x)
