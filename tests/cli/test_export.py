"""`enformer-export`: .keras files, training checkpoints, options, errors."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from random_weights import randomise_weights
from enformer_tf import Enformer
from enformer_tf.export import cli, saved_model
from enformer_tf.io import (enformer_kwargs_from_gin, load_keras_model,
                            model_from_checkpoint)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
L = 1024
BINS = 4
TINY = dict(channels=48, num_transformer_layers=1, num_heads=2,
            heads={'human': 5, 'mouse': 3}, target_length=BINS,
            sequence_length=L, conv_tower_divisible_by=8)

# What gin's operative_config_str() writes for a run that bound Enformer
# (and the trainer); the macro and module-qualified names are on purpose.
OPERATIVE_CONFIG = textwrap.dedent('''\
    import enformer_tf

    # Macros:
    # ==========================================================================
    LENGTH = 1024

    # Parameters for Enformer:
    # ==========================================================================
    enformer_tf.Enformer.attention_dropout_rate = 0.05
    enformer_tf.Enformer.channels = 48
    enformer_tf.Enformer.conv_tower_divisible_by = 8
    enformer_tf.Enformer.heads = {'human': 5, 'mouse': 3}
    enformer_tf.Enformer.num_heads = 2
    enformer_tf.Enformer.num_transformer_layers = 1
    enformer_tf.Enformer.pooling_type = 'attention'
    enformer_tf.Enformer.relative_position_functions = None
    enformer_tf.Enformer.sequence_length = %LENGTH
    enformer_tf.Enformer.target_length = 4

    # Parameters for Trainer:
    # ==========================================================================
    Trainer.batch_size = 2
    Trainer.model = @enformer_tf.Enformer
''')


def tiny_model(seed=0, **overrides):
  model = Enformer(**dict(TINY, **overrides))
  model.build((None, L, 4))
  randomise_weights(model, seed)
  return model


def random_one_hot(batch, seed=0):
  codes = np.random.RandomState(seed).randint(0, 4, (batch, L))
  return np.eye(4, dtype=np.float32)[codes]


def write_training_dir(directory, model, config=OPERATIVE_CONFIG):
  """A directory laid out as `train.loop.Trainer` writes it."""
  step = tf.Variable(0, dtype=tf.int64)
  optimizer = keras.optimizers.Adam()
  optimizer.build(model.trainable_variables)
  checkpoint = tf.train.Checkpoint(step=step, model=model,
                                   optimizer=optimizer)
  manager = tf.train.CheckpointManager(checkpoint, str(directory),
                                       max_to_keep=5, step_counter=step,
                                       checkpoint_name='ckpt')
  step.assign(20)
  manager.save(checkpoint_number=step)
  if config is not None:
    (directory / 'operative_config.gin').write_text(config)


@pytest.fixture(scope='module')
def model():
  return tiny_model()


@pytest.fixture(scope='module')
def keras_file(model, tmp_path_factory):
  path = str(tmp_path_factory.mktemp('keras') / 'model.keras')
  model.save(path)
  return path


@pytest.fixture(scope='module')
def training_dir(model, tmp_path_factory):
  directory = tmp_path_factory.mktemp('run')
  write_training_dir(directory, model)
  return directory


def run_main(argv, capsys):
  code = cli.main(argv)
  out, err = capsys.readouterr()
  return code, out, err


# -- Parsing -------------------------------------------------------------------


def test_parse_tracks():
  assert cli.parse_tracks(None) is None
  assert cli.parse_tracks(['human=0,1,5', 'mouse=2']) == {
      'human': [0, 1, 5], 'mouse': [2]}
  assert cli.parse_tracks(['human=3-5,0']) == {'human': [3, 4, 5, 0]}
  for bad, message in [('human', 'HEAD=INDICES'), ('=1', 'HEAD=INDICES'),
                       ('human=', 'HEAD=INDICES'), ('human=a', "'a'"),
                       ('human=5-3', "'5-3'"), ('human=-1', "'-1'")]:
    with pytest.raises(ValueError, match=message):
      cli.parse_tracks([bad])
  with pytest.raises(ValueError, match='twice'):
    cli.parse_tracks(['human=1', 'human=2'])


def test_enformer_kwargs_from_gin():
  kwargs = enformer_kwargs_from_gin(OPERATIVE_CONFIG)
  assert kwargs['sequence_length'] == 1024  # The macro, resolved.
  assert kwargs['heads'] == {'human': 5, 'mouse': 3}
  assert enformer_kwargs_from_gin(
      'Enformer.channels = 96\nfinetune/Enformer.channels = 192\n'
      'enformer_tf.model.Enformer.heads = {"human": 2}\n') == {
          'channels': 192, 'heads': {'human': 2}}
  with pytest.raises(ValueError, match='binds no Enformer parameters'):
    enformer_kwargs_from_gin('Trainer.batch_size = 2\n')
  with pytest.raises(ValueError, match='several scopes'):
    enformer_kwargs_from_gin('a/Enformer.channels = 1\nb/Enformer.channels = 2')
  with pytest.raises(ValueError, match='Enformer.heads = @heads'):
    enformer_kwargs_from_gin('Enformer.heads = @heads()\n')
  with pytest.raises(ValueError, match='%MISSING'):
    enformer_kwargs_from_gin('Enformer.channels = %MISSING\n')


# -- Models to export ----------------------------------------------------------


def test_model_from_checkpoint_restores_the_trained_weights(model,
                                                            training_dir):
  restored = model_from_checkpoint(str(training_dir))
  x = random_one_hot(1, seed=2)
  expected = model(x, training=False)
  for head, value in restored(x, training=False).items():
    np.testing.assert_array_equal(value.numpy(), expected[head].numpy())
  # A checkpoint prefix works too.
  prefix = tf.train.latest_checkpoint(str(training_dir))
  assert prefix.endswith('ckpt-20')
  assert model_from_checkpoint(prefix).channels == 48


@pytest.mark.slow
def test_model_from_a_real_training_run(tmp_path):
  """What `enformer-train` writes (the smoke experiment: 2 steps)."""
  pytest.importorskip('enformer_tf.train.cli')
  run_dir = tmp_path / 'run'
  result = subprocess.run(
      [sys.executable, '-m', 'enformer_tf.train.cli', '--gin_file',
       'experiments/smoke.gin', '--model_dir', str(run_dir)],
      capture_output=True, text=True, cwd=REPO, timeout=600,
      env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2'))
  assert result.returncode == 0, result.stderr[-2000:]
  model = model_from_checkpoint(str(run_dir))
  reader = tf.train.load_checkpoint(str(run_dir))
  for head in model.heads:
    np.testing.assert_array_equal(
        model.head_layers[head].kernel.numpy(),
        reader.get_tensor(
            f'model/head_layers/{head}/kernel/.ATTRIBUTES/VARIABLE_VALUE'))
  # The smoke model: enformer_tiny.gin.
  assert (model.channels, model.sequence_length, model.heads) == (
      48, 1024, {'human': 3, 'mouse': 2})


def test_model_from_checkpoint_errors(model, tmp_path):
  with pytest.raises(FileNotFoundError, match='No checkpoint'):
    model_from_checkpoint(str(tmp_path))
  with pytest.raises(FileNotFoundError, match='neither'):
    model_from_checkpoint(str(tmp_path / 'missing'))
  no_config = tmp_path / 'no_config'
  no_config.mkdir()
  write_training_dir(no_config, model, config=None)
  with pytest.raises(FileNotFoundError, match='No operative_config.gin'):
    model_from_checkpoint(str(no_config))
  wrong = tmp_path / 'wrong'
  wrong.mkdir()
  write_training_dir(wrong, model, OPERATIVE_CONFIG.replace(
      'num_transformer_layers = 1', 'num_transformer_layers = 2'))
  with pytest.raises(ValueError, match='does not hold every variable'):
    model_from_checkpoint(str(wrong))
  other_shape = tmp_path / 'other_shape'
  other_shape.mkdir()
  write_training_dir(other_shape, model, OPERATIVE_CONFIG.replace(
      "'human': 5", "'human': 6"))
  with pytest.raises(ValueError, match='same shape'):
    model_from_checkpoint(str(other_shape))
  typo = tmp_path / 'typo'
  typo.mkdir()
  write_training_dir(typo, model, OPERATIVE_CONFIG + 'Enformer.chanels = 4\n')
  with pytest.raises(ValueError, match='chanels'):
    model_from_checkpoint(str(typo))


def test_load_keras_model_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match='No .keras model file'):
    load_keras_model(str(tmp_path / 'missing.keras'))
  h5 = tmp_path / 'model.h5'
  h5.write_text('')
  with pytest.raises(ValueError, match='not a .keras file'):
    load_keras_model(str(h5))
  dense = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
  dense.save(str(tmp_path / 'dense.keras'))
  with pytest.raises(ValueError, match='not an Enformer'):
    load_keras_model(str(tmp_path / 'dense.keras'))


# -- The command ---------------------------------------------------------------


def test_cli_exports_a_keras_file(model, keras_file, tmp_path, capsys):
  export_dir = str(tmp_path / 'models')
  code, out, err = run_main(
      ['--keras_model', keras_file, '--export_dir', export_dir,
       '--tracks', 'human=1,3', '--float16', '--no_warmup', '--version', '5'],
      capsys)
  assert code == 0, err
  path = os.path.join(export_dir, '5')
  assert f'Exported {path}' in out
  assert 'human_dna: dna string[-1] -> human float16[-1, 4, 2]' in out
  assert not os.path.exists(os.path.join(path, saved_model.WARMUP_FILE))
  loaded = tf.saved_model.load(path)
  x = random_one_hot(1, seed=3)
  human = loaded.signatures['human'](sequence=tf.constant(x))['human']
  assert human.dtype == tf.float16
  np.testing.assert_allclose(
      human.numpy().astype(np.float32),
      model(x, training=False)['human'].numpy()[..., [1, 3]], rtol=1e-3,
      atol=1e-3)


def test_cli_mixed_bfloat16_flag_exports_a_bfloat16_model(keras_file,
                                                          tmp_path, capsys):
  export_dir = str(tmp_path / 'models')
  code, out, err = run_main(['--keras_model', keras_file, '--export_dir',
                             export_dir, '--mixed_bfloat16', '--no_warmup'],
                            capsys)
  assert code == 0, err
  with open(os.path.join(export_dir, '1', saved_model.METADATA_FILE)) as f:
    assert json.load(f)['model_config']['mixed_bfloat16'] is True


def test_cli_exports_a_training_checkpoint(model, training_dir, tmp_path,
                                           capsys):
  export_dir = str(tmp_path / 'models')
  code, out, err = run_main(['--checkpoint_dir', str(training_dir),
                             '--export_dir', export_dir], capsys)
  assert code == 0, err
  path = os.path.join(export_dir, '1')
  assert os.path.exists(os.path.join(path, saved_model.WARMUP_FILE))
  loaded = tf.saved_model.load(path)
  x = random_one_hot(2, seed=4)
  result = loaded.signatures['serving_default'](sequence=tf.constant(x))
  expected = model(x, training=False)
  for head in ('human', 'mouse'):
    np.testing.assert_allclose(result[head].numpy(), expected[head].numpy(),
                               atol=1e-5, rtol=0)
  # The same version again: refused, in one line.
  code, out, err = run_main(['--checkpoint_dir', str(training_dir),
                             '--export_dir', export_dir, '--version', '1'],
                            capsys)
  assert code == 1
  assert err.count('\n') == 1
  assert err.startswith('enformer-export: error: Version 1 already exists')


@pytest.mark.parametrize('args, message', [
    (['--keras_model', 'missing.keras'], 'No .keras model file at'),
    (['--keras_model', '{keras}', '--tracks', 'zebrafish=1'],
     "head 'zebrafish'"),
    (['--keras_model', '{keras}', '--tracks', 'human=0-x'], "'0-x'"),
    (['--keras_model', '{keras}', '--tracks', 'human=9'], 'index 9'),
    (['--keras_model', '{keras}', '--version', '-3'], 'non-negative'),
    (['--checkpoint_dir', '{tmp}'], 'No checkpoint in'),
])
def test_cli_errors_are_one_line(keras_file, tmp_path, capsys, args, message):
  args = [a.format(keras=keras_file, tmp=tmp_path) for a in args]
  code, out, err = run_main(
      args + ['--export_dir', str(tmp_path / 'models')], capsys)
  assert code == 1
  assert out == ''
  assert err.count('\n') == 1 and err.startswith('enformer-export: error: ')
  assert message in err
  assert not os.path.exists(tmp_path / 'models' / '1')


@pytest.mark.parametrize('args, message', [
    (['--export_dir', 'd'],
     'one of the arguments --keras_model --checkpoint_dir is required'),
    (['--keras_model', 'a.keras', '--checkpoint_dir', 'b'], 'not allowed'),
    (['--keras_model', 'a.keras'], '--export_dir'),
    (['--keras_model', 'a.keras', '--export_dir', 'd', '--version', 'x'],
     "invalid int value: 'x'"),
])
def test_cli_usage_errors_are_one_line(capsys, args, message):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(args)
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and err.startswith('enformer-export: error: ')
  assert message in err


def test_cli_error_in_a_subprocess_has_no_traceback(tmp_path):
  result = subprocess.run(
      [sys.executable, '-m', 'enformer_tf.export.cli', '--keras_model',
       str(tmp_path / 'missing.keras'), '--export_dir', str(tmp_path)],
      capture_output=True, text=True, cwd=REPO, timeout=300,
      env=dict(os.environ, PYTHONPATH=REPO))
  assert result.returncode == 1
  assert 'Traceback' not in result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      f'enformer-export: error: No .keras model file at '
      f'{tmp_path / "missing.keras"}.')
