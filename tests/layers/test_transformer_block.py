"""TransformerBlock against NumPy: pre-normalised residual attention and MLP."""
import numpy as np
import pytest

from enformer_tf.layers import TransformerBlock
from attention_setup import ATTENTION_KWARGS, B, H, K, T, V, X
from layer_test_case import run_layer_test
from numpy_reference import np_relative_attention
from random_weights import randomise_weights


def test_transformer_block_contract():
  run_layer_test(TransformerBlock,
                 dict(channels=H * V, dropout_rate=0.3,
                      attention_kwargs=ATTENTION_KWARGS,
                      attention_name='attention_7', name='transformer_block_7'),
                 X, (B, T, H * V))


def test_transformer_block_matches_numpy():
  block = TransformerBlock(H * V, 0.4, ATTENTION_KWARGS)
  block.build(X.shape)
  randomise_weights(block, seed=2, scale=0.3)
  out, weights = block(X, training=False, return_attention_weights=True)

  def layer_norm(x, ln):
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * ln.gamma.numpy() + ln.beta.numpy()

  mha = block.mha
  attended, _ = np_relative_attention(
      layer_norm(X.astype(np.float64), block.mha_layer_norm),
      mha.q_layer.kernel.numpy(), mha.k_layer.kernel.numpy(),
      mha.v_layer.kernel.numpy(), mha.r_k_layer.kernel.numpy(),
      mha.r_w_bias.numpy(), mha.r_r_bias.numpy(),
      mha.embedding_layer.kernel.numpy(), mha.embedding_layer.bias.numpy(),
      H, K, V)
  h = X + attended
  m = layer_norm(h, block.mlp_layer_norm)
  m = np.maximum(m @ block.mlp_linear1.kernel.numpy()
                 + block.mlp_linear1.bias.numpy(), 0)
  m = m @ block.mlp_linear2.kernel.numpy() + block.mlp_linear2.bias.numpy()
  np.testing.assert_allclose(out.numpy(), h + m, rtol=1e-4, atol=1e-4)
  assert weights.shape == (B, H, T, T)


def test_transformer_block_contract_with_zero_initialised_mlp():
  run_layer_test(TransformerBlock,
                 dict(channels=H * V, dropout_rate=0.3,
                      attention_kwargs=ATTENTION_KWARGS,
                      mlp_zero_initialize=True),
                 X, (B, T, H * V),
                 # The mixed-precision check randomises the weights, so it
                 # would repeat test_transformer_block_contract's.
                 mixed_policies=())


@pytest.mark.parametrize('mlp_zero_initialize', [False, True])
def test_mlp_zero_initialize_makes_a_fresh_block_the_identity(
    mlp_zero_initialize):
  # The attention output starts at zero either way (zero_initialize=True);
  # only with the option does the MLP branch add nothing at first.
  block = TransformerBlock(H * V, 0.0, ATTENTION_KWARGS,
                           mlp_zero_initialize=mlp_zero_initialize)
  out = block(X, training=False).numpy()
  assert np.all(block.mlp_linear2.kernel.numpy() == 0) == mlp_zero_initialize
  assert np.any(block.mlp_linear1.kernel.numpy() != 0)
  if mlp_zero_initialize:
    np.testing.assert_array_equal(out, X)
  else:
    assert np.abs(out - X).max() > 0.1


def test_transformer_block_checks_width():
  with pytest.raises(ValueError, match='must equal channels'):
    TransformerBlock(10, 0.1, ATTENTION_KWARGS)
