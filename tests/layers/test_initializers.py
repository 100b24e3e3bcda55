"""Sonnet 2's default initializers in Keras."""
import numpy as np
import pytest

from enformer_tf.layers.initializers import (attention_initializer,
                                             sonnet_default_initializer)

FAN_IN = 400
TRUNCATED_NORMAL_STD = 0.8796  # Of a unit normal cut at +-2.


def test_sonnet_default_is_truncated_normal_one_over_sqrt_fan_in():
  w = sonnet_default_initializer()((FAN_IN, 300)).numpy()
  stddev = 1 / np.sqrt(FAN_IN)  # Before the cut, as Sonnet states it.
  assert np.abs(w).max() <= 2 * stddev + 1e-7
  np.testing.assert_allclose(w.std(), TRUNCATED_NORMAL_STD * stddev,
                             rtol=0.02)


def test_attention_initializer_has_variance_two_over_fan_in():
  w = attention_initializer()((FAN_IN, 300)).numpy()
  np.testing.assert_allclose(w.std(), np.sqrt(2.0 / FAN_IN), rtol=0.02)
  assert np.abs(w).max() <= 2 * np.sqrt(2.0 / FAN_IN) / TRUNCATED_NORMAL_STD


def test_each_call_draws_the_same_values():
  # Why MultiheadAttention gives every projection its own copy.
  init = attention_initializer()
  with pytest.warns(UserWarning, match='identical values'):
    np.testing.assert_array_equal(init((4, 3)).numpy(), init((4, 3)).numpy())
