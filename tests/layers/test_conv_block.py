"""ConvBlock: BatchNorm -> GELU -> Conv1D."""
import numpy as np
import pytest

from enformer_tf.layers import ConvBlock
from layer_test_case import run_layer_test

X = np.random.RandomState(0).randn(2, 8, 3).astype('float32')


def test_conv_block_contract():
  run_layer_test(ConvBlock,
                 dict(filters=5, width=3, synchronized=False,
                      kernel_initializer={'class_name': 'Zeros',
                                          'config': {}},
                      name='cb'),
                 X, (2, 8, 5), run_saving=True)


def test_conv_block_batch_norm_parameters():
  block = ConvBlock(4, 5)
  block.build((None, 8, 3))
  bn = block.batch_norm
  assert bn.momentum == 0.9 and bn.epsilon == 1e-5 and bn.synchronized
  np.testing.assert_array_equal(bn.gamma.numpy(), np.ones(3))
  assert block.conv.padding == 'same' and block.conv.kernel_size == (5,)


def test_conv_block_matches_numpy_inference():
  block = ConvBlock(4, 3)
  block.build((None, 8, 3))
  rng = np.random.RandomState(1)
  bn = block.batch_norm
  mean, var = rng.randn(3), rng.rand(3) + 0.5
  gamma, beta = rng.randn(3), rng.randn(3)
  for v, value in zip((bn.moving_mean, bn.moving_variance, bn.gamma, bn.beta),
                      (mean, var, gamma, beta)):
    v.assign(value.astype('float32'))
  w, b = block.conv.kernel.numpy(), rng.randn(4).astype('float32')
  block.conv.bias.assign(b)
  h = (X - mean) / np.sqrt(var + 1e-5) * gamma + beta
  h = h / (1 + np.exp(-1.702 * h))
  padded = np.pad(h, ((0, 0), (1, 1), (0, 0)))  # SAME for width 3
  expected = np.stack([np.einsum('bkc,kcf->bf', padded[:, i:i + 3], w)
                       for i in range(8)], axis=1) + b
  np.testing.assert_allclose(block(X, training=False).numpy(), expected,
                             rtol=1e-4, atol=1e-5)


def test_conv_block_default_init_is_sonnet_truncated_normal():
  block = ConvBlock(256, 5)
  block.build((None, 8, 64))
  w = block.conv.kernel.numpy()
  stddev = 1 / np.sqrt(5 * 64)  # Sonnet: TruncatedNormal(1/sqrt(fan_in)).
  assert np.abs(w).max() <= 2 * stddev + 1e-7
  # A normal cut at 2 stddev has std 0.8796 * stddev.
  np.testing.assert_allclose(w.std(), 0.8796 * stddev, rtol=0.02)


@pytest.mark.parametrize('arg', ['filters', 'width'])
def test_conv_block_rejects_bad_sizes(arg):
  kwargs = dict(filters=4, width=1)
  kwargs[arg] = 0
  with pytest.raises(ValueError, match=arg):
    ConvBlock(**kwargs)
