"""The GELU approximation Enformer uses."""
import numpy as np
import tensorflow as tf
import tf_keras as keras

from enformer_tf.layers import gelu


def test_gelu_is_sigmoid_approximation():
  x = np.linspace(-6, 6, 101).astype('float32')
  np.testing.assert_allclose(gelu(x).numpy(), x / (1 + np.exp(-1.702 * x)),
                             rtol=1e-6, atol=1e-7)
  # Not the exact (erf) GELU: they differ by ~1e-2 near |x| = 2.
  exact = keras.activations.gelu(x, approximate=False).numpy()
  assert np.abs(gelu(x).numpy() - exact).max() > 5e-3


def test_gelu_is_registered_for_serialization():
  assert keras.saving.get_registered_object('enformer_tf>gelu') is gelu
  dense = keras.layers.Dense(2, activation=gelu)
  restored = keras.layers.Dense.from_config(dense.get_config())
  assert restored.activation is gelu


def test_gelu_keeps_a_16_bit_compute_dtype():
  # Layers apply it to activations in their compute dtype: no float32 copy.
  x = np.linspace(-6, 6, 101).astype('float32')
  expected = x / (1 + np.exp(-1.702 * x))
  for dtype in (tf.bfloat16, tf.float16):
    y = gelu(tf.constant(x, dtype))
    assert y.dtype == dtype
    np.testing.assert_allclose(tf.cast(y, tf.float32).numpy(), expected,
                               rtol=2e-2, atol=2e-2)
