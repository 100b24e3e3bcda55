"""gin files parse strictly; the CLI reports errors in one line and trains."""
import os
import shutil
from pathlib import Path

import gin
import pytest

import enformer_tf
from enformer_tf import Enformer
from enformer_tf.cli import train as train_cli
from enformer_tf.train import config

GIN_DIR = config.bundled_gin_dir()
GIN_FILES = sorted(
    str(path.relative_to(GIN_DIR)) for path in GIN_DIR.rglob('*.gin'))


@pytest.fixture(autouse=True)
def _clear_gin(monkeypatch):
  monkeypatch.delenv(config.GIN_PATH_ENV, raising=False)
  yield
  gin.clear_config()


def _write(path, text):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text)
  return path


def test_bundled_gin_files_are_package_data():
  assert GIN_DIR == Path(enformer_tf.__file__).parent / 'gin'


def test_gin_directory_has_the_expected_files():
  assert {'model/enformer.gin', 'model/enformer_small.gin',
          'train/paper.gin', 'train/cpu.gin', 'data/basenji2.gin',
          'data/user.gin', 'data/synthetic.gin',
          'experiments/paper.gin'} <= set(GIN_FILES)


@pytest.mark.parametrize('gin_file', GIN_FILES)
def test_every_gin_file_parses_strictly(gin_file):
  # model/enformer.gin first: data files use the macros it defines.
  config.parse_gin(['model/enformer.gin', gin_file])
  assert gin.config_str()


@pytest.mark.parametrize('gin_file, channels, layers', [
    ('model/enformer.gin', 1536, 11),
    ('model/enformer_small.gin', 96, 2),
    ('model/enformer_tiny.gin', 48, 1)])
def test_model_files_construct_valid_models(gin_file, channels, layers):
  config.parse_gin([gin_file])
  model = gin.get_configurable('enformer_tf.Enformer')()
  assert type(model) is Enformer  # gin registers without subclassing.
  assert model.channels == channels
  assert model.num_transformer_layers == layers
  assert model.synchronized_batch_norm


def test_paper_recipe_values():
  config.parse_gin(['experiments/paper.gin'])
  query = gin.query_parameter
  assert query('train.num_steps') == 150_000
  assert query('enformer_tf.train.Trainer.batch_size') == 64
  assert query('keras.optimizers.Adam.global_clipnorm') == 0.2
  assert query('enformer_tf.train.LinearWarmup.peak_learning_rate') == 5e-4
  assert query('enformer_tf.train.LinearWarmup.warmup_steps') == 5000
  assert query('enformer_tf.train.Trainer.max_shift') == 3
  assert query('%HEADS') == {'human': 5313, 'mouse': 1643}


def test_unknown_binding_is_an_error_at_parse_time():
  with pytest.raises(ValueError, match='batch_sise'):
    config.parse_gin(['experiments/smoke.gin'],
                     ['enformer_tf.train.Trainer.batch_sise = 2'])
  with pytest.raises(ValueError, match='model_dir'):
    # model_dir belongs to `train` (and --model_dir), not to the Trainer.
    config.parse_gin(['experiments/smoke.gin'],
                     ["enformer_tf.train.Trainer.model_dir = '/tmp/x'"])


def test_gin_files_resolve_from_cwd_first_then_gin_dir(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert config.resolve_gin_file('model/enformer.gin') == str(
      GIN_DIR / 'model' / 'enformer.gin')
  _write(tmp_path / 'model' / 'enformer.gin',
         'enformer_tf.Enformer.channels = 12\n')
  assert config.resolve_gin_file('model/enformer.gin') == 'model/enformer.gin'
  # A local file can include the bundled files.
  _write(tmp_path / 'mine.gin',
         "include 'model/enformer_small.gin'\n"
         'enformer_tf.Enformer.num_transformer_layers = 3\n')
  config.parse_gin(['mine.gin'])
  assert gin.query_parameter('enformer_tf.Enformer.channels') == 96


def test_search_path_order_flag_then_env_then_bundled(tmp_path, monkeypatch):
  monkeypatch.chdir(_write(tmp_path / 'cwd' / 'x', '').parent)
  flag, env_a, env_b = (tmp_path / name for name in ('flag', 'a', 'b'))
  for directory in (flag, env_a, env_b):
    _write(directory / 'model' / 'enformer.gin', '')
  _write(env_b / 'only_b.gin', '')
  monkeypatch.setenv(config.GIN_PATH_ENV,
                     os.pathsep.join([str(env_a), '', str(env_b)]))
  assert config.gin_search_path([str(flag)]) == [flag, env_a, env_b, GIN_DIR]
  resolve = config.resolve_gin_file
  assert resolve('model/enformer.gin', [str(flag)]) == str(
      flag / 'model' / 'enformer.gin')
  assert resolve('model/enformer.gin') == str(env_a / 'model' / 'enformer.gin')
  assert resolve('only_b.gin', [str(flag)]) == str(env_b / 'only_b.gin')
  assert resolve('model/enformer_tiny.gin', [str(flag)]) == str(
      GIN_DIR / 'model' / 'enformer_tiny.gin')


def test_relative_search_dir_is_made_absolute(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  _write(tmp_path / 'mine' / 'x.gin', '')
  assert config.gin_search_path(['mine'])[0] == tmp_path / 'mine'


def test_user_file_wins_over_the_bundled_one_in_includes(tmp_path,
                                                         monkeypatch):
  # The bundled experiments/smoke.gin includes model/enformer_tiny.gin: the
  # user's file of that name is the one read, by flag or by environment.
  monkeypatch.chdir(tmp_path)
  user = tmp_path / 'user_gin'
  _write(user / 'model' / 'enformer_tiny.gin',
         "include 'model/enformer.gin'\n"
         'SEQUENCE_LENGTH = 2048\nenformer_tf.Enformer.channels = 24\n')
  config.parse_gin(['experiments/smoke.gin'], search_dirs=[str(user)])
  assert gin.query_parameter('enformer_tf.Enformer.channels') == 24
  assert gin.query_parameter('%SEQUENCE_LENGTH') == 2048
  monkeypatch.setenv(config.GIN_PATH_ENV, str(user))
  config.parse_gin(['experiments/smoke.gin'])
  assert gin.query_parameter('enformer_tf.Enformer.channels') == 24
  monkeypatch.delenv(config.GIN_PATH_ENV)
  config.parse_gin(['experiments/smoke.gin'])
  assert gin.query_parameter('enformer_tf.Enformer.channels') == 48


def test_missing_gin_file_error_lists_where_it_looked(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  (tmp_path / 'mine').mkdir()
  with pytest.raises(FileNotFoundError) as error:
    config.resolve_gin_file('nope.gin', ['mine'])
  message = str(error.value)
  assert "gin file 'nope.gin' not found; looked in: " in message
  assert all(str(where) in message for where in (
      tmp_path / 'nope.gin', tmp_path / 'mine' / 'nope.gin',
      GIN_DIR / 'nope.gin'))
  assert '--gin_search_path' in message and config.GIN_PATH_ENV in message


@pytest.mark.parametrize('use_env', [False, True])
def test_search_dir_that_is_not_a_directory_is_an_error(tmp_path, monkeypatch,
                                                        use_env):
  missing = str(tmp_path / 'missing')
  source = config.GIN_PATH_ENV if use_env else '--gin_search_path'
  if use_env:
    monkeypatch.setenv(config.GIN_PATH_ENV, missing)
  with pytest.raises(ValueError,
                     match=f'{source} .*missing.* is not a directory'):
    config.parse_gin(['experiments/smoke.gin'],
                     search_dirs=[] if use_env else [missing])


@pytest.mark.parametrize('argv, match', [
    (['--gin_file', 'experiments/smoke.gin', '--gin_param',
      'enformer_tf.train.Trainer.batch_sise = 2'], 'batch_sise'),
    (['--gin_file', 'missing.gin'], "gin file 'missing.gin' not found"),
    (['--gin_file', 'experiments/smoke.gin', '--gin_search_path', 'nodir'],
     "--gin_search_path 'nodir' is not a directory"),

    (['--gin_file', 'experiments/smoke.gin',
      '--gin_param', 'train.num_steps = 0'],
     'num_steps must be a positive integer'),
])
def test_cli_errors_are_one_line(capsys, tmp_path, argv, match):
  assert train_cli.main(argv + ['--model_dir', str(tmp_path)]) == 1
  err = capsys.readouterr().err.strip()
  assert err.startswith('enformer-train: error: ')
  assert '\n' not in err and match in err


def test_cli_reads_user_gin_folders(capsys, tmp_path, monkeypatch):
  # experiments/mine.gin exists only in the user's folder; it includes a
  # bundled file and a missing one, or sets a value train() rejects.
  monkeypatch.chdir(tmp_path)
  _write(tmp_path / 'user' / 'experiments' / 'mine.gin',
         "include 'experiments/smoke.gin'\ntrain.num_steps = 0\n")
  _write(tmp_path / 'user' / 'experiments' / 'broken.gin',
         "include 'model/missing.gin'\n")
  argv = ['--gin_search_path', 'user', '--model_dir', str(tmp_path / 'run')]
  assert train_cli.main(['--gin_file', 'experiments/mine.gin'] + argv) == 1
  err = capsys.readouterr().err.strip()
  assert 'num_steps must be a positive integer' in err and '\n' not in err
  assert train_cli.main(['--gin_file', 'experiments/broken.gin'] + argv) == 1
  err = capsys.readouterr().err.strip()
  assert err.startswith('enformer-train: error: OSError: Unable to open file: '
                        'model/missing.gin') and '\n' not in err
  assert str(tmp_path / 'user') in err and str(GIN_DIR) in err
  assert 'broken.gin' in err  # Which file had the include.


def test_cli_requires_a_gin_file(capsys):
  with pytest.raises(SystemExit) as exit_info:
    train_cli.main([])
  assert exit_info.value.code == 2


@pytest.mark.slow
def test_cli_trains_the_smoke_experiment(smoke_training, tmp_path):
  # `enformer-train --gin_file experiments/smoke.gin` in a fresh process,
  # run once for the session (tests/smoke_run.py).
  assert smoke_training.returncode == 0, smoke_training.stderr[-2000:]
  out = smoke_training.stdout
  assert 'Trained to step 2' in out and 'human: mean Pearson R' in out
  model_dir = tmp_path / 'smoke'
  shutil.copytree(smoke_training.model_dir, model_dir)
  operative = (model_dir / 'operative_config.gin').read_text()
  assert 'Enformer.channels = 48' in operative
  assert 'train.num_steps = 2' in operative
  assert 'Trainer.batch_size = 2' in operative
  assert (model_dir / 'ckpt-2.index').exists()
  assert (model_dir / 'eval' / 'summary.tsv').exists()
  # Running again resumes: nothing left to train, the step stays.
  trainer = config.train_from_gin(['experiments/smoke.gin'], [],
                                  model_dir=str(model_dir))
  assert int(trainer.step.numpy()) == 2
  assert not (model_dir / 'ckpt-3.index').exists()
