"""`enformer-export` (`enformer_tf/cli/export.py`): .keras files, training
checkpoints, options, errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import exported_models
from training_dirs import random_one_hot, tiny_model, write_training_dir
from enformer_tf.cli import export as cli
from enformer_tf.export import saved_model, warmup

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.fixture(scope='module')
def model():
  return tiny_model()


@pytest.fixture(scope='module')
def keras_file(tmp_path_factory):
  """`model.keras` of the same tiny model (the run's shared file)."""
  return exported_models.tiny_keras_file(tmp_path_factory)


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


# -- The command ---------------------------------------------------------------


def test_cli_exports_a_keras_file(model, tmp_path_factory):
  # `enformer-export --keras_model keras_file --export_dir DIR --tracks
  # human=4,0 --float16 --no_warmup --version 5 --hub_sequence_length 1536`,
  # run once for this test, test_export_options.py and test_tf_hub.py.
  path, code, out, err = exported_models.options_cli_export(tmp_path_factory)
  assert code == 0, err
  assert path.endswith(os.path.join('cli_export_options', '5'))
  assert f'Exported {path}' in out
  assert 'human_dna: dna string[-1] -> human float16[-1, 4, 2]' in out
  assert not os.path.exists(os.path.join(path, warmup.WARMUP_FILE))
  loaded = tf.saved_model.load(path)
  x = random_one_hot(1, seed=3)
  human = loaded.signatures['human'](sequence=tf.constant(x))['human']
  assert human.dtype == tf.float16
  np.testing.assert_allclose(
      human.numpy().astype(np.float32),
      model(x, training=False)['human'].numpy()[..., [4, 0]], rtol=1e-3,
      atol=1e-3)


def test_cli_mixed_bfloat16_flag_exports_a_bfloat16_model(tmp_path_factory):
  # `enformer-export --keras_model keras_file --export_dir DIR
  # --mixed_bfloat16 --no_warmup`, run once for this test and
  # test_export_options.py (which checks the bfloat16 graph and values).
  path, code, out, err = exported_models.mixed_bfloat16_cli_export(
      tmp_path_factory)
  assert code == 0, err
  assert f'Exported {path}' in out
  with open(os.path.join(path, saved_model.METADATA_FILE)) as f:
    assert json.load(f)['model_config']['mixed_bfloat16'] is True


def test_cli_exports_a_training_checkpoint(model, training_dir, tmp_path,
                                           capsys):
  export_dir = str(tmp_path / 'models')
  code, out, err = run_main(['--checkpoint_dir', str(training_dir),
                             '--export_dir', export_dir], capsys)
  assert code == 0, err
  path = os.path.join(export_dir, '1')
  assert os.path.exists(os.path.join(path, warmup.WARMUP_FILE))
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
      [sys.executable, '-m', 'enformer_tf.cli.export', '--keras_model',
       str(tmp_path / 'missing.keras'), '--export_dir', str(tmp_path)],
      capture_output=True, text=True, cwd=REPO, timeout=300,
      env=dict(os.environ, PYTHONPATH=REPO))
  assert result.returncode == 1
  assert 'Traceback' not in result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      f'enformer-export: error: No .keras model file at '
      f'{tmp_path / "missing.keras"}.')
