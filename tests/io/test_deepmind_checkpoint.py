"""Importing DeepMind's Enformer weights: checkpoint and Variable.name paths.

The checkpoints are made by `fake_deepmind_checkpoint` (plain tf.Modules in
the Sonnet layout; its layout is checked against keys observed from the real
reference code). Converted models are compared with a model whose weights are
assigned here by hand.
"""
import copy
import importlib.util
import os
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from enformer_tf import Enformer
from enformer_tf.cli import convert as convert_cli
from enformer_tf.io import deepmind_checkpoint as convert
from enformer_tf.io.deepmind_checkpoint import WeightImportError


def _import_beside(name):
  """The module `name`.py beside this file, imported by path: this folder
  mirrors `enformer_tf/io`, and `io` is the standard library's, so
  `from io import ...` cannot reach it."""
  spec = importlib.util.spec_from_file_location(
      name, os.path.join(os.path.dirname(__file__), f'{name}.py'))
  module = importlib.util.module_from_spec(spec)
  sys.modules[name] = module
  spec.loader.exec_module(module)
  return module


fake = _import_beside('fake_deepmind_checkpoint')
LAYOUT = os.path.join(os.path.dirname(__file__), 'reference_layout.txt')
TINY = dict(channels=48, num_transformer_layers=2, num_heads=2, key_size=8,
            heads={'human': 5, 'mouse': 3})
# What the converter should infer from a TINY checkpoint.
TINY_CONFIG = dict(channels=48, num_transformer_layers=2, num_heads=2,
                   key_size=8, num_relative_position_features=24,
                   pooling_type='attention', conv_tower_divisible_by=8,
                   heads={'human': 5, 'mouse': 3})
LENGTHS = dict(sequence_length=2048, target_length=4)
MLP_LINEAR2_B = ('transformer', 1, 'linear2', 'b')
MLP_LINEAR2_B_KEY = ('module/_trunk/_layers/2/_layers/1/_layers/1/_module/'
                     '_layers/4/b')


@pytest.fixture(scope='module')
def params():
  return fake.random_params(**TINY, seed=3)


@pytest.fixture(scope='module')
def checkpoint(params, tmp_path_factory):
  return fake.write_checkpoint(
      params, str(tmp_path_factory.mktemp('ckpt') / 'enformer-test-1'))


def random_dna(batch, length, seed=0):
  rng = np.random.RandomState(seed)
  x = np.eye(4, dtype='float32')[rng.randint(0, 4, (batch, length))]
  x[0, 100:200] = 0  # a run of N
  return x


def weights_by_hand(model, params):
  """(our variable, its value in `params`) for every weight: the oracle.

  Written attribute by attribute from the layer tree, independently of the
  converter's key table.
  """
  pairs = []

  def conv_block(block, p):
    bn = block.batch_norm
    pairs.extend([(bn.gamma, p['scale']), (bn.beta, p['offset']),
                  # The debiased averages, not the `hidden` EMA states.
                  (bn.moving_mean, p['mean'][0, 0]),
                  (bn.moving_variance, p['variance'][0, 0]),
                  (block.conv.kernel, p['w']), (block.conv.bias, p['b'])])

  def dense(layer, p):
    pairs.extend([(layer.kernel, p['w']), (layer.bias, p['b'])])

  def layer_norm(layer, p):
    pairs.extend([(layer.gamma, p['scale']), (layer.beta, p['offset'])])

  stem, tower, transformer, _, final = model.trunk.layers
  conv, residual, pool = stem.layers
  dense(conv, params['stem']['conv'])
  conv_block(residual.layer, params['stem']['pointwise'])
  if params['stem']['pool'] is not None:
    pairs.append((pool.logit_linear.kernel, params['stem']['pool']))
  for tower_block, p in zip(tower.layers, params['tower']):
    block, residual, pool = tower_block.layers
    conv_block(block, p['conv_block'])
    conv_block(residual.layer, p['pointwise'])
    if p['pool'] is not None:
      pairs.append((pool.logit_linear.kernel, p['pool']))
  for block, p in zip(transformer.layers, params['transformer']):
    layer_norm(block.mha_layer_norm, p['mha_layer_norm'])
    mha = block.mha
    pairs.extend([(mha.q_layer.kernel, p['q']), (mha.k_layer.kernel, p['k']),
                  (mha.v_layer.kernel, p['v']),
                  (mha.r_k_layer.kernel, p['r_k']),
                  (mha.r_w_bias, p['r_w_bias']),
                  (mha.r_r_bias, p['r_r_bias'])])
    dense(mha.embedding_layer, p['embedding'])
    layer_norm(block.mlp_layer_norm, p['mlp_layer_norm'])
    dense(block.mlp_linear1, p['linear1'])
    dense(block.mlp_linear2, p['linear2'])
  conv_block(final.layers[0], params['final'])
  for organism, head in model.head_layers.items():
    dense(head, params['heads'][organism])
  assert len(pairs) == len(model.weights)  # The oracle covers every weight.
  return pairs


def assert_weights_are(model, params):
  for variable, value in weights_by_hand(model, params):
    np.testing.assert_array_equal(variable.numpy(), value,
                                  err_msg=variable.name)


def weights_of(model):
  return [w.numpy().copy() for w in model.weights]


# -- The fake checkpoint has the real layout ----------------------------------


def test_fake_checkpoint_layout_matches_reference(tmp_path):
  golden = fake.read_layout(LAYOUT)
  params = fake.random_params(channels=384, num_transformer_layers=2,
                              num_heads=8, key_size=64, divisible_by=128,
                              heads={'human': 5313, 'mouse': 1643},
                              num_relative_position_features=48)
  path = fake.write_checkpoint(params, str(tmp_path / 'ckpt'))
  keys = [(k, tuple(s)) for k, s in tf.train.list_variables(path)
          if k != '_CHECKPOINTABLE_OBJECT_GRAPH']
  assert sorted(keys) == sorted(golden['key'])
  _, variables = fake.build_module(params)
  names = [(v.name, tuple(v.shape)) for v in variables]
  assert sorted(names) == sorted(golden['var'])


# -- Checkpoint path ----------------------------------------------------------


@pytest.fixture(scope='module')
def converted(checkpoint):
  return convert.enformer_from_deepmind_checkpoint(checkpoint, **LENGTHS)


@pytest.fixture(scope='module')
def blank():
  """A built TINY model; failed loads must leave it as it is."""
  model = Enformer(**TINY_CONFIG, **LENGTHS)
  model.build((None, LENGTHS['sequence_length'], 4))
  return model


def test_checkpoint_conversion_equals_direct_assignment(params, converted):
  assert_weights_are(converted, params)
  expected = Enformer(**TINY_CONFIG, **LENGTHS)
  expected.build((None, LENGTHS['sequence_length'], 4))
  for variable, value in weights_by_hand(expected, params):
    variable.assign(value)
  x = random_dna(2, 2048)
  got, want = converted(x, training=False), expected(x, training=False)
  for organism in ('human', 'mouse'):
    np.testing.assert_allclose(got[organism].numpy(), want[organism].numpy(),
                               rtol=1e-6, atol=1e-6)


def test_debiased_average_not_hidden_is_loaded(params, converted):
  bn = converted.trunk.layers[0].layers[1].layer.batch_norm
  p = params['stem']['pointwise']
  np.testing.assert_array_equal(bn.moving_mean.numpy(), p['mean'][0, 0])
  np.testing.assert_array_equal(bn.moving_variance.numpy(),
                                p['variance'][0, 0])
  assert not np.allclose(p['mean_hidden'], p['mean'])


def test_load_into_given_unbuilt_model_and_directory_path(params, checkpoint):
  model = Enformer(**TINY_CONFIG, **LENGTHS)
  assert not model.built
  convert.load_deepmind_checkpoint(model, os.path.dirname(checkpoint))
  assert_weights_are(model, params)


def test_missing_variable_is_named_and_nothing_loaded(params, blank,
                                                      tmp_path):
  broken = fake.remove(copy.deepcopy(params), MLP_LINEAR2_B)
  path = fake.write_checkpoint(broken, str(tmp_path / 'ckpt'))
  before = weights_of(blank)
  with pytest.raises(WeightImportError) as error:
    convert.load_deepmind_checkpoint(blank, path)
  assert error.value.missing == [MLP_LINEAR2_B_KEY]
  assert not error.value.unexpected and not error.value.misshaped
  assert MLP_LINEAR2_B_KEY in str(error.value).splitlines()[0]
  assert 'nothing was loaded' in str(error.value)
  for got, want in zip(weights_of(blank), before):
    np.testing.assert_array_equal(got, want)


def test_misshaped_variable_is_named_with_shapes_and_nothing_loaded(
    params, blank, tmp_path):
  broken = copy.deepcopy(params)
  broken['transformer'][0]['q'] = np.zeros((48, 17), 'float32')
  path = fake.write_checkpoint(broken, str(tmp_path / 'ckpt'))
  before = weights_of(blank)
  with pytest.raises(WeightImportError) as error:
    convert.load_deepmind_checkpoint(blank, path)
  [message] = error.value.misshaped
  assert message.startswith('module/_trunk/_layers/2/_layers/0/_layers/0/'
                            '_module/_layers/1/_q_layer/w: [48, 17] vs model '
                            '[48, 16]')
  assert not error.value.missing and not error.value.unexpected
  for got, want in zip(weights_of(blank), before):
    np.testing.assert_array_equal(got, want)


def test_every_problem_is_listed_at_once(checkpoint):
  # A model with a head the checkpoint lacks and a wider human head:
  # missing, unexpected and misshaped names in one error.
  model = Enformer(**dict(TINY_CONFIG, heads={'human': 6, 'fly': 2}),
                   **LENGTHS)
  with pytest.raises(WeightImportError) as error:
    convert.load_deepmind_checkpoint(model, checkpoint)
  assert error.value.missing == ['module/_heads/fly/_layers/0/w',
                                 'module/_heads/fly/_layers/0/b']
  assert error.value.unexpected == ['module/_heads/mouse/_layers/0/b',
                                    'module/_heads/mouse/_layers/0/w']
  assert [m.split(':')[0] for m in error.value.misshaped] == [
      'module/_heads/human/_layers/0/w', 'module/_heads/human/_layers/0/b']


def test_not_a_checkpoint_and_wrong_checkpoint(tmp_path):
  with pytest.raises(FileNotFoundError, match='nowhere'):
    convert.infer_config_from_checkpoint(str(tmp_path / 'nowhere'))
  other = tf.train.Checkpoint(model=tf.Module()).write(str(tmp_path / 'x'))
  with pytest.raises(ValueError, match='_trunk/_layers/0/_layers/0/w'):
    convert.infer_config_from_checkpoint(other)


# -- Configuration inference --------------------------------------------------


def test_config_inference(checkpoint):
  assert convert.infer_config_from_checkpoint(checkpoint) == TINY_CONFIG
  # One of the checkpoint's files names it too.
  assert convert.infer_config_from_checkpoint(
      checkpoint + '.index') == TINY_CONFIG


def test_config_inference_max_pooling_no_transformer(tmp_path):
  params = fake.random_params(channels=64, num_transformer_layers=0,
                              num_heads=4, pooling_type='max',
                              divisible_by=16, heads={'dog': 2}, seed=1)
  path = fake.write_checkpoint(params, str(tmp_path / 'ckpt'))
  assert convert.infer_config_from_checkpoint(path) == dict(
      channels=64, num_transformer_layers=0, pooling_type='max',
      conv_tower_divisible_by=16, heads={'dog': 2})
  # A checkpoint without transformer layers does not fix num_heads.
  model = convert.enformer_from_deepmind_checkpoint(path, num_heads=4,
                                                    **LENGTHS)
  assert model.pooling_type == 'max'
  assert_weights_are(model, params)


# -- Variable.name path -------------------------------------------------------


def test_variables_path(params):
  module, variables = fake.build_module(params)
  assert convert.infer_config_from_variables(variables) == TINY_CONFIG
  model = convert.enformer_from_deepmind_variables(variables, **LENGTHS)
  assert_weights_are(model, params)
  # A module with `.variables` (tf.Module lists them in its own order; the
  # mean EMA still comes before the variance) loads into a given model.
  convert.load_deepmind_variables(model, module)
  assert_weights_are(model, params)


def test_variables_mlp_linears_by_shape_pairs_and_other_root(params):
  _, variables = fake.build_module(params, root_name='enformer_1')
  linears = [v for v in variables if '/mlp/linear/' in v.name]
  others = [v for v in variables if '/mlp/linear/' not in v.name]
  # Linear 2 listed before linear 1, as (name, value) pairs.
  pairs = [(v.name, v.numpy()) for v in others + linears[::-1]]
  model = convert.enformer_from_deepmind_variables(pairs, **LENGTHS)
  assert_weights_are(model, params)


def test_variables_missing_and_unexpected_are_named(params, blank):
  broken = fake.remove(copy.deepcopy(params), ('final', 'variance'))
  _, variables = fake.build_module(broken)
  extra = tf.Variable(np.zeros(3, 'float32'), name='enformer/trunk/mystery/w')
  before = weights_of(blank)
  with pytest.raises(WeightImportError) as error:
    convert.load_deepmind_variables(blank, variables + [extra])
  assert error.value.missing == [
      'enformer/trunk/final_pointwise/conv_block/exponential_moving_average/'
      'average:0 (#2 of 2)']
  assert error.value.unexpected == ['enformer/trunk/mystery/w:0']
  for got, want in zip(weights_of(blank), before):
    np.testing.assert_array_equal(got, want)


# -- Command line -------------------------------------------------------------


def test_cli_writes_a_keras_model(checkpoint, params, tmp_path, capsys):
  output = str(tmp_path / 'out' / 'enformer.keras')
  assert convert_cli.main(['--checkpoint', checkpoint, '--output',
                           output]) == 0
  assert 'Wrote' in capsys.readouterr().out
  loaded = keras.models.load_model(output)
  assert isinstance(loaded, Enformer)
  # The published input and crop lengths, since the checkpoint has none.
  assert loaded.sequence_length == 196_608 and loaded.target_length == 896
  assert_weights_are(loaded, params)


@pytest.mark.parametrize('args, message', [
    (['--checkpoint', '{tmp}/none', '--output', '{tmp}/m.keras'],
     'No checkpoint at'),
    (['--checkpoint', '{ckpt}', '--output', '{tmp}/m.h5'],
     'output must be a .keras file'),
])
def test_cli_errors_are_one_line(checkpoint, tmp_path, capsys, args, message):
  args = [a.format(tmp=tmp_path, ckpt=checkpoint) for a in args]
  assert convert_cli.main(args) == 1
  err = capsys.readouterr().err
  assert err.startswith('enformer-convert: error: ') and message in err
  assert len(err.strip().splitlines()) == 1


def test_cli_mismatch_error_is_one_line(params, tmp_path, capsys):
  broken = fake.remove(copy.deepcopy(params), MLP_LINEAR2_B)
  path = fake.write_checkpoint(broken, str(tmp_path / 'ckpt'))
  assert convert_cli.main(['--checkpoint', path, '--output',
                           str(tmp_path / 'm.keras')]) == 1
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1 and MLP_LINEAR2_B_KEY in err
  assert not os.path.exists(tmp_path / 'm.keras')
