"""Killed and interrupted training: real signals to real training processes.

- SIGKILL at a random step (seeded), then the same `enformer-train` command
  again: it resumes from the last checkpoint and, with deterministic ops,
  ends with exactly the weights of an uninterrupted run (tiny Enformer with
  dropout and augmentation, so the dropout generators' and the data
  stream's positions must be restored too).
- SIGTERM / SIGINT (toy model, 0.1 s a step, so that the signal lands
  mid-run): the step in progress is finished and checkpointed, the command
  exits with 143 / 130 and one line naming the checkpoint, and the same
  command resumes from it to the uninterrupted run's weights. In-process
  variants check the Python API and that the handlers are restored.
"""
import functools
import os
import random
import re
import signal

import numpy as np
import pytest

from enformer_tf.cli import train as cli
from enformer_tf.train import Trainer
from enformer_tf.train import interrupt
from reliability import train_child as child

NUM_STEPS = 6
SEED = 20240611  # Picks the step of the SIGKILL.


def _assert_same(values, reference):
  assert values.keys() == reference.keys()
  for name, value in reference.items():
    np.testing.assert_array_equal(values[name], value, err_msg=name)


@pytest.fixture(scope='module')
def enformer_reference(tmp_path_factory):
  """The uninterrupted tiny-Enformer run: started at once (so that it runs
  beside the test's own processes), awaited on first call. It saves only
  its last step (~0.4 s a save): a save must not change the training, so
  the runs that save every step still have to end with its values."""
  directory = tmp_path_factory.mktemp('reference')
  run, log = str(directory / 'run'), str(directory / 'log')
  process = child.start_training(
      child.train_args(run, NUM_STEPS, checkpoint_every=NUM_STEPS), log)

  @functools.lru_cache(maxsize=None)
  def values():
    output = child.finish(process, log)
    assert process.returncode == 0, output[-3000:]
    return child.checkpoint_values(os.path.join(run, f'ckpt-{NUM_STEPS}'))

  yield values
  if process.poll() is None:
    process.kill()
    process.wait()


@pytest.mark.slow
def test_sigkill_at_a_random_step_then_the_same_command_resumes_exactly(
    tmp_path, enformer_reference):
  kill_after = random.Random(SEED).randint(1, NUM_STEPS - 3)
  run = str(tmp_path / 'run')
  args = child.train_args(run, NUM_STEPS)
  log = str(tmp_path / 'killed.log')
  process = child.start_training(args, log)
  child.wait_for(lambda: child.latest_step(run) >= kill_after, process, log)
  os.kill(process.pid, signal.SIGKILL)
  output = child.finish(process, log, timeout=60)
  assert process.returncode == -signal.SIGKILL, output[-3000:]
  killed_at = child.latest_step(run)
  assert kill_after <= killed_at < NUM_STEPS, (kill_after, killed_at)

  log = str(tmp_path / 'resumed.log')
  resumed = child.start_training(args, log)
  output = child.finish(resumed, log)
  assert resumed.returncode == 0, output[-3000:]
  assert f'Restored {run}/ckpt-{killed_at} (step {killed_at})' in output
  assert f'Trained to step {NUM_STEPS}' in output
  _assert_same(child.checkpoint_values(f'{run}/ckpt-{NUM_STEPS}'),
               enformer_reference())


@pytest.fixture(scope='module')
def toy_reference(tmp_path_factory):
  """The toy gin file of the stop-signal tests and its uninterrupted run's
  step-60 checkpoint values, trained once for both signals."""
  child.register_gin()
  directory = tmp_path_factory.mktemp('toy_reference')
  gin_file = child.toy_gin(
      str(directory / 'toy.gin'), num_steps=60,
      bindings=['enformer_tf.train.Trainer.checkpoint_every = 10'])
  assert cli.main(['--gin_file', gin_file, '--model_dir',
                   str(directory / 'run')]) == 0
  return gin_file, child.checkpoint_values(str(directory / 'run/ckpt-60'))


@pytest.mark.parametrize('signal_number', [signal.SIGTERM, signal.SIGINT],
                         ids=['SIGTERM', 'SIGINT'])
def test_stop_signal_checkpoints_the_step_and_exits(tmp_path, signal_number,
                                                    toy_reference):
  """enformer-train (toy model, 0.1 s a step) stopped by a signal."""
  child.register_gin()
  gin_file, reference = toy_reference
  run = str(tmp_path / 'run')
  args = ['--gin_file', gin_file, '--model_dir', run]
  log = str(tmp_path / 'stopped.log')
  process = child.start_training(
      [*args, '--gin_param', 'reliability.ToyModel.seconds_per_call = 0.1'],
      log, toy=True)
  child.wait_for(lambda: child.latest_step(run) >= 10, process, log)
  process.send_signal(signal_number)
  output = child.finish(process, log)

  assert process.returncode == 128 + signal_number, output[-3000:]
  name = signal.Signals(signal_number).name
  match = re.search(
      rf'^enformer-train: interrupted by {name} at global step (\d+); saved '
      r'checkpoint (\S+); run the same command to resume\.$', output,
      flags=re.M)
  assert match, output[-3000:]
  step, checkpoint = int(match.group(1)), match.group(2)
  assert 10 <= step < 60 and checkpoint == f'{run}/ckpt-{step}'
  assert child.state_latest(run) == checkpoint
  assert child.checkpoint_values(checkpoint)[
      'step/.ATTRIBUTES/VARIABLE_VALUE'] == step

  # The same command resumes from that step, to an uninterrupted run's
  # weights (toy model: no dropout, no augmentation).
  assert cli.main(args) == 0
  _assert_same(child.checkpoint_values(f'{run}/ckpt-60'), reference)


def _toy_trainer(model_dir, on_train_call, **kwargs):
  sequence, target = child.random_examples(8, 3)
  return Trainer(
      lambda: child.ToyModel(heads={'human': 3}, on_train_call=on_train_call),
      {'human': child.dataset(sequence, target)}, str(model_dir),
      **child.trainer_kwargs(**kwargs))


def _signal_at(call, *signal_numbers):
  def on_train_call(number):
    if number == call:
      for signal_number in signal_numbers:
        os.kill(os.getpid(), signal_number)
  return on_train_call


def test_signal_in_a_step_saves_that_step_then_raises(tmp_path):
  before = signal.getsignal(signal.SIGTERM)
  # SIGTERM arrives during step 3's forward pass; no periodic checkpoint.
  trainer = _toy_trainer(tmp_path, _signal_at(3, signal.SIGTERM),
                         checkpoint_every=100)
  with pytest.raises(interrupt.TrainingInterrupted) as stop:
    trainer.train(10)

  assert (stop.value.signal_number, stop.value.step) == (signal.SIGTERM, 3)
  assert stop.value.checkpoint == str(tmp_path / 'ckpt-3')
  assert stop.value.exit_code == 143
  assert signal.getsignal(signal.SIGTERM) is before  # Handler restored.
  resumed = _toy_trainer(tmp_path, None)
  assert int(resumed.step.numpy()) == 3
  assert int(resumed.optimizer.iterations.numpy()) == 3


def test_a_second_signal_gets_the_previous_behaviour():
  # Python's own SIGINT handler as the previous one, whatever an earlier test
  # or library left installed (under SIG_IGN a second signal is, correctly,
  # ignored).
  outer = signal.signal(signal.SIGINT, signal.default_int_handler)
  try:
    with pytest.raises(KeyboardInterrupt) as stop:
      with interrupt.StopSignals() as signals:
        signal.raise_signal(signal.SIGINT)
        assert signals.received == signal.SIGINT  # Noted, not raised.
        signal.raise_signal(signal.SIGINT)
    assert not isinstance(stop.value, interrupt.TrainingInterrupted)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
  finally:
    signal.signal(signal.SIGINT, outer)
