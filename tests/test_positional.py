"""Relative basis functions against independent NumPy formulas."""
import numpy as np
import pytest
import tensorflow as tf

from enformer_tf import positional
from numpy_reference import (np_central_mask, np_cosine, np_exponential,
                             np_gamma, np_linear_masks, np_sin_cos)

T = 96  # characteristic length
N = 8   # features per class
D = np.arange(-(T - 1), T, dtype=np.float64)  # all relative distances


def _tf(fn, **kwargs):
  return fn(tf.constant(D[np.newaxis], tf.float32), N, T, **kwargs).numpy()[0]


def test_exponential_matches_formula():
  np.testing.assert_allclose(_tf(positional.positional_features_exponential),
                             np_exponential(D, N, T), rtol=1e-5, atol=1e-7)


def test_central_mask_matches_formula():
  np.testing.assert_array_equal(
      _tf(positional.positional_features_central_mask), np_central_mask(D, N))


def test_gamma_matches_lgamma_formula():
  # float32 lgamma of concentrations up to (2n)^2 limits the agreement.
  np.testing.assert_allclose(_tf(positional.positional_features_gamma),
                             np_gamma(D, N, T), rtol=2e-4, atol=1e-6)


def test_gamma_normalised_per_feature_over_positions():
  features = _tf(positional.positional_features_gamma)
  np.testing.assert_allclose(features.max(axis=0), np.ones(N), rtol=1e-6)
  # Not a global maximum: every feature reaches one, and the features do not
  # share their maximum position.
  assert len(set(features.argmax(axis=0).tolist())) == N


def test_gamma_full_size_is_per_feature():
  """At Enformer's size (T=1536, 32 per class) each feature peaks at one."""
  d = tf.range(-1535, 1536, dtype=tf.float32)[tf.newaxis]
  features = positional.positional_features_gamma(d, 32, 1536).numpy()[0]
  np.testing.assert_allclose(features.max(axis=0), np.ones(32), rtol=1e-6)
  expected = np_gamma(np.arange(-1535, 1536, dtype=np.float64), 32, 1536)
  np.testing.assert_allclose(features, expected, rtol=5e-3, atol=1e-6)


def test_cosine_matches_formula():
  # Angles up to ~500 rad in float32 carry ~3e-5 of rounding.
  np.testing.assert_allclose(_tf(positional.positional_features_cosine),
                             np_cosine(D, N), atol=1e-4)


def test_linear_masks_matches_formula():
  np.testing.assert_array_equal(
      _tf(positional.positional_features_linear_masks), np_linear_masks(D, N))


def test_sin_cos_matches_formula():
  np.testing.assert_allclose(_tf(positional.positional_features_sin_cos),
                             np_sin_cos(D, N), atol=1e-5)


def test_sin_cos_rejects_odd_size():
  with pytest.raises(ValueError, match='even'):
    positional.positional_features_sin_cos(tf.constant([[1.0]]), 3)


def test_all_orders_symmetric_then_asymmetric():
  feature_size = 6 * N
  got = positional.positional_features_all(
      tf.constant(D[np.newaxis], tf.float32), feature_size, seq_length=T
  ).numpy()[0]
  symmetric = np.concatenate([np_exponential(D, N, T), np_central_mask(D, N),
                              np_gamma(D, N, T)], axis=-1)
  expected = np.concatenate([symmetric, np.sign(D)[:, None] * symmetric], -1)
  np.testing.assert_allclose(got, expected, rtol=2e-4, atol=1e-6)


def test_symmetric_features_are_even_asymmetric_odd():
  got = positional.positional_features_all(
      tf.constant(D[np.newaxis], tf.float32), 6 * N, seq_length=T).numpy()[0]
  flipped = got[::-1]  # distance d -> -d
  half = 3 * N
  np.testing.assert_array_equal(got[:, :half], flipped[:, :half])
  np.testing.assert_array_equal(got[:, half:], -flipped[:, half:])


def test_all_symmetric_only():
  got = positional.positional_features_all(
      tf.constant(D[np.newaxis], tf.float32), 3 * N, seq_length=T,
      feature_functions=['positional_features_exponential',
                         'positional_features_central_mask',
                         'positional_features_gamma'],
      symmetric=True)
  assert got.shape == (1, len(D), 3 * N)


@pytest.mark.parametrize('feature_size', [5, 7, 13])
def test_all_rejects_indivisible_size(feature_size):
  with pytest.raises(ValueError, match='divisible by 6'):
    positional.positional_features_all(tf.constant([[0.0]]), feature_size, 4)


def test_unknown_function_is_named():
  with pytest.raises(ValueError, match='positional_features_nope'):
    positional.get_positional_feature_function('positional_features_nope')


@pytest.mark.parametrize('t', [1, 2, 7, 16])
def test_relative_shift_matches_naive_gather(t):
  rng = np.random.RandomState(t)
  x = rng.randn(2, 3, t, 2 * t - 1).astype(np.float32)
  expected = np.zeros((2, 3, t, t), np.float32)
  for i in range(t):
    for j in range(t):
      expected[:, :, i, j] = x[:, :, i, j - i + t - 1]  # distance j - i
  np.testing.assert_array_equal(positional.relative_shift(x).numpy(),
                                expected)
