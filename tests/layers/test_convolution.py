"""The matrix-product form of the convolution equals TensorFlow's."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from enformer_tf.layers import Conv1D
from enformer_tf.layers.convolution import (conv1d, forward_form,
                                            uses_products)


@pytest.mark.parametrize('batch', [1, 3])  # One sequence: views only.
@pytest.mark.parametrize('forms', [('matmul', 'matmul'), ('conv', 'conv'),
                                   ('conv', 'matmul'), ('matmul', 'conv')])
@pytest.mark.parametrize('width', [1, 2, 4, 5, 15])
def test_product_passes_equal_tf_convolution_and_its_gradients(width,
                                                               forms, batch):
  rng = np.random.default_rng(width)
  x = tf.constant(rng.normal(size=(batch, 37, 6)), tf.float64)
  kernel = tf.constant(rng.normal(size=(width, 6, 3)), tf.float64)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([x, kernel])
    ours = conv1d(x, kernel, *forms)
    theirs = tf.nn.conv1d(x, kernel, 1, 'SAME')
    weights = tf.constant(rng.normal(size=(batch, 37, 3)), tf.float64)
    loss_ours = tf.reduce_sum(ours * weights)
    loss_theirs = tf.reduce_sum(theirs * weights)
  np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
  for a, b in zip(tape.gradient(loss_ours, [x, kernel]),
                  tape.gradient(loss_theirs, [x, kernel])):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize('dtype,tolerance', [('float32', 1e-5),
                                             ('mixed_bfloat16', 0.0)])
def test_layer_forms_share_weights_and_agree(dtype, tolerance):
  x = tf.random.stateless_normal((2, 64, 8), seed=(1, 2))
  layers = {form: Conv1D(5, 5, implementation=form, dtype=dtype,
                         bias_initializer='glorot_uniform')
            for form in ('conv', 'matmul', 'auto')}
  for layer in layers.values():
    layer.build(x.shape)
    layer.set_weights(layers['conv'].get_weights())
  outputs = {form: tf.cast(layer(x), tf.float32).numpy()
             for form, layer in layers.items()}
  # 'auto' on 8 channels: TensorFlow's convolution, in both dtypes.
  np.testing.assert_array_equal(outputs['auto'], outputs['conv'])
  if dtype == 'float32':
    np.testing.assert_allclose(outputs['matmul'], outputs['conv'],
                               atol=tolerance)
  assert layers['matmul'].kernel.shape == (5, 8, 5)
  assert Conv1D.from_config(layers['matmul'].get_config()).implementation == (
      'matmul')


def test_weight_names_are_keras_conv1d_names():
  ours, theirs = Conv1D(3, 5, name='conv1_d'), keras.layers.Conv1D(
      3, 5, padding='same', name='conv1_d')
  ours.build((None, 10, 4))
  theirs.build((None, 10, 4))
  assert [v.name for v in ours.weights] == [v.name for v in theirs.weights]


def test_forms_and_bad_arguments():
  assert uses_products('auto', 768, 768) and uses_products('auto', 384, 512)
  assert not uses_products('auto', 384, 384)
  assert uses_products('matmul', 8, 8) and not uses_products('conv', 768, 768)
  assert forward_form('auto', tf.float32, 5) == 'matmul'
  assert forward_form('auto', tf.float64, 5) == 'matmul'
  assert forward_form('auto', tf.bfloat16, 5) == 'conv'
  assert forward_form('auto', tf.bfloat16, 1) == 'matmul'
  assert forward_form('conv', tf.float32, 5) == 'conv'
  assert forward_form('matmul', tf.bfloat16, 5) == 'matmul'
  with pytest.raises(ValueError, match="'auto', 'conv', 'matmul'.*'fft'"):
    Conv1D(3, 5, implementation='fft')
  with pytest.raises(ValueError, match='SAME padding, stride 1'):
    Conv1D(3, 5, strides=2)
