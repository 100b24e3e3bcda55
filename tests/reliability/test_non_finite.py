"""NaN and infinity: detected before the update, never checkpointed.

Faults come from the data (NaN targets, targets so large that the gradient
norm overflows) or from a learning rate that blows the weights up; the loop
must stop (or skip the update, `non_finite='skip'`) with a message naming
the step and the head, and no checkpoint may hold a non-finite value.
"""
import glob
import logging
import os

import numpy as np
import pytest

from enformer_tf.cli import train as cli
from enformer_tf.train import NonFiniteLossError
from enformer_tf.train import Trainer
from enformer_tf.train import strategy as strategy_lib
from reliability import train_child as child


def _trainer(model_dir, targets, strategy=None, heads=None, **kwargs):
  """A toy trainer; `targets`: organism -> `[n, T, N]` (sequences random)."""
  heads = heads or {head: t.shape[-1] for head, t in targets.items()}
  data = {}
  for i, (head, target) in enumerate(targets.items()):
    sequence, _ = child.random_examples(len(target), target.shape[-1],
                                        seed=10 + i)
    data[head] = child.dataset(sequence, target)
  return Trainer(lambda: child.ToyModel(heads=heads), data,
                 str(model_dir), strategy=strategy,
                 **child.trainer_kwargs(**kwargs))


def _targets(num_examples, num_tracks, seed=0):
  return child.random_examples(num_examples, num_tracks, seed)[1]


def _values(variables):
  return [v.numpy() for v in variables]


def test_nan_loss_stops_before_the_update_naming_step_and_head(tmp_path):
  human = _targets(8, 3)
  mouse = _targets(8, 2, seed=1)
  mouse[4] = np.nan  # The mouse batch of global step 3 (batches of 2).
  trainer = _trainer(tmp_path, {'human': human, 'mouse': mouse})
  with pytest.raises(NonFiniteLossError,
                     match=r'The mouse loss is nan at global step 3; the '
                           r'update was not applied.*latest checkpoint: '
                           r'.*ckpt-2\)'):
    trainer.train(4)

  # Step 3: the human update ran, the mouse one did not; nothing saved.
  assert int(trainer.optimizer.iterations.numpy()) == 2 * 2 + 1
  saved = child.checkpoint_values(os.path.join(tmp_path, 'ckpt-2'))
  mouse_now = {name: value for name, value in zip(
      ('kernel', 'bias'), _values(trainer.model.head_layers['mouse'].weights))}
  for name, value in mouse_now.items():
    [key] = [k for k in saved if 'mouse' in k and name in k
             and 'optimizer' not in k and 'OPTIMIZER' not in k]
    np.testing.assert_array_equal(value, saved[key])
  assert all(np.isfinite(v).all() for v in _values(trainer.model.variables))
  assert child.state_latest(str(tmp_path)).endswith('ckpt-2')
  assert not glob.glob(os.path.join(tmp_path, 'ckpt-3*'))
  child.assert_all_finite(str(tmp_path))


def test_overflowing_gradient_with_finite_loss_stops(tmp_path):
  human = _targets(8, 3)
  # float32 holds 1e37, and so does the loss (about y * -log(y_pred)); the
  # gradient's squared norm does not.
  human[2] = 1e37
  trainer = _trainer(tmp_path, {'human': human})
  with pytest.raises(NonFiniteLossError,
                     match=r'The human gradient norm is (inf|nan) \(loss '
                           r'[0-9.e+]+\) at global step 2'):
    trainer.train(3)
  assert int(trainer.optimizer.iterations.numpy()) == 1
  child.assert_all_finite(str(tmp_path))


def test_skip_leaves_weights_and_optimizer_untouched_and_counts(
    tmp_path, caplog):
  human = _targets(10, 3)
  human[5] = np.nan  # Global step 3.
  trainer = _trainer(tmp_path, {'human': human}, non_finite='skip')
  with caplog.at_level(logging.WARNING, logger='enformer_tf'):
    trainer.train(5)

  assert trainer.skipped_updates == {'human': 1}
  assert int(trainer.optimizer.iterations.numpy()) == 4
  assert 'The human loss is nan at global step 3; skipped that update' in (
      caplog.text)
  # Step 3 changed nothing but the step counter: weights, Adam moments and
  # the optimizer's iteration count are those of step 2, bit for bit.
  before = child.checkpoint_values(os.path.join(tmp_path, 'ckpt-2'))
  after = child.checkpoint_values(os.path.join(tmp_path, 'ckpt-3'))
  changed = sorted(k for k in before if not np.array_equal(before[k],
                                                           after[k]))
  assert changed == ['step/.ATTRIBUTES/VARIABLE_VALUE']
  # Step 4 trains again.
  later = child.checkpoint_values(os.path.join(tmp_path, 'ckpt-4'))
  assert sum(not np.array_equal(after[k], later[k]) for k in after) > 2
  child.assert_all_finite(str(tmp_path))


def test_skip_decision_is_the_same_on_every_replica(tmp_path):
  strategy = strategy_lib.get_strategy('mirrored',
                                       devices=['/cpu:0', '/cpu:1'])
  human = _targets(8, 3)
  human[5] = np.nan  # Step 3: replica 0 gets example 4, replica 1 example 5.
  trainer = _trainer(tmp_path, {'human': human}, strategy=strategy,
                     non_finite='skip')
  trainer.train(3)

  assert trainer.skipped_updates == {'human': 1}
  assert int(trainer.optimizer.iterations.numpy()) == 2
  step_2 = child.checkpoint_values(os.path.join(tmp_path, 'ckpt-2'))
  step_3 = child.checkpoint_values(os.path.join(tmp_path, 'ckpt-3'))
  assert all(np.array_equal(step_2[k], step_3[k]) for k in step_2
             if not k.startswith('step/'))
  # Both replicas' copies of every variable agree.
  for variable in trainer.model.variables + trainer.optimizer.variables:
    copies = [v.numpy() for v in strategy.experimental_local_results(
        variable)]
    for copy in copies[1:]:
      np.testing.assert_array_equal(copies[0], copy, err_msg=variable.name)


def test_skipping_every_update_stops_after_max_consecutive_skips(tmp_path):
  human = _targets(8, 3)
  human[2:] = np.nan  # Every step from 2 on.
  trainer = _trainer(tmp_path, {'human': human}, non_finite='skip',
                     max_consecutive_skips=3)
  with pytest.raises(NonFiniteLossError,
                     match=r'human loss is nan at global step 4; 3 human '
                           r'updates in a row were skipped'):
    trainer.train(10)
  assert trainer.skipped_updates == {'human': 3}
  assert int(trainer.optimizer.iterations.numpy()) == 1
  child.assert_all_finite(str(tmp_path))


def test_weights_that_turn_non_finite_are_never_saved(tmp_path):
  # An infinite learning rate turns finite gradients into infinite weights:
  # the step's loss and gradients were finite, so only the save can catch it.
  trainer = _trainer(tmp_path, {'human': _targets(8, 3)},
                     learning_rate=float('inf'))
  with pytest.raises(NonFiniteLossError,
                     match=r'After global step 1, \d+ variables hold NaN or '
                           r'infinite values .*no checkpoint was written '
                           r'\(latest checkpoint: none\)'):
    trainer.train(2)
  assert not glob.glob(os.path.join(tmp_path, 'ckpt-*'))


def test_non_finite_option_is_checked(tmp_path):
  with pytest.raises(ValueError, match="non_finite must be one of.*'ignore'"):
    _trainer(tmp_path, {'human': _targets(4, 3)}, non_finite='ignore')


@pytest.mark.parametrize('mode', ['stop', 'skip'])
def test_cli_reports_a_nan_step(tmp_path, capsys, mode):
  child.register_gin()
  gin_file = child.toy_gin(
      str(tmp_path / 'toy.gin'), num_steps=4,
      bindings=['reliability.toy_datasets.nan_at = [2]',
                f"enformer_tf.train.Trainer.non_finite = '{mode}'"])
  status = cli.main(['--gin_file', gin_file, '--model_dir',
                     str(tmp_path / 'run')])
  out, err = capsys.readouterr()
  if mode == 'stop':
    assert status == 1
    [line] = err.strip().splitlines()
    assert line.startswith('enformer-train: error: NonFiniteLossError: The '
                           'human loss is nan at global step 2;')
    assert child.state_latest(str(tmp_path / 'run')).endswith('ckpt-1')
  else:
    assert status == 0, err
    assert 'human: skipped 1 update with a non-finite loss or gradient.' in (
        out)
    assert child.state_latest(str(tmp_path / 'run')).endswith('ckpt-4')
  child.assert_all_finite(str(tmp_path / 'run'))
