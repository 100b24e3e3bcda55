"""TargetLengthCrop1D: a centre crop along the length axis."""
import numpy as np
import pytest
import tensorflow as tf

from enformer_tf.layers import TargetLengthCrop1D
from layer_test_case import run_layer_test

X = np.random.RandomState(0).randn(2, 8, 3).astype('float32')


def test_crop_contract_and_values():
  _, out = run_layer_test(TargetLengthCrop1D,
                          dict(target_length=4, name='crop'), X, (2, 4, 3),
                          run_fit=False)
  np.testing.assert_array_equal(out.numpy(), X[:, 2:6])


def test_crop_none_keeps_all():
  np.testing.assert_array_equal(TargetLengthCrop1D(None)(X).numpy(), X)


def test_crop_odd_difference_keeps_exact_length():
  out = TargetLengthCrop1D(5)(X).numpy()
  np.testing.assert_array_equal(out, X[:, 1:6])


def test_crop_too_long_target_is_named():
  with pytest.raises(ValueError, match='target_length=9'):
    TargetLengthCrop1D(9)(X)
  with pytest.raises(ValueError, match='target_length'):
    TargetLengthCrop1D(0)


def test_crop_of_unknown_length_is_the_same_slice():
  crop = tf.function(TargetLengthCrop1D(3),
                     input_signature=[tf.TensorSpec([None, None, 3])])
  np.testing.assert_array_equal(crop(X).numpy(), X[:, 2:5])
  with pytest.raises(tf.errors.InvalidArgumentError, match='target_length=3'):
    crop(X[:, :2])


def test_crop_keeps_a_16_bit_input_as_it_is():
  x = tf.constant(X, tf.bfloat16)
  out = TargetLengthCrop1D(4, dtype='mixed_bfloat16')(x)
  assert out.dtype == tf.bfloat16
  np.testing.assert_array_equal(out.numpy(), x.numpy()[:, 2:6])
