"""The dtype softmaxes, sigmoids and counts are computed in."""
import pytest
import tensorflow as tf

from enformer_tf.layers import at_least_float32


@pytest.mark.parametrize('dtype, expected', [
    ('bfloat16', tf.float32), ('float16', tf.float32),
    ('float32', tf.float32), ('float64', tf.float64),
    (tf.bfloat16, tf.float32), (tf.float64, tf.float64),
])
def test_at_least_float32(dtype, expected):
  assert at_least_float32(dtype) == expected
