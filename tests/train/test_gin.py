"""gin files parse strictly; the CLI reports errors in one line and trains."""
import os

import gin
import pytest

from enformer_tf import Enformer
from enformer_tf.train import cli
from enformer_tf.train import config

GIN_FILES = sorted(
    str(path.relative_to(config.GIN_DIR))
    for path in config.GIN_DIR.rglob('*.gin'))


@pytest.fixture(autouse=True)
def _clear_gin():
  yield
  gin.clear_config()


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
      config.GIN_DIR / 'model' / 'enformer.gin')
  (tmp_path / 'model').mkdir()
  (tmp_path / 'model' / 'enformer.gin').write_text(
      'enformer_tf.Enformer.channels = 12\n')
  assert config.resolve_gin_file('model/enformer.gin') == 'model/enformer.gin'
  with pytest.raises(FileNotFoundError, match='nope.gin.*working directory'):
    config.resolve_gin_file('nope.gin')
  # A local file can include the repository's files.
  (tmp_path / 'mine.gin').write_text(
      "include 'model/enformer_small.gin'\n"
      'enformer_tf.Enformer.num_transformer_layers = 3\n')
  config.parse_gin(['mine.gin'])
  assert gin.query_parameter('enformer_tf.Enformer.channels') == 96


@pytest.mark.parametrize('argv, match', [
    (['--gin_file', 'experiments/smoke.gin', '--gin_param',
      'enformer_tf.train.Trainer.batch_sise = 2'], 'batch_sise'),
    (['--gin_file', 'missing.gin'], "gin file 'missing.gin' not found"),
    (['--gin_file', 'experiments/smoke.gin',
      '--gin_param', 'train.num_steps = 0'],
     'num_steps must be a positive integer'),
])
def test_cli_errors_are_one_line(capsys, tmp_path, argv, match):
  assert cli.main(argv + ['--model_dir', str(tmp_path)]) == 1
  err = capsys.readouterr().err.strip()
  assert err.startswith('enformer-train: error: ')
  assert '\n' not in err and match in err


def test_cli_requires_a_gin_file(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main([])
  assert exit_info.value.code == 2


def test_cli_trains_the_smoke_experiment(tmp_path, capsys):
  model_dir = tmp_path / 'smoke'
  assert cli.main(['--gin_file', 'experiments/smoke.gin',
                   '--gin_param', 'train.num_steps = 1',
                   '--model_dir', str(model_dir)]) == 0
  out = capsys.readouterr().out
  assert 'Trained to step 1' in out and 'human: mean Pearson R' in out
  operative = (model_dir / 'operative_config.gin').read_text()
  assert 'Enformer.channels = 48' in operative
  assert 'train.num_steps = 1' in operative
  assert 'Trainer.batch_size = 2' in operative
  assert (model_dir / 'ckpt-1.index').exists()
  assert (model_dir / 'eval' / 'summary.tsv').exists()
  # Running again resumes: nothing left to train, the step stays.
  trainer = cli.run(['experiments/smoke.gin'], ['train.num_steps = 1'],
                    model_dir=str(model_dir))
  assert int(trainer.step.numpy()) == 1
  assert os.path.exists(model_dir / 'ckpt-1.index')
