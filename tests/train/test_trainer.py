"""The custom training loop on the default strategy, with a tiny Enformer."""
import glob
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from enformer_tf.train import NonFiniteLossError
from enformer_tf.train import Trainer
from enformer_tf.train import evaluate
from enformer_tf.train import op_errors
from enformer_tf.train import schedules
from enformer_tf.train import train_and_evaluate

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _scalars(directory):
  """tag -> {step: value} from the TensorBoard event files in `directory`."""
  out = {}
  for path in glob.glob(os.path.join(directory, 'events.out.tfevents.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        out.setdefault(value.tag, {})[event.step] = float(
            tf.make_ndarray(value.tensor))
  return out


def _write_targets(path, identifiers):
  with open(path, 'w') as f:
    f.write('index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n')
    for i, name in enumerate(identifiers):
      f.write(f'{i}\t{name}\t{name}.bw\t32\t2\tsum\tCAGE:{name}\n')


@pytest.mark.slow
def test_train_two_heads_with_summaries_checkpoints_and_tables(
    tmp_path, tiny_model, make_datasets):
  model_dir = str(tmp_path / 'run')
  eval_data = make_datasets(num_examples=5, seed=7)  # 5 = 2 + 2 + 1 padded.
  targets = tmp_path / 'targets.txt'
  _write_targets(targets, ['ENCFF0', 'ENCFF1', 'ENCFF2'])
  trainer = train_and_evaluate(
      tiny_model, make_datasets(), model_dir, num_steps=3, batch_size=2,
      learning_rate=schedules.LinearWarmup(1e-3, warmup_steps=2),
      eval_data=eval_data, eval_every=2, checkpoint_every=2, summary_every=1,
      track_names={'human': str(targets)}, progress=False)

  # One update per organism per global step, at the global step's rate.
  assert int(trainer.step.numpy()) == 3
  assert int(trainer.optimizer.iterations.numpy()) == 6
  assert trainer.heads == ['human', 'mouse']
  assert float(trainer.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
  assert tf.train.latest_checkpoint(model_dir).endswith('ckpt-3')
  assert os.path.exists(os.path.join(model_dir, 'ckpt-2.index'))

  scalars = _scalars(os.path.join(model_dir, 'train'))
  assert {'loss/human', 'loss/mouse', 'learning_rate',
          'steps_per_second'} <= set(scalars)
  np.testing.assert_allclose(
      [scalars['learning_rate'][s] for s in (1, 2, 3)], [0.0, 5e-4, 1e-3],
      atol=1e-9)
  assert all(np.isfinite(v) for v in scalars['loss/human'].values())
  eval_scalars = _scalars(os.path.join(model_dir, 'eval'))
  assert set(eval_scalars['pearson_r/human']) == {2, 3}
  assert set(eval_scalars['r2/mouse']) == {2, 3}
  # Per track, by identifier (human) or index (mouse has no targets.txt).
  for i in range(3):
    assert set(eval_scalars[f'pearson_r/human/ENCFF{i}']) == {2, 3}
  assert set(eval_scalars['pearson_r/mouse/track1']) == {2, 3}
  curves = evaluate.read_curves(os.path.join(model_dir, 'eval'))
  assert set(curves['human']) == {'ENCFF0', 'ENCFF1', 'ENCFF2'}
  assert set(curves['mouse']) == {'0', '1'}
  assert all(set(steps) == {2, 3} for steps in curves['human'].values())
  for i in range(3):
    np.testing.assert_allclose(curves['human'][f'ENCFF{i}'][3],
                               trainer.last_eval['human'].pearson_r[i],
                               atol=1e-6)

  # The evaluation equals Pearson R computed directly over all 5 examples.
  for head, dataset in eval_data.items():
    # In batches of 2, as the evaluator predicts: the float32 kernels round
    # differently for other batch sizes, enough to move R by 1e-5.
    batches = list(dataset.batch(2))
    prediction = np.concatenate([trainer.model.predict_head(
        batch['sequence'], head, training=False).numpy() for batch in batches])
    target = np.concatenate([batch['target'].numpy() for batch in batches])
    n = target.shape[-1]
    expected = [scipy.stats.pearsonr(prediction[..., i].ravel(),
                                     target[..., i].ravel())[0]
                for i in range(n)]
    np.testing.assert_allclose(trainer.last_eval[head].pearson_r, expected,
                               atol=1e-5)
    assert trainer.last_eval[head].num_values == 5 * 4

  with open(os.path.join(model_dir, 'eval', 'human.tsv')) as f:
    rows = [line.rstrip('\n').split('\t') for line in f]
  assert rows[0] == ['index', 'identifier', 'pearson_r', 'r2']
  assert [row[:2] for row in rows[1:]] == [['0', 'ENCFF0'], ['1', 'ENCFF1'],
                                           ['2', 'ENCFF2']]
  np.testing.assert_allclose([float(row[2]) for row in rows[1:]],
                             trainer.last_eval['human'].pearson_r, atol=1e-6)
  with open(os.path.join(model_dir, 'eval', 'summary.tsv')) as f:
    summary = [line.rstrip('\n').split('\t') for line in f]
  assert summary[0] == ['head', 'step', 'num_tracks', 'num_values',
                        'pearson_r', 'r2']
  assert [row[:3] for row in summary[1:]] == [['human', '3', '3'],
                                              ['mouse', '3', '2']]


def test_single_organism_nan_stop_and_resume(tmp_path, tiny_model,
                                             make_examples):
  sequence, target = make_examples(6, 3)
  target[4:] = np.nan  # The third batch of 2 (global step 3).
  data = {'human': tf.data.Dataset.from_tensor_slices(
      {'sequence': sequence, 'target': target})}
  model_dir = str(tmp_path / 'run')
  trainer = Trainer(tiny_model, data, model_dir, batch_size=2,
                    learning_rate=1e-3, checkpoint_every=1,
                    progress=False)
  before = {name: [w.numpy() for w in layer.weights]
            for name, layer in trainer.model.head_layers.items()}
  trunk_before = trainer.model.trunk.trainable_weights[0].numpy()
  trainer.train(2)

  # Only the human head (and the trunk) moved; one update per step.
  assert trainer.heads == ['human']
  assert int(trainer.optimizer.iterations.numpy()) == 2
  for before_w, w in zip(before['mouse'],
                         trainer.model.head_layers['mouse'].weights):
    np.testing.assert_array_equal(before_w, w.numpy())
  assert not np.array_equal(
      before['human'][0], trainer.model.head_layers['human'].weights[0])
  assert not np.array_equal(trunk_before,
                            trainer.model.trunk.trainable_weights[0])

  with pytest.raises(NonFiniteLossError,
                     match=r'human loss is nan at global step 3.*ckpt-2'):
    trainer.train(4)
  # The update with the NaN loss was not applied: the weights stay finite.
  assert int(trainer.optimizer.iterations.numpy()) == 2
  assert all(np.isfinite(w.numpy()).all() for w in trainer.model.weights)
  assert tf.train.latest_checkpoint(model_dir).endswith('ckpt-2')
  assert not glob.glob(os.path.join(model_dir, 'ckpt-3*'))

  # A new trainer resumes from the last good checkpoint's step.
  resumed = Trainer(tiny_model, data, model_dir, batch_size=2,
                    learning_rate=1e-3, progress=False)
  assert int(resumed.step.numpy()) == 2
  assert int(resumed.optimizer.iterations.numpy()) == 2


@pytest.mark.slow
def test_training_stream_and_step_function_are_what_train_runs(
    tmp_path, tiny_model, make_datasets):
  """The public pieces bench scripts time: the stream and the bare step."""
  data = make_datasets(6)
  trainer = Trainer(lambda: tiny_model(dropout=False), data, str(tmp_path),
                    batch_size=2, max_shift=0, reverse_complement=False,
                    learning_rate=1e-3, progress=False, handle_signals=False)
  examples = list(data['human'].batch(6).as_numpy_iterator())[0]
  stream = iter(trainer.training_stream('human'))
  for start in (0, 2, 4, 0):  # Batched to the global batch, repeated.
    batch = next(stream)
    np.testing.assert_array_equal(batch['target'],
                                  examples['target'][start:start + 2])
  # resume_data='skip': from step 2 on, the examples of steps 0 and 1 are
  # skipped.
  resumed = next(iter(trainer.training_stream('human', start_step=2)))
  np.testing.assert_array_equal(resumed['target'], examples['target'][4:6])

  step_fn = trainer.train_step_function()
  results, learning_rate = step_fn(trainer.distributed_iterators())
  assert sorted(results) == ['human', 'mouse']
  for loss, gradient_norm, applied in results.values():
    assert bool(applied) and np.isfinite(float(loss))
    assert float(gradient_norm) > 0
  assert float(learning_rate) == pytest.approx(1e-3)
  # The step alone: one update per organism, no checkpoint.
  assert int(trainer.step.numpy()) == 1
  assert int(trainer.optimizer.iterations.numpy()) == 2
  assert not glob.glob(os.path.join(str(tmp_path), 'ckpt-*'))


def test_data_errors_in_the_step_name_the_step_on_one_line():
  message = ('Graph execution error:\n\nDetected at node x defined at:\n'
             '  File "a.py", line 1\n{{function_node __inference_f_9}} '
             "assertion failed: [file \\'a.tfr\\' is corrupt; "
             'basenji_datasets(skip_corrupt=True) skips it]\n'
             '\t [[{{node Assert}}]] [Op:__inference_f_9]')
  assert op_errors.clean_message(message) == (
      "file 'a.tfr' is corrupt; basenji_datasets(skip_corrupt=True) skips it")
  assert op_errors.clean_message(
      'Graph execution error:\n\nDetected at node y\nOut of memory '
      '{{function_node f}} here [[{{node z}}]]\n  stack\n') == (
          'Out of memory here')
  error = op_errors.at_step(
      tf.errors.DataLossError(None, None, message), 7, 'runs/x/ckpt-5')
  assert isinstance(error, tf.errors.DataLossError)
  assert error.message == (
      "Training stopped at global step 7: file 'a.tfr' is corrupt; "
      'basenji_datasets(skip_corrupt=True) skips it Nothing from this step '
      'was checkpointed (latest checkpoint: runs/x/ckpt-5).')
  base = tf.errors.OpError(None, None, 'x', tf.errors.UNKNOWN)
  assert op_errors.at_step(base, 7, None) is base


@pytest.mark.slow
def test_resumed_run_equals_uninterrupted_run(tmp_path):
  """Deterministic ops, dropout and augmentation on: resume from step 2's
  checkpoint to 4 (subprocess_worker.resume). Two steps each side are
  enough: a skipped update, a lost optimizer slot, an unrestored dropout
  generator or a reseeded data stream changes the weights at step 4."""
  out = tmp_path / 'out.npz'
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [REPO] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
  result = subprocess.run(
      [sys.executable, os.path.join(os.path.dirname(__file__),
                                    'subprocess_worker.py'),
       'resume', str(tmp_path), str(out)],
      env=env, capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  data = np.load(out)
  assert int(data['start']) == 2 and int(data['steps']) == 4
  assert int(data['iterations']) == 8
  names = [k[len('full_'):] for k in data.files if k.startswith('full_')]
  assert names
  for name in names:
    np.testing.assert_array_equal(data['full_' + name], data['resumed_' + name],
                                  err_msg=name)


@pytest.mark.parametrize('change, match', [
    (dict(heads={'human': 3, 'rat': 2}), "organism 'rat'"),
    (dict(tracks=4), 'human training targets have 4 tracks.*has 3'),
    (dict(batched=True), 'unbatched'),
    (dict(resume_data='rewind'), 'resume_data'),
    (dict(batch_size=0), 'batch_size'),
])
def test_bad_data_and_arguments_are_clear_errors(tmp_path, tiny_model,
                                                 make_datasets, change, match):
  change = dict(change)
  datasets = make_datasets(2, heads=change.pop('heads', None))
  if change.pop('batched', False):
    datasets['human'] = datasets['human'].batch(1)
  if 'tracks' in change:
    datasets = make_datasets(2, heads={'human': change.pop('tracks')})
  with pytest.raises(ValueError, match=match):
    Trainer(tiny_model, datasets, str(tmp_path), progress=False,
            **change)


def test_batch_size_must_split_over_replicas(tmp_path, tiny_model,
                                             make_datasets, mirrored_strategy):
  strategy = mirrored_strategy
  with pytest.raises(ValueError, match='batch_size=3.*2'):
    Trainer(tiny_model, make_datasets(2), str(tmp_path), batch_size=3,
            strategy=strategy)


def test_write_tables_and_track_identifiers(tmp_path):
  _write_targets(tmp_path / 'targets.txt', ['b', 'a'])
  assert evaluate.read_track_identifiers(str(tmp_path)) == ['b', 'a']
  assert evaluate.read_track_identifiers(str(tmp_path / 'missing')) is None
  results = {'human': evaluate.HeadEvaluation(
      'human', np.array([0.5, np.nan]), np.array([0.25, -1.0]), 12)}
  paths = evaluate.write_tables(results, str(tmp_path / 'eval'),
                                {'human': str(tmp_path)}, step=9)
  with open(paths['human']) as f:
    assert f.read().splitlines() == [
        'index\tidentifier\tpearson_r\tr2', '0\tb\t0.500000\t0.250000',
        '1\ta\tnan\t-1.000000']
  with open(paths['summary']) as f:
    assert f.read().splitlines()[1] == 'human\t9\t2\t12\t0.500000\t-0.375000'
  with pytest.raises(ValueError, match='3 identifiers.*2 tracks'):
    evaluate.write_tables(results, str(tmp_path), {'human': ['x'] * 3})


def test_curves_keep_one_row_per_step_and_track_across_a_resume(tmp_path):
  def result(r):
    return {'human': evaluate.HeadEvaluation(
        'human', np.array([r, r / 2]), np.array([0.0, 0.0]), 4)}
  out = str(tmp_path)
  for step, r in ((100, 0.1), (200, 0.2), (300, 0.3)):
    evaluate.append_curves(result(r), out, step, {'human': ['a', 'b']})
  # Resumed from the step-150 checkpoint: 200 and 300 are evaluated again.
  evaluate.append_curves(result(0.25), out, 200, {'human': ['a', 'b']})
  curves = evaluate.read_curves(out)
  assert curves == {'human': {'a': {100: 0.1, 200: 0.25},
                              'b': {100: 0.05, 200: 0.125}}}
  (tmp_path / 'curves.tsv').write_text('step\thead\n')
  with pytest.raises(ValueError, match='not a curves table'):
    evaluate.read_curves(out)
