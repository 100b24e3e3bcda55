"""SoftmaxPooling1D and the pooling factory."""
import numpy as np
import pytest
import tf_keras as keras

from enformer_tf.layers import SoftmaxPooling1D, pooling_layer
from enformer_tf.layers.pooling import POOLING_TYPES
from layer_test_case import run_layer_test
from numpy_reference import np_softmax

X = np.random.RandomState(0).randn(2, 8, 3).astype('float32')


def test_layer_contract_non_default_args():
  run_layer_test(SoftmaxPooling1D,
                 dict(pool_size=4, per_channel=True, w_init_scale=1.5,
                      name='pool'),
                 X, (2, 2, 3))


def test_shared_weights_across_channels():
  run_layer_test(SoftmaxPooling1D, dict(pool_size=2, per_channel=False),
                 X, (2, 4, 3))


def test_zero_scale_is_average_pooling():
  pool = SoftmaxPooling1D(pool_size=2, per_channel=True, w_init_scale=0.0)
  expected = X.reshape(2, 4, 2, 3).mean(axis=2)
  np.testing.assert_allclose(pool(X).numpy(), expected, rtol=1e-6, atol=1e-7)


def test_matches_numpy_softmax_weighted_sum():
  pool = SoftmaxPooling1D(pool_size=2, per_channel=True, w_init_scale=2.0)
  windows = X.reshape(2, 4, 2, 3)
  logits = 2.0 * windows  # identity * 2 per channel
  weights = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
  np.testing.assert_allclose(pool(X).numpy(), (windows * weights).sum(2),
                             rtol=1e-5)


def test_logit_weights_start_at_scaled_identity():
  pool = SoftmaxPooling1D(pool_size=2, per_channel=True, w_init_scale=2.0)
  pool.build((None, 8, 3))
  np.testing.assert_array_equal(pool.logit_linear.kernel.numpy(),
                                2.0 * np.eye(3))
  assert pool.logit_linear.bias is None


def test_large_scale_approaches_max_pooling():
  pool = SoftmaxPooling1D(pool_size=2, per_channel=True, w_init_scale=200.0)
  np.testing.assert_allclose(pool(X).numpy(),
                             X.reshape(2, 4, 2, 3).max(axis=2), atol=1e-4)


@pytest.mark.parametrize('bad', [0, -2, 1.5])
def test_rejects_bad_pool_size(bad):
  with pytest.raises(ValueError, match='pool_size'):
    SoftmaxPooling1D(pool_size=bad)


def test_factory():
  assert isinstance(pooling_layer('attention', 2), SoftmaxPooling1D)
  max_pool = pooling_layer('max', 2)
  assert isinstance(max_pool, keras.layers.MaxPool1D)
  np.testing.assert_array_equal(max_pool(X).numpy(),
                                X.reshape(2, 4, 2, 3).max(axis=2))
  with pytest.raises(ValueError, match="'attention', 'max'"):
    pooling_layer('mean', 2)


@pytest.mark.parametrize('per_channel', [True, False])
def test_windows_longer_than_two_match_numpy(per_channel):
  # pool_size 2 has its own sigmoid path; longer windows the softmax one.
  pool = SoftmaxPooling1D(pool_size=4, per_channel=per_channel)
  pool.build(X.shape)
  kernel = np.random.RandomState(2).randn(*pool.logit_linear.kernel.shape)
  pool.logit_linear.kernel.assign(kernel.astype('float32'))
  windows = X.astype(np.float64).reshape(2, 2, 4, 3)
  weights = np_softmax(windows @ kernel, axis=2)  # [B, L/4, 4, C|1]
  np.testing.assert_allclose(pool(X).numpy(), (windows * weights).sum(2),
                             rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('pooling_type', POOLING_TYPES)
def test_factory_layers_contract(pooling_type):
  layer = pooling_layer(pooling_type, 4, name='pool_3')
  _, out = run_layer_test(type(layer), layer.get_config(), X, (2, 2, 3),
                          run_fit=pooling_type == 'attention')
  if pooling_type == 'max':
    np.testing.assert_array_equal(out.numpy(),
                                  X.reshape(2, 2, 4, 3).max(axis=2))


@pytest.mark.parametrize('pooling_type', POOLING_TYPES)
def test_factory_passes_the_dtype_policy(pooling_type):
  layer = pooling_layer(pooling_type, 2, dtype='mixed_bfloat16')
  assert layer.compute_dtype == 'bfloat16'
  assert layer.variable_dtype == 'float32'
