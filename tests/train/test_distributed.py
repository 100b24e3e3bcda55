"""Strategies: names, MirroredStrategy == one device, two-worker training."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from enformer_tf.train import evaluate
from enformer_tf.train import train_and_evaluate
from enformer_tf.train import strategy as strategy_lib

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CPUS = ['/cpu:0', '/cpu:1']  # tests/conftest.py splits the CPU in two.


def test_get_strategy_by_name():
  assert strategy_lib.get_strategy('default') is tf.distribute.get_strategy()
  assert strategy_lib.get_strategy(None) is tf.distribute.get_strategy()
  mirrored = strategy_lib.get_strategy('mirrored', devices=CPUS)
  assert isinstance(mirrored, tf.distribute.MirroredStrategy)
  assert mirrored.num_replicas_in_sync == 2
  assert strategy_lib.get_strategy(mirrored) is mirrored
  assert strategy_lib.is_chief(mirrored)
  assert strategy_lib.task_index(mirrored) == 0


def test_mirrored_strategies_in_one_process_get_their_own_keys():
  """Without distinct keys the second all-reduce (other shape) would fail."""
  for channels in (3, 5):
    strategy = strategy_lib.get_strategy('mirrored', devices=CPUS)

    @tf.function
    def all_reduce(strategy=strategy, channels=channels):
      return strategy.run(lambda: tf.distribute.get_replica_context(
          ).all_reduce('sum', tf.ones([channels])))

    for result in strategy.experimental_local_results(all_reduce()):
      np.testing.assert_array_equal(result, np.full(channels, 2.0))


@pytest.mark.parametrize('name, kwargs, tf_config, match', [
    ('tpu', {}, None, "Unknown strategy 'tpu'"),
    ('default', dict(devices=CPUS), None, 'only applies to the mirrored'),
    ('multi_worker', {}, '{"cluster": ', 'TF_CONFIG is not valid JSON'),
    ('multi_worker', {}, '{"task": {}}', '"cluster" and "task"'),
])
def test_get_strategy_errors(monkeypatch, name, kwargs, tf_config, match):
  if tf_config is not None:
    monkeypatch.setenv('TF_CONFIG', tf_config)
  with pytest.raises(ValueError, match=match):
    strategy_lib.get_strategy(name, **kwargs)


def _set_weights(model, weights):
  """`model`, built for 1,024 bp, with `weights`: every model of a
  comparison starts from the same weights."""
  model.build((None, 1024, 4))
  model.set_weights(weights)
  return model


def _sgd(learning_rate):
  return keras.optimizers.SGD(learning_rate)


def _train(tmp_path, name, factory, datasets, strategy):
  # Plain SGD: an update is the gradient itself, so a wrongly scaled loss
  # shows (Adam would normalise it away) and no gradient is mere round-off
  # amplified.
  return train_and_evaluate(factory, datasets, str(tmp_path / name),
                            num_steps=2, batch_size=2, strategy=strategy,
                            optimizer=_sgd, learning_rate=0.01, seed=0,
                            progress=False)


@pytest.fixture(scope='module')
def one_device(tmp_path_factory, tiny_model, make_datasets):
  """Initial weights and the model after two single-device updates (global
  batch 2), shared by the mirrored test and its control: with one replica,
  synchronised and per-replica BatchNorm are the same computation."""
  weights = []

  def factory():
    # The Trainer's own model (seeded by it), its initial weights kept as
    # it is built: no separate model built only for its weights (~2 s).
    model = tiny_model(dropout=False)
    model.build((None, 1024, 4))
    weights.extend(model.get_weights())
    return model

  run = _train(tmp_path_factory.mktemp('one_device'), 'one', factory,
               make_datasets(), None)
  assert weights
  return weights, [v.numpy() for v in run.model.variables]


@pytest.mark.slow
def test_mirrored_update_equals_one_device(tmp_path, tiny_model,
                                           make_datasets, mirrored_strategy,
                                           one_device):
  """Global batch 2: two replicas of 1 (synchronised BatchNorm) vs 1 of 2."""
  initial, one = one_device
  factory = lambda: _set_weights(tiny_model(dropout=False), initial)
  two = _train(tmp_path, 'two', factory,
               make_datasets(), mirrored_strategy)
  assert two.strategy.num_replicas_in_sync == 2
  assert len(one) == len(initial) == len(two.model.variables)
  moved = 0
  for start, a, b in zip(initial, one, two.model.variables):
    np.testing.assert_allclose(a, b.numpy(), atol=1e-5, rtol=1e-5,
                               err_msg=b.name)
    moved += not np.allclose(start, a)
  assert moved > len(two.model.trainable_variables) // 2  # Training happened.



@pytest.mark.slow
def test_unsynchronised_batch_norm_would_differ(tmp_path, tiny_model,
                                                make_datasets,
                                                mirrored_strategy,
                                                one_device):
  """The control for the test above: per-replica statistics change updates."""
  initial, one = one_device
  factory = lambda: _set_weights(
      tiny_model(dropout=False, synchronized_batch_norm=False), initial)
  two = _train(tmp_path, 'two', factory,
               make_datasets(), mirrored_strategy)
  assert [a.shape for a in one] == [b.shape for b in two.model.variables]
  assert max(np.abs(a - b.numpy()).max()
             for a, b in zip(one, two.model.variables)) > 1e-4


def test_mirrored_evaluation_with_a_partial_batch(tiny_model, make_datasets,
                                                  mirrored_strategy):
  """5 examples, global batch 2: the padded last batch counts once."""
  data = make_datasets(5, seed=3)
  model = tiny_model(dropout=False)
  model.build((None, 1024, 4))
  single = evaluate.evaluate(model, data, batch_size=5)
  strategy = mirrored_strategy
  with strategy.scope():
    mirrored_model = tiny_model(dropout=False)
    mirrored_model.build((None, 1024, 4))
  mirrored_model.set_weights(model.get_weights())
  mirrored = evaluate.evaluate(mirrored_model, data, batch_size=2,
                               strategy=strategy)
  for head in data:
    assert mirrored[head].num_values == single[head].num_values == 5 * 4
    np.testing.assert_allclose(mirrored[head].pearson_r,
                               single[head].pearson_r, atol=1e-5)
    np.testing.assert_allclose(mirrored[head].r2, single[head].r2, atol=1e-5)


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(('127.0.0.1', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


@pytest.mark.slow
def test_two_workers_finish_with_equal_weights(tmp_path):
  """MultiWorkerMirroredStrategy from TF_CONFIG, two local processes."""
  workers = [f'127.0.0.1:{port}' for port in _free_ports(2)]
  model_dir = tmp_path / 'run'
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [REPO] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
  processes = []
  for index in range(2):
    tf_config = {'cluster': {'worker': workers},
                 'task': {'type': 'worker', 'index': index}}
    processes.append(subprocess.Popen(
        [sys.executable,
         os.path.join(os.path.dirname(__file__), 'subprocess_worker.py'),
         'multi_worker', str(model_dir), str(tmp_path / f'{index}.npz')],
        env=dict(env, TF_CONFIG=json.dumps(tf_config)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
  try:
    outputs = [p.communicate(timeout=600) for p in processes]
  finally:
    for p in processes:
      if p.poll() is None:
        p.kill()
  for p, (_, stderr) in zip(processes, outputs):
    assert p.returncode == 0, stderr[-3000:]
  chief, other = (np.load(tmp_path / f'{i}.npz') for i in range(2))
  assert bool(chief['chief']) and not bool(other['chief'])
  assert int(chief['replicas']) == 2
  weights = [k for k in chief.files
             if k not in ('chief', 'replicas', 'pearson_r')]
  assert len(weights) > 50
  for key in weights:
    np.testing.assert_allclose(chief[key], other[key], atol=1e-6, err_msg=key)
  np.testing.assert_allclose(chief['pearson_r'], other['pearson_r'],
                             atol=1e-6)
  # Only the chief's checkpoints remain; the other worker cleaned up.
  assert tf.train.latest_checkpoint(str(model_dir)).endswith('ckpt-2')
  assert not (model_dir / '.worker_1').exists()
