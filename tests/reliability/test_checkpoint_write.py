"""A crash inside a checkpoint write, and damaged checkpoints on restart.

A training process is killed (SIGKILL) after the new checkpoint's files are
written and before the state file names it; and the newest checkpoint's
files are truncated, bit-flipped or removed. The restart must use the
newest readable checkpoint, say so, and never silently start from scratch.
"""
import logging
import os
import shutil
import signal

import numpy as np
import pytest

from enformer_tf.cli import train as cli
from enformer_tf.train import Trainer
from enformer_tf.train import checkpointing
from reliability import train_child as child

DATA = 'ckpt-3.data-00000-of-00001'


def _trainer(model_dir, **kwargs):
  sequence, target = child.random_examples(8, 3)
  return Trainer(lambda: child.ToyModel(heads={'human': 3}),
                 {'human': child.dataset(sequence, target)},
                 str(model_dir), **child.trainer_kwargs(**kwargs))


@pytest.fixture(scope='module')
def three_checkpoints(tmp_path_factory):
  """A run directory with ckpt-1, ckpt-2 and ckpt-3 (toy model)."""
  model_dir = tmp_path_factory.mktemp('three') / 'run'
  _trainer(model_dir).train(3)
  return model_dir


@pytest.fixture
def run_dir(three_checkpoints, tmp_path):
  model_dir = tmp_path / 'run'
  shutil.copytree(three_checkpoints, model_dir)
  return model_dir


def _truncate(path):
  with open(path, 'rb') as f:
    data = f.read()
  with open(path, 'wb') as f:
    f.write(data[:len(data) // 2])


def _flip_byte(path):
  with open(path, 'rb') as f:
    data = bytearray(f.read())
  data[len(data) // 2] ^= 0xFF
  with open(path, 'wb') as f:
    f.write(bytes(data))


DAMAGE = {
    'truncated data': lambda d: _truncate(d / DATA),
    'flipped byte in data': lambda d: _flip_byte(d / DATA),
    'truncated index': lambda d: _truncate(d / 'ckpt-3.index'),
    'missing data': lambda d: os.remove(d / DATA),
}


@pytest.mark.parametrize('damage', sorted(DAMAGE))
def test_damaged_newest_checkpoint_falls_back_to_the_previous(
    run_dir, damage, caplog):
  expected = child.checkpoint_values(str(run_dir / 'ckpt-2'))
  DAMAGE[damage](run_dir)
  with caplog.at_level(logging.WARNING, logger='enformer_tf'):
    trainer = _trainer(run_dir)

  assert int(trainer.step.numpy()) == 2
  restored = child.checkpoint_values(trainer.manager.save(checkpoint_number=9))
  for name, value in expected.items():
    np.testing.assert_array_equal(restored[name], value, err_msg=name)
  assert f'Cannot read checkpoint {run_dir / "ckpt-3"}' in caplog.text
  assert f'Restored {run_dir / "ckpt-2"} instead of a newer' in caplog.text


def test_after_a_fallback_the_state_file_selects_the_restored_checkpoint(
    run_dir):
  _flip_byte(run_dir / DATA)
  trainer = _trainer(run_dir)
  assert child.state_latest(str(run_dir)).endswith('ckpt-2')
  # Training on rewrites ckpt-3, which is then read normally.
  trainer.train(3)
  assert int(_trainer(run_dir).step.numpy()) == 3


@pytest.mark.parametrize('state', ['garbage', 'empty', 'missing'])
def test_unreadable_state_file_uses_the_newest_checkpoint_file(
    run_dir, state, caplog):
  path = run_dir / 'checkpoint'
  if state == 'missing':
    os.remove(path)
  else:
    path.write_text('model_checkpoint_path: "ck' if state == 'garbage'
                    else '')
  with caplog.at_level(logging.WARNING, logger='enformer_tf'):
    trainer = _trainer(run_dir)
  # Without the state file, training would have started again from step 0.
  assert int(trainer.step.numpy()) == 3
  assert 'Checkpoint state: ' in caplog.text
  assert child.state_latest(str(run_dir)).endswith('ckpt-3')


def test_empty_state_file_without_checkpoints_starts_from_scratch(
    tmp_path, caplog):
  # An empty state file names no checkpoint; CheckpointManager rejects it.
  (tmp_path / 'checkpoint').write_text('')
  with caplog.at_level(logging.WARNING, logger='enformer_tf'):
    trainer = _trainer(tmp_path)
  assert int(trainer.step.numpy()) == 0
  assert 'there are no checkpoint files; removing it' in caplog.text
  assert not (tmp_path / 'checkpoint').exists()


def test_every_checkpoint_damaged_is_an_error_naming_each(run_dir):
  for number in (1, 2, 3):
    _flip_byte(run_dir / f'ckpt-{number}.data-00000-of-00001')
  with pytest.raises(checkpointing.UnreadableCheckpointError,
                     match=r'No checkpoint in .* can be read.*ckpt-3: '
                           r'DataLossError.*ckpt-2: .*ckpt-1: .*move them '
                           r'away to start from scratch'):
    _trainer(run_dir)


def test_a_checkpoint_of_another_model_is_an_error_not_a_fallback(run_dir):
  with pytest.raises(AssertionError):
    Trainer(lambda: child.ToyModel(heads={'human': 3, 'mouse': 2}),
            {'human': child.dataset(*child.random_examples(8, 3))},
            str(run_dir), **child.trainer_kwargs())


def test_killed_between_checkpoint_files_and_state_file(tmp_path, caplog):
  """SIGKILL inside the save of ckpt-3; the restart resumes from ckpt-2."""
  gin_file = child.toy_gin(str(tmp_path / 'toy.gin'), num_steps=5)
  run = tmp_path / 'run'
  args = ['--gin_file', gin_file, '--model_dir', str(run)]
  log = str(tmp_path / 'crash.log')
  process = child.start_training(args, log, crash_in_save=3)
  output = child.finish(process, log)

  # Killed by its own SIGKILL with ckpt-3 complete on disk but not selected.
  assert process.returncode == -signal.SIGKILL, output[-2000:]
  assert (run / DATA).exists() and (run / 'ckpt-3.index').exists()
  assert child.state_latest(str(run)).endswith('ckpt-2'), output[-2000:]
  assert child.checkpoint_values(str(run / 'ckpt-3'))  # Readable, unused.

  # The same command again, in this process.
  child.register_gin()
  with caplog.at_level(logging.INFO, logger='enformer_tf'):
    assert cli.main(args) == 0
  assert f'Restored {run / "ckpt-2"} (step 2)' in caplog.text
  assert child.state_latest(str(run)).endswith('ckpt-5')
  resumed = child.checkpoint_values(str(run / 'ckpt-5'))

  # An uninterrupted run of the same command ends with the same weights.
  assert cli.main([*args[:-1], str(tmp_path / 'reference')]) == 0
  reference = child.checkpoint_values(str(tmp_path / 'reference' / 'ckpt-5'))
  assert resumed.keys() == reference.keys()
  for name, value in reference.items():
    np.testing.assert_array_equal(resumed[name], value, err_msg=name)
