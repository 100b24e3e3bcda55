"""The Enformer model: architecture, parity wiring, inputs, serialization."""
import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import enformer_tf
from enformer_tf import Enformer
from enformer_tf.layers import SoftmaxPooling1D
from enformer_tf.model import conv_tower_filters
from numpy_reference import np_enformer
from random_weights import randomise_weights as _randomise


def randomise_weights(model, seed=0):
  _randomise(model, seed, scale=0.15)


TINY = dict(channels=48, num_transformer_layers=2, num_heads=2,
            heads={'human': 5, 'mouse': 3}, target_length=4,
            sequence_length=2048, conv_tower_divisible_by=8)


def tiny_model(**overrides):
  model = Enformer(**dict(TINY, **overrides))
  model.build((None, TINY['sequence_length'], 4))
  return model


def random_dna(batch, length, seed=0):
  rng = np.random.RandomState(seed)
  return np.eye(4, dtype='float32')[rng.randint(0, 4, (batch, length))]


@tf.autograph.experimental.do_not_convert
def _built_in_a_graph():
  """The default Enformer, built in the current graph without autograph:
  the layers' Python code runs once and declares every variable (autograph
  converting each layer's `call` first took half of the 8 s)."""
  model = Enformer()
  model.build((None, enformer_tf.SEQUENCE_LENGTH, 4))
  return model


def test_default_model_has_published_parameter_count():
  # Built in a graph, the 251 M variables are declared but never filled:
  # the same shapes in half the time of building them eagerly.
  with tf.Graph().as_default():
    model = _built_in_a_graph()
    count = lambda vs: sum(int(np.prod(v.shape)) for v in vs)
    assert count(model.trainable_variables) == 251_221_292
    heads = [v for h in model.head_layers.values()
             for v in h.trainable_variables]
    assert count(heads) == 21_375_788
    # Non-trainable: BatchNorm moving mean and variance only.
    assert all('moving_' in v.name for v in model.non_trainable_variables)


def test_default_architecture_settings():
  model = Enformer()
  assert conv_tower_filters(1536) == [768, 896, 1024, 1152, 1280, 1536]
  stem, conv_tower, transformer, crop, final = model.trunk.layers
  assert [l.name for l in model.trunk.layers] == [
      'stem', 'conv_tower', 'transformer', 'target_input', 'final_pointwise']
  assert stem.layers[0].kernel_size == (15,) and stem.layers[0].filters == 768
  assert [b.name for b in conv_tower.layers] == [
      f'conv_tower_block_{i}' for i in range(6)]
  assert [b.layers[0].width for b in conv_tower.layers] == [5] * 6
  assert all(isinstance(b.layers[2], SoftmaxPooling1D)
             and b.layers[2].w_init_scale == 2.0 and b.layers[2].per_channel
             for b in conv_tower.layers)
  assert [b.name for b in transformer.layers] == [
      f'transformer_block_{i}' for i in range(11)]
  block = transformer.layers[0]
  mha = block.mha
  assert (mha.num_heads, mha.key_size, mha.value_size) == (8, 64, 192)
  assert mha.num_relative_position_features == 192
  assert mha.attention_dropout_rate == 0.05
  assert mha.positional_dropout_rate == 0.01
  assert mha.zero_initialize and mha.scaling and mha.relative_positions
  assert block.dropout_rate == 0.4
  assert block.mha_layer_norm.epsilon == 1e-5
  assert block.mlp_layer_norm.epsilon == 1e-5
  assert crop.target_length == 896
  assert final.layers[0].filters == 3072 and final.layers[1].rate == 0.05
  assert {h.name for h in model.head_layers.values()} == {'head_human',
                                                          'head_mouse'}
  assert model.head_layers['human'].units == 5313
  assert model.head_layers['mouse'].units == 1643


def test_forward_matches_numpy_enformer():
  model = tiny_model()
  randomise_weights(model)
  x = random_dna(2, 2048)
  x[0, 100:300] = 0  # a run of N
  outputs = model(x, training=False)
  expected, embedding = np_enformer(x.astype(np.float64), model)
  np.testing.assert_allclose(model.embed(x).numpy(), embedding, rtol=2e-4,
                             atol=2e-4)
  for organism in ('human', 'mouse'):
    np.testing.assert_allclose(outputs[organism].numpy(), expected[organism],
                               rtol=2e-4, atol=2e-4)


@pytest.fixture(scope='module')
def uncropped_model():
  """The tiny model without the target crop, shared by tests that only call
  it (building it is most of such a test's time)."""
  return tiny_model(target_length=None)


@pytest.fixture(scope='module')
def unrandomised_model():
  """The tiny model as built, shared by the tests that only feed it bad
  inputs."""
  return tiny_model()


@pytest.mark.parametrize('length, bins', [(1024, 8), (2048, 16), (4096, 16)])
def test_embedding_lengths(uncropped_model, length, bins):
  model = uncropped_model
  assert model.embed(random_dna(1, length)).shape == (1, bins, 96)


def test_long_inputs_are_centre_cropped():
  model = tiny_model()
  randomise_weights(model)
  x = random_dna(1, 4096)
  np.testing.assert_allclose(model(x)['human'].numpy(),
                             model(x[:, 1024:3072])['human'].numpy(),
                             rtol=1e-6)


@pytest.mark.parametrize('length', [1000, 1100, 384])
def test_invalid_lengths_name_the_valid_ones(unrandomised_model, length):
  model = unrandomised_model
  with pytest.raises(ValueError, match=r'multiple of 128 bp of at least 512'):
    model(random_dna(1, length))


def test_wrong_rank_or_alphabet_size(unrandomised_model):
  model = unrandomised_model
  with pytest.raises(ValueError, match=r'\[batch, length, 4\]'):
    model(np.zeros((1, 2048, 5), 'float32'))
  with pytest.raises(ValueError, match=r'\[batch, length, 4\]'):
    model(np.zeros((2048, 4), 'float32'))


@pytest.mark.slow
@pytest.mark.parametrize('length', [131_072, 196_608, 393_216])
def test_published_input_lengths_on_narrow_model(length):
  model = Enformer(channels=48, num_transformer_layers=1, num_heads=2,
                   heads={'human': 3, 'mouse': 2}, conv_tower_divisible_by=8)
  out = model.predict_on_batch(random_dna(1, length))
  assert out['human'].shape == (1, 896, 3) and out['mouse'].shape == (1, 896, 2)


def test_predict_head_and_attention_weights():
  model = tiny_model()
  randomise_weights(model)
  x = random_dna(2, 2048)
  np.testing.assert_allclose(model.predict_head(x, 'mouse').numpy(),
                             model(x)['mouse'].numpy(), rtol=1e-6)
  with pytest.raises(ValueError, match="Unknown head 'dog'"):
    model.predict_head(x, 'dog')
  weights = model.attention_weights(x)
  assert len(weights) == 2 and weights[0].shape == (2, 2, 16, 16)
  np.testing.assert_allclose(weights[1].numpy().sum(-1), 1.0, rtol=1e-5)
  # One pass for the embedding and the attention: the same as each alone.
  embedding, same_weights = model.embed_with_attention(x)
  np.testing.assert_allclose(embedding.numpy(),
                             model.embed(x, training=False).numpy(),
                             rtol=1e-6)
  for a, b in zip(same_weights, weights):
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_max_pooling_and_no_transformer():
  model = tiny_model(pooling_type='max', num_transformer_layers=0)
  out = model(random_dna(1, 2048))
  assert out['human'].shape == (1, 4, 5)
  assert not any(isinstance(l, SoftmaxPooling1D)
                 for l in model.trunk.layers[0].layers)


def test_mlp_zero_initialize_reaches_every_transformer_block():
  # The transformer is then the identity at initialisation: its output
  # equals the conv tower's, for every block.
  model = tiny_model(num_transformer_layers=2, mlp_zero_initialize=True)
  stem, conv_tower, transformer = model.trunk.layers[:3]
  blocks = transformer.layers
  assert len(blocks) == 2
  assert all(np.all(b.mlp_linear2.kernel.numpy() == 0) for b in blocks)
  tower = conv_tower(stem(random_dna(1, 2048), training=False),
                     training=False)
  np.testing.assert_array_equal(transformer(tower, training=False), tower)
  default = tiny_model(num_transformer_layers=2)
  assert all(np.any(b.mlp_linear2.kernel.numpy() != 0)
             for b in default.trunk.layers[2].layers)


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_heads=5), 'divisible by num_heads'),
    (dict(channels=64, num_heads=2), 'divisible by 6'),
    (dict(pooling_type='mean'), 'pooling_type'),
    (dict(heads={}), 'at least one organism'),
    (dict(heads={'human': 0}), "heads\\['human'\\]"),
    (dict(sequence_length=1000), 'multiple of 128'),
    (dict(conv_tower_divisible_by=128), 'conv_tower_divisible_by'),
])
def test_bad_arguments_are_named(kwargs, match):
  with pytest.raises(ValueError, match=match):
    Enformer(**dict(TINY, **kwargs))


NON_DEFAULT = dict(
    channels=48, num_transformer_layers=1, num_heads=2, pooling_type='max',
    heads={'yeast': 2, 'fly': 7}, target_length=6, sequence_length=1024,
    dropout_rate=0.2, attention_dropout_rate=0.1, positional_dropout_rate=0.2,
    final_dropout_rate=0.3, mlp_zero_initialize=True, key_size=8,
    num_relative_position_features=12,
    relative_position_functions=['positional_features_exponential',
                                 'positional_features_gamma'],
    conv_tower_divisible_by=4, synchronized_batch_norm=False,
    mixed_bfloat16=True, recompute_grad=True, name='my_model')


def test_config_round_trip_covers_every_argument():
  import inspect
  model = Enformer(**NON_DEFAULT)
  config = model.get_config()
  args = set(inspect.signature(Enformer.__init__).parameters) - {
      'self', 'kwargs'}
  assert args <= set(config)
  for key, value in NON_DEFAULT.items():
    assert config[key] == value, key
  restored = Enformer.from_config(json.loads(json.dumps(config)))
  assert restored.get_config() == config
  assert restored.head_layers['fly'].units == 7


def test_fit_one_step_finite_loss():
  # One transformer block: tracing the training step is most of the time
  # and grows with every block; a second one of the same class adds no code.
  model = tiny_model(num_transformer_layers=1)
  x = random_dna(2, 2048)
  y = {'human': np.random.rand(2, 4, 5).astype('float32'),
       'mouse': np.random.rand(2, 4, 3).astype('float32')}
  model.compile(optimizer=keras.optimizers.Adam(1e-3),
                loss={'human': 'poisson', 'mouse': 'poisson'})
  history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
  assert np.isfinite(history.history['loss'][0])


def test_keras_save_and_load_identical(tmp_path):
  model = tiny_model(**{k: v for k, v in NON_DEFAULT.items()
                        if k not in ('sequence_length', 'target_length',
                                     'pooling_type')})
  randomise_weights(model)
  x = random_dna(2, 2048)
  before = model(x, training=False)
  path = str(tmp_path / 'model.keras')
  model.save(path)
  loaded = keras.models.load_model(path)
  after = loaded(x, training=False)
  assert isinstance(loaded, Enformer)
  for organism in before:
    np.testing.assert_array_equal(before[organism].numpy(),
                                  after[organism].numpy())


@pytest.mark.slow
def test_savedmodel_save_works(tmp_path):
  # One transformer block, not two: saving traces every layer's `call`, and
  # a second block of the same class adds tracing, not a new case.
  model = tiny_model(num_transformer_layers=1)
  randomise_weights(model)
  x = random_dna(1, 2048)
  expected = model(x)['human'].numpy()
  model.save(str(tmp_path / 'sm'), save_format='tf')
  loaded = tf.saved_model.load(str(tmp_path / 'sm'))
  got = loaded(tf.constant(x), training=False)['human'].numpy()
  np.testing.assert_allclose(got, expected, rtol=1e-6)
  restored = keras.models.load_model(str(tmp_path / 'sm'))
  np.testing.assert_allclose(restored(x)['human'].numpy(), expected, rtol=1e-6)
