"""The demo's verdicts: per track class, does training beat the untrained
model; and `enformer-demo`'s command line."""
import subprocess

import numpy as np
import pytest

from enformer_tf.cli import demo


def test_class_verdicts_group_tracks_and_compare_means():
  names = ['cage_promoter', 'cage_distal', 'dnase', 'gc']
  trained = [0.9, 0.3, 0.7, 0.8]
  untrained = [0.0, 0.25, 0.1, 0.75]
  verdicts = demo.class_verdicts(names, trained, untrained)
  assert list(verdicts) == ['local peaks', 'distal rule', 'GC composition']
  local = verdicts['local peaks']
  np.testing.assert_allclose([local['pearson_r'], local['untrained_pearson_r']],
                             [0.8, 0.05])
  assert local['beats_untrained']
  # Gains of 0.05 are below the 0.1 margin: not counted as learnt.
  assert not verdicts['distal rule']['beats_untrained']
  assert not verdicts['GC composition']['beats_untrained']
  # An unknown track is its own class.
  assert demo.class_verdicts(['x'], [0.5], [0.2]) == {
      'x': dict(pearson_r=0.5, untrained_pearson_r=0.2, beats_untrained=True)}


def test_main_reports_a_failed_step_in_one_line(monkeypatch, capsys):
  calls = []

  def fail(*args):
    calls.append(args)
    raise subprocess.CalledProcessError(1, ['saved_model_cli', 'run'])

  monkeypatch.setattr(demo, 'run_demo', fail)
  assert demo.main(['--work_dir', 'w', '--seed', '3', '--num_steps', '5',
                    '--gin_param', 'a = 1']) == 1
  assert calls == [('w', 3, 5, ['a = 1'])]
  err = capsys.readouterr().err
  assert err.startswith('enformer-demo: error: Command ') and err.count(
      '\n') == 1


def test_main_rejects_bad_options_in_one_line(capsys):
  with pytest.raises(SystemExit) as exit_info:
    demo.main(['--seed', 'x'])
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert err.startswith('enformer-demo: error: argument --seed') and err.count(
      '\n') == 1
