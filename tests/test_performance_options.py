"""The speed and memory options give the numbers of the plain path.

- inference ConvBlock (BatchNorm folded into one multiply-add) and the pair
  form of SoftmaxPooling1D equal the Keras BatchNorm / softmax formulas;
- `mixed_bfloat16=True` tracks float32 (per-track Pearson R >= 0.999);
- `dtype='float64'` computes in float64 throughout;
- `recompute_grad=True` gives the gradients, the outputs and the BatchNorm
  updates of `recompute_grad=False`, dropout included;
- `conv_implementation='matmul'` (float32's 'auto') gives the outputs and
  the gradients of TensorFlow's convolution ('conv').
"""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from enformer_tf import Enformer
from enformer_tf import model as model_module
from enformer_tf.layers import ConvBlock, SoftmaxPooling1D, recompute_grad
from enformer_tf.layers import recompute
from numpy_reference import np_enformer
from random_weights import randomise_weights

SMALL = dict(channels=48, num_transformer_layers=2, num_heads=2,
             heads={'human': 5, 'mouse': 3}, target_length=4,
             sequence_length=2048, conv_tower_divisible_by=8)


def small_model(**overrides):
  model = Enformer(**dict(SMALL, **overrides))
  model.build((None, SMALL['sequence_length'], 4))
  return model


def random_dna(batch, length, seed=0):
  rng = np.random.RandomState(seed)
  return np.eye(4, dtype='float32')[rng.randint(0, 4, (batch, length))]


def test_inference_conv_block_equals_keras_batch_norm():
  block = ConvBlock(6, 3)
  block.build((None, 16, 5))
  randomise_weights(block, seed=3, scale=0.5)
  x = np.random.RandomState(0).randn(2, 16, 5).astype('float32')
  for training in (False, True):  # Training: Keras' batch statistics.
    normalised = block.batch_norm(x, training=training)
    plain = block.conv(tf.nn.sigmoid(1.702 * normalised) * normalised)
    np.testing.assert_allclose(block(x, training=training).numpy(),
                               plain.numpy(), rtol=1e-5, atol=1e-6)


def test_frozen_batch_norm_uses_moving_statistics():
  block = ConvBlock(4, 1)
  block.build((None, 8, 3))
  randomise_weights(block, seed=1, scale=0.5)
  x = np.random.RandomState(2).randn(2, 8, 3).astype('float32')
  block.batch_norm.trainable = False
  np.testing.assert_allclose(block(x, training=True).numpy(),
                             block(x, training=False).numpy(), rtol=1e-6)


@pytest.mark.parametrize('per_channel', [True, False])
def test_pair_pooling_equals_softmax_over_window(per_channel):
  pool = SoftmaxPooling1D(pool_size=2, per_channel=per_channel)
  x = np.random.RandomState(4).randn(2, 10, 6).astype('float32')
  pool.build(x.shape)
  kernel = np.random.RandomState(5).randn(
      *pool.logit_linear.kernel.shape).astype('float32')
  pool.logit_linear.kernel.assign(kernel)
  windows = x.reshape(2, 5, 2, 6)
  logits = windows @ kernel
  weights = np.exp(logits - logits.max(2, keepdims=True))
  weights /= weights.sum(2, keepdims=True)
  np.testing.assert_allclose(pool(x).numpy(), (windows * weights).sum(2),
                             rtol=1e-5, atol=1e-6)


def test_optimised_forward_equals_numpy_reference():
  model = small_model()
  randomise_weights(model, seed=7, scale=0.15)
  x = random_dna(2, 2048, seed=1)
  _, expected = np_enformer(x.astype(np.float64), model)
  got = model.embed(x, training=False).numpy()
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def pearson_per_track(a, b):
  a = a.reshape(-1, a.shape[-1]) - a.reshape(-1, a.shape[-1]).mean(0)
  b = b.reshape(-1, b.shape[-1]) - b.reshape(-1, b.shape[-1]).mean(0)
  return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def test_mixed_bfloat16_tracks_float32():
  # Default initialisation: random weights of a fixed scale make a tiny
  # model's outputs nearly constant over bins (or explode), and a Pearson R
  # of nearly constant tracks measures nothing.
  overrides = dict(channels=96, heads={'human': 16, 'mouse': 8},
                   target_length=16)
  keras.utils.set_random_seed(0)
  reference = small_model(**overrides)
  mixed = small_model(mixed_bfloat16=True, **overrides)
  mixed.set_weights(reference.get_weights())
  assert mixed.compute_dtype == 'bfloat16'
  assert all(v.dtype == tf.float32 for v in mixed.weights)
  x = random_dna(2, 2048, seed=2)
  want = reference(x, training=False)
  got = mixed(x, training=False)
  for head in want:
    assert got[head].dtype == tf.float32
    r = pearson_per_track(got[head].numpy(), want[head].numpy())
    # bfloat16 keeps 8 bits: each block adds ~0.5 % of an activation's
    # spread across bins as noise, and this 96-channel model's tracks vary
    # by only ~3 % of their mean over 32 bins, so R is ~0.998 here. The
    # full-size figure is measured by bench/forward.py --compare_bfloat16.
    assert r.min() >= 0.995, (head, r.min())
  assert not np.array_equal(got['human'].numpy(), want['human'].numpy())


def test_mixed_bfloat16_ignores_global_float32_and_round_trips():
  model = small_model(mixed_bfloat16=True)
  stem = model.trunk.layers[0]
  assert stem.layers[0].compute_dtype == 'bfloat16'
  assert model.head_layers['human'].compute_dtype == 'float32'
  restored = Enformer.from_config(model.get_config())
  assert restored.mixed_bfloat16 and restored.compute_dtype == 'bfloat16'
  # No float32 copy of the bfloat16 activations at any Sequential's entry.
  assert entry_casts(model) == []


def sequentials(model):
  """(scope, Sequential) of the trunk and every Sequential inside it."""
  found = [('trunk', model.trunk)]
  for scope, layer in found:
    found += [(f'{scope}/{l.name}', l) for l in layer.layers
              if isinstance(l, keras.Sequential)]
  return found


def entry_casts(model):
  """Casts from the compute dtype to float32 made by a Sequential itself
  (an input layer's copy), not by a layer inside it, in the traced trunk."""
  dtype = tf.as_dtype(model.compute_dtype)
  trunk = tf.function(lambda x: model.trunk(x, training=False))
  graph = trunk.get_concrete_function(
      tf.TensorSpec([1, 2048, 4], dtype)).graph
  scopes = {scope for scope, _ in sequentials(model)}
  assert len(scopes) > 5
  return [op.name for op in graph.get_operations()
          if op.type == 'Cast' and op.name.rsplit('/', 1)[0] in scopes
          and op.get_attr('SrcT') == dtype
          and op.get_attr('DstT') == tf.float32]


def test_entry_casts_finds_a_float32_input_layer():
  """The check above can fail: a Sequential with a float32 input layer."""
  model = small_model(mixed_bfloat16=True)
  stem = model.trunk.layers[0]
  stem._use_legacy_deferred_behavior = False
  stem._build_graph_network_for_inferred_shape((None, 2048, 4), tf.float32)
  assert [name for name in entry_casts(model)
          if name.startswith('trunk/stem/')]


def test_float64_model_is_float64_throughout():
  """`dtype='float64'`: no step rounds to float32 (finite-difference checks)."""
  keras.utils.set_random_seed(0)
  reference = small_model()
  model = small_model(dtype='float64')
  model.set_weights(reference.get_weights())
  assert all(v.dtype == tf.float64 for v in model.weights)
  assert entry_casts(model) == []
  x = random_dna(2, 2048, seed=2).astype('float64')
  got = model(x, training=False)
  want = reference(x.astype('float32'), training=False)
  for head in want:
    assert got[head].dtype == tf.float64
    np.testing.assert_allclose(got[head].numpy(), want[head].numpy(),
                               rtol=1e-4)
  # A perturbation far below float32's resolution of the inputs still
  # moves the outputs: nothing rounded them to float32 on the way.
  nudged = model(x + 1e-9, training=False)['human'].numpy()
  assert not np.array_equal(nudged, got['human'].numpy())
  restored = Enformer.from_config(model.get_config())
  assert restored.compute_dtype == 'float64' and not restored.mixed_bfloat16
  assert 'dtype' not in reference.get_config()  # float32 configs unchanged.
  with pytest.raises(ValueError, match='Pass one or the other'):
    Enformer(mixed_bfloat16=True, dtype='float64')
  with pytest.raises(ValueError, match="got dtype policy 'float16'"):
    Enformer(dtype='float16')


def _gradients(model, x, y, training=True, graph=True):
  """The loss and its gradients: traced (`graph`, as training runs the
  option under test) or eager (a reference: ~1 s against ~3 s of tracing,
  the same kernels)."""
  def step():
    with tf.GradientTape() as tape:
      out = model(x, training=training)
      loss = sum(tf.reduce_mean(out[h] - y[h] * tf.math.log(out[h]))
                 for h in out)
    return loss, tape.gradient(loss, model.trainable_variables)
  return tf.function(step)() if graph else step()


@pytest.mark.parametrize('dropout', [0.0, 0.3])
def test_recompute_grad_gives_the_same_gradients_and_updates(dropout,
                                                             monkeypatch):
  kwargs = dict(dropout_rate=dropout, attention_dropout_rate=dropout,
                positional_dropout_rate=dropout, final_dropout_rate=0.0)
  plain = small_model(**kwargs)
  randomise_weights(plain, seed=5, scale=0.1)
  recomputing = small_model(recompute_grad=True, **kwargs)
  recomputing.set_weights(plain.get_weights())
  x = random_dna(2, 2048, seed=3)
  y = {h: np.random.RandomState(9).rand(2, 4, n).astype('float32')
       for h, n in SMALL['heads'].items()}
  # One fixed dropout seed per block for both runs: the plain model runs
  # each block under it without recomputation, so both draw the same masks.
  seed = tf.constant([1, 2])
  monkeypatch.setattr(recompute, '_draw_seed', lambda: seed)

  def plain_blocks(layer, inputs, **call_kwargs):
    with recompute._shared_dropout_seed(seed):
      return layer(inputs, **call_kwargs)

  with monkeypatch.context() as patch:
    patch.setattr(model_module, 'recompute_grad', plain_blocks)
    plain.recompute_grad = True  # The block-by-block path, not recomputed.
    want_loss, want = _gradients(plain, x, y, graph=False)
  got_loss, got = _gradients(recomputing, x, y)
  np.testing.assert_allclose(got_loss.numpy(), want_loss.numpy(), rtol=1e-6)
  for g, w, v in zip(got, want, plain.trainable_variables):
    np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-4, atol=1e-6,
                               err_msg=v.name)
  # BatchNorm moving averages moved once, as without recomputation.
  for a, b in zip(recomputing.non_trainable_variables,
                  plain.non_trainable_variables):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6,
                               err_msg=a.name)
  if dropout:  # Dropout did act: the masked gradients differ from those of
    # the same weights and batch without dropout (also in training mode).
    unmasked_model = small_model(**{k: 0.0 for k in kwargs})
    unmasked_model.set_weights(recomputing.get_weights())
    _, unmasked = _gradients(unmasked_model, x, y, graph=False)
    assert any(not np.allclose(g.numpy(), u.numpy())
               for g, u in zip(got, unmasked) if u is not None)


def test_conv_implementations_give_the_same_outputs_and_gradients():
  rates = dict(dropout_rate=0.0, attention_dropout_rate=0.0,
               positional_dropout_rate=0.0, final_dropout_rate=0.0)
  models = {implementation: small_model(conv_implementation=implementation,
                                        **rates)
            for implementation in ('conv', 'matmul')}  # 'auto': tests/layers.
  randomise_weights(models['conv'], seed=4, scale=0.1)
  for implementation, model in models.items():
    model.set_weights(models['conv'].get_weights())
    assert model.get_config()['conv_implementation'] == implementation
  x = random_dna(2, 2048, seed=5)
  y = {h: np.random.RandomState(6).rand(2, 4, n).astype('float32')
       for h, n in SMALL['heads'].items()}
  # Inference first: a training pass moves the BatchNorm averages.
  outputs = {k: model(x, training=False) for k, model in models.items()}
  # The implementation under test traced, as training runs it; the
  # reference eagerly (cheaper than a second trace, the same kernels).
  gradients = {k: _gradients(model, x, y, graph=k != 'conv')
               for k, model in models.items()}
  want_loss, want = gradients['conv']
  for implementation in ('matmul',):
    for head, want_out in outputs['conv'].items():
      np.testing.assert_allclose(outputs[implementation][head].numpy(),
                                 want_out.numpy(), rtol=1e-4, atol=1e-6)
    got_loss, got = gradients[implementation]
    np.testing.assert_allclose(got_loss.numpy(), want_loss.numpy(), rtol=1e-5)
    for g, w, v in zip(got, want, models['conv'].trainable_variables):
      np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-3,
                                 atol=1e-5 * np.abs(w.numpy()).max() + 1e-7,
                                 err_msg=v.name)
  with pytest.raises(ValueError, match="'auto', 'conv', 'matmul'.*'direct'"):
    Enformer(conv_implementation='direct')


def test_recompute_grad_reproduces_dropout_masks():
  layer = keras.Sequential([keras.layers.Dense(8),
                            recompute.RecomputableDropout(0.5),
                            keras.layers.Dense(3)])
  layer.build((None, 4))
  x = tf.constant(np.random.RandomState(0).randn(5, 4).astype('float32'))
  seed = tf.constant([3, 4])

  def masked_forward():
    with recompute._shared_dropout_seed(seed):
      return layer(x, training=True)

  with tf.GradientTape() as tape:
    want = masked_forward()
  want_grads = tape.gradient(want, layer.trainable_variables)
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(recompute, '_draw_seed', lambda: seed)
    with tf.GradientTape() as tape:
      got = recompute_grad(layer, x, training=True)
    got_grads = tape.gradient(got, layer.trainable_variables)
  np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
  for g, w in zip(got_grads, want_grads):
    np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-7)
