"""Independent NumPy (float64) implementations used as test oracles."""
import math

import numpy as np


def np_exponential(d, n, t, min_half_life=3.0):
  half_life = 2.0**np.linspace(min_half_life, np.log2(t), n)
  return np.exp(-np.log(2.0) * np.abs(d)[:, None] / half_life[None])


def np_central_mask(d, n):
  widths = 2.0**np.arange(1, n + 1) - 1
  return (widths[None] > np.abs(d)[:, None]).astype(np.float64)


def np_gamma(d, n, t):
  mean = np.linspace(t / n, t, n)
  stddev = t / (2 * n)
  out = np.zeros((len(d), n))
  for j in range(n):
    conc = (mean[j] / stddev)**2
    rate = mean[j] / stddev**2
    for i, x in enumerate(np.abs(d)):
      if x == 0:
        log_unnorm = 0.0 if conc == 1 else -np.inf
      else:
        log_unnorm = (conc - 1) * math.log(x) - rate * x
      out[i, j] = math.exp(log_unnorm - (math.lgamma(conc)
                                         - conc * math.log(rate)))
  out += 1e-8
  return out / out.max(axis=0, keepdims=True)


def np_cosine(d, n):
  period = 1.25 * 2.0**np.arange(n)
  return np.cos(2 * np.pi * d[:, None] / period[None])


def np_linear_masks(d, n):
  return (np.arange(n)[None] == np.abs(d)[:, None]).astype(np.float64)


def np_sin_cos(d, n, max_time=10000.0):
  i = np.arange(0, n, 2)
  angles = d[:, None] / max_time**(i[None] / n)
  return np.concatenate([np.sin(angles), np.cos(angles)], axis=-1)


def np_positional_features_all(distances, feature_size, seq_length):
  """Enformer's default basis: [exp, central mask, gamma], then * sign(d)."""
  n = feature_size // 6
  symmetric = np.concatenate([np_exponential(distances, n, seq_length),
                              np_central_mask(distances, n),
                              np_gamma(distances, n, seq_length)], axis=-1)
  return np.concatenate(
      [symmetric, np.sign(distances)[:, None] * symmetric], axis=-1)


def np_softmax(x, axis=-1):
  e = np.exp(x - x.max(axis=axis, keepdims=True))
  return e / e.sum(axis=axis, keepdims=True)


def np_relative_attention(x, wq, wk, wv, wrk, r_w_bias, r_r_bias, we, be,
                          num_heads, key_size, value_size):
  """Enformer's attention, written from the logits formula with loops.

  logits[b, h, i, j] = (q_i + r_w_bias) . k_j + (q_i + r_r_bias) . r_{j - i}
  """
  b, t, _ = x.shape
  q = (x @ wq).reshape(b, t, num_heads, key_size) * key_size**-0.5
  k = (x @ wk).reshape(b, t, num_heads, key_size)
  v = (x @ wv).reshape(b, t, num_heads, value_size)
  distances = np.arange(-(t - 1), t, dtype=np.float64)
  features = np_positional_features_all(distances, wrk.shape[0], t)
  r = (features @ wrk).reshape(2 * t - 1, num_heads, key_size)
  logits = np.zeros((b, num_heads, t, t))
  for bi in range(b):
    for h in range(num_heads):
      for i in range(t):
        for j in range(t):
          content = (q[bi, i, h] + r_w_bias[0, h, 0]) @ k[bi, j, h]
          relative = (q[bi, i, h] + r_r_bias[0, h, 0]) @ r[j - i + t - 1, h]
          logits[bi, h, i, j] = content + relative
  weights = np_softmax(logits)
  out = np.einsum('bhij,bjhv->bihv', weights, v).reshape(b, t, -1)
  return out @ we + be, weights


# -- A whole Enformer forward pass in NumPy (inference) ------------------------


def np_gelu(x):
  return x / (1 + np.exp(-1.702 * x))


def np_conv1d_same(x, kernel, bias):
  width = kernel.shape[0]
  left = (width - 1) // 2
  padded = np.pad(x, ((0, 0), (left, width - 1 - left), (0, 0)))
  out = np.stack([np.einsum('bkc,kcf->bf', padded[:, i:i + width], kernel)
                  for i in range(x.shape[1])], axis=1)
  return out + bias


def np_conv_block(x, block):
  bn = block.batch_norm
  h = ((x - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + 1e-5)
       * bn.gamma.numpy() + bn.beta.numpy())
  return np_conv1d_same(np_gelu(h), block.conv.kernel.numpy(),
                        block.conv.bias.numpy())


def np_softmax_pool(x, pool):
  b, length, c = x.shape
  windows = x.reshape(b, length // 2, 2, c)
  weights = np_softmax(windows @ pool.logit_linear.kernel.numpy(), axis=2)
  return (windows * weights).sum(axis=2)


def np_layer_norm(x, ln):
  mu = x.mean(-1, keepdims=True)
  var = x.var(-1, keepdims=True)
  return (x - mu) / np.sqrt(var + 1e-5) * ln.gamma.numpy() + ln.beta.numpy()


def np_enformer(x, model):
  """Inference forward of an `Enformer` built with attention pooling."""
  stem, conv_tower, transformer, _, final = model.trunk.layers
  conv, residual, pool = stem.layers
  h = np_conv1d_same(x, conv.kernel.numpy(), conv.bias.numpy())
  h = h + np_conv_block(h, residual.layer)
  h = np_softmax_pool(h, pool)
  for tower_block in conv_tower.layers:
    block, residual, pool = tower_block.layers
    h = np_conv_block(h, block)
    h = h + np_conv_block(h, residual.layer)
    h = np_softmax_pool(h, pool)
  for block in transformer.layers:
    mha = block.mha
    attended, _ = np_relative_attention(
        np_layer_norm(h, block.mha_layer_norm), mha.q_layer.kernel.numpy(),
        mha.k_layer.kernel.numpy(), mha.v_layer.kernel.numpy(),
        mha.r_k_layer.kernel.numpy(), mha.r_w_bias.numpy(),
        mha.r_r_bias.numpy(), mha.embedding_layer.kernel.numpy(),
        mha.embedding_layer.bias.numpy(), mha.num_heads, mha.key_size,
        mha.value_size)
    h = h + attended
    m = np_layer_norm(h, block.mlp_layer_norm)
    m = np.maximum(m @ block.mlp_linear1.kernel.numpy()
                   + block.mlp_linear1.bias.numpy(), 0)
    h = h + m @ block.mlp_linear2.kernel.numpy() + block.mlp_linear2.bias.numpy()
  if model.target_length is not None:
    trim = (h.shape[1] - model.target_length) // 2
    h = h[:, trim:trim + model.target_length]
  embedding = np_gelu(np_conv_block(h, final.layers[0]))
  outputs = {}
  for organism, head in model.head_layers.items():
    logits = embedding @ head.kernel.numpy() + head.bias.numpy()
    outputs[organism] = np.logaddexp(0, logits)  # softplus
  return outputs, embedding
