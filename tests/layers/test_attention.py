"""MultiheadAttention against a naive NumPy oracle."""
import numpy as np
import pytest
import tensorflow as tf

from enformer_tf.layers import MultiheadAttention
from attention_setup import ATTENTION_KWARGS, B, H, K, T, V, X
from layer_test_case import (MIXED_POLICIES, check_mixed_precision,
                              global_policy, run_layer_test)
from numpy_reference import np_relative_attention
from random_weights import randomise_weights


def test_contract_non_default_args():
  kwargs = dict(ATTENTION_KWARGS, scaling=False, attention_dropout_rate=0.2,
                relative_position_symmetric=True,
                relative_position_functions=['positional_features_cosine',
                                             'positional_features_sin_cos'],
                num_relative_position_features=4, positional_dropout_rate=0.3,
                zero_initialize=False,
                initializer={'class_name': 'GlorotUniform',
                             'config': {'seed': 3}},
                name='mha')
  run_layer_test(MultiheadAttention, kwargs, X, (B, T, H * V))


def test_matches_naive_numpy_attention():
  mha = MultiheadAttention(**ATTENTION_KWARGS)
  mha.build(X.shape)
  randomise_weights(mha, seed=1, scale=0.3)
  out, weights = mha(X, training=False, return_attention_weights=True)
  expected, expected_weights = np_relative_attention(
      X.astype(np.float64), mha.q_layer.kernel.numpy(),
      mha.k_layer.kernel.numpy(), mha.v_layer.kernel.numpy(),
      mha.r_k_layer.kernel.numpy(), mha.r_w_bias.numpy(),
      mha.r_r_bias.numpy(), mha.embedding_layer.kernel.numpy(),
      mha.embedding_layer.bias.numpy(), H, K, V)
  np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-4,
                             atol=1e-6)
  np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_projection_shapes_and_biases():
  mha = MultiheadAttention(**ATTENTION_KWARGS)
  mha.build(X.shape)
  assert mha.q_layer.kernel.shape == (H * V, H * K) and mha.q_layer.bias is None
  assert mha.k_layer.bias is None and mha.v_layer.bias is None
  assert mha.r_k_layer.kernel.shape == (12, H * K) and mha.r_k_layer.bias is None
  assert mha.r_w_bias.shape == (1, H, 1, K)
  assert mha.embedding_layer.bias is not None
  # Zero-initialised output projection: a fresh layer outputs zeros.
  np.testing.assert_array_equal(mha(X).numpy(), 0.0)
  # Separate initial values (one shared initializer would repeat them).
  assert not np.allclose(mha.q_layer.kernel.numpy(), mha.k_layer.kernel.numpy())


def test_default_initializer_is_variance_scaling_2():
  mha = MultiheadAttention(value_size=192, key_size=64, num_heads=8)
  mha.build((None, 4, 1536))
  w = mha.q_layer.kernel.numpy()
  np.testing.assert_allclose(w.std(), np.sqrt(2.0 / 1536), rtol=0.02)


def test_default_feature_count_rounds_value_size():
  assert MultiheadAttention(value_size=50, key_size=4,
                            num_heads=2).num_relative_position_features == 48


def test_weights_are_a_distribution():
  mha = MultiheadAttention(**ATTENTION_KWARGS)
  mha.build(X.shape)
  randomise_weights(mha, seed=1, scale=0.3)
  _, weights = mha(X, return_attention_weights=True)
  np.testing.assert_allclose(weights.numpy().sum(-1), 1.0, rtol=1e-5)


def test_dropout_only_in_training():
  mha = MultiheadAttention(**dict(ATTENTION_KWARGS,
                                  attention_dropout_rate=0.5))
  mha.build(X.shape)
  randomise_weights(mha, seed=1, scale=0.3)
  np.testing.assert_array_equal(mha(X, training=False).numpy(),
                                mha(X, training=False).numpy())
  assert not np.allclose(mha(X, training=True).numpy(),
                         mha(X, training=False).numpy())


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_relative_position_features=10), 'divisible by 6'),
    (dict(num_heads=0), 'num_heads'),
    (dict(attention_dropout_rate=1.0), 'attention_dropout_rate'),
    (dict(relative_position_functions=['nope']), 'nope'),
])
def test_rejects_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    MultiheadAttention(**dict(ATTENTION_KWARGS, **kwargs))


@pytest.mark.parametrize('policy', MIXED_POLICIES)
def test_mixed_precision_keeps_the_softmax_in_float32(policy):
  with global_policy(policy):
    mha = MultiheadAttention(**ATTENTION_KWARGS)
  mha.build(X.shape)
  randomise_weights(mha, seed=1, scale=0.3)
  out, weights = mha(X, training=False, return_attention_weights=True)
  assert out.dtype == mha.compute_dtype != 'float32'
  # The weights are a float32 softmax of the low-precision logits: rows sum
  # to one to float32 precision, not to bfloat16's 0.4 %.
  assert weights.dtype == tf.float32
  np.testing.assert_allclose(weights.numpy().sum(-1), 1.0, rtol=1e-6)


def test_mixed_precision_without_relative_positions():
  mha = MultiheadAttention(value_size=V, key_size=K, num_heads=H,
                           relative_positions=False, zero_initialize=False)
  for policy in MIXED_POLICIES:
    check_mixed_precision(MultiheadAttention, mha.get_config(), X, policy)
