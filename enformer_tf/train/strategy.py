"""Distribution strategies by name, and who writes files in a cluster.

- `default`: `tf.distribute.get_strategy()` (one device, or the strategy of
  an enclosing `scope()`).
- `mirrored`: `MirroredStrategy` over the given or all visible GPUs (CPU if
  none), synchronous, one replica per device.
- `multi_worker`: `MultiWorkerMirroredStrategy`, the cluster read from the
  `TF_CONFIG` environment variable, e.g.
  `{"cluster": {"worker": ["host1:2222", "host2:2222"]},
    "task": {"type": "worker", "index": 0}}`; worker 0 is the chief.
"""
import json
import os
from typing import Optional, Sequence, Union

import tensorflow as tf

STRATEGIES = ('default', 'mirrored', 'multi_worker')


def get_strategy(name: Union[str, tf.distribute.Strategy, None] = 'default',
                 devices: Optional[Sequence[str]] = None
                 ) -> tf.distribute.Strategy:
  """Returns the strategy called `name` (a strategy object passes through).

  Args:
    name: one of `STRATEGIES`, a `tf.distribute.Strategy`, or None
      (`default`).
    devices: devices for `mirrored`, e.g. `['/gpu:0', '/gpu:1']`; all visible
      GPUs (or the CPU) if None.

  Raises:
    ValueError: unknown name, devices given to another strategy, or a
      malformed `TF_CONFIG` for `multi_worker`.
  """
  if isinstance(name, tf.distribute.Strategy):
    return name
  name = name or 'default'
  if name not in STRATEGIES:
    raise ValueError(f'Unknown strategy {name!r}; expected one of '
                     f'{", ".join(STRATEGIES)}.')
  if devices is not None and name != 'mirrored':
    raise ValueError(f'devices={list(devices)} only applies to the mirrored '
                     f'strategy, not {name!r}.')
  if name == 'default':
    return tf.distribute.get_strategy()
  if name == 'mirrored':
    _new_collective_keys(tf.distribute.MirroredStrategy)
    strategy = tf.distribute.MirroredStrategy(
        devices=list(devices) if devices else None)
    # And leave the next base unused for strategies made directly.
    _new_collective_keys(tf.distribute.MirroredStrategy)
    return strategy
  _check_tf_config()
  return tf.distribute.MultiWorkerMirroredStrategy()


def _new_collective_keys(strategy_class):
  """Gives the next strategy of `strategy_class` its own collective keys.

  Every MirroredStrategy numbers its collective ops (synchronised BatchNorm,
  gradient all-reduce) from the same group and instance keys, and the
  process caches each instance's shape. A second strategy over the same
  devices in one process (tests, notebooks) then fails with "Shape mismatch
  in the collective instance ...". A distinct key base per strategy avoids
  it.
  """
  # pylint: disable=protected-access
  strategy_class._collective_key_base += 100_000


def _check_tf_config():
  """Fails early, and clearly, on a TF_CONFIG the cluster resolver rejects."""
  text = os.environ.get('TF_CONFIG')
  if not text:
    return  # A single-worker cluster: fine for trying things out.
  try:
    config = json.loads(text)
  except json.JSONDecodeError as error:
    raise ValueError(f'TF_CONFIG is not valid JSON ({error}): {text!r}.')
  if not isinstance(config, dict) or 'cluster' not in config or (
      'task' not in config):
    raise ValueError('TF_CONFIG must be a JSON object with "cluster" and '
                     f'"task" keys, got {text!r}.')


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """True unless this process is a non-chief worker of a multi-worker run.

  The chief is the `chief` task if the cluster has one, else worker 0.
  """
  resolver = strategy.cluster_resolver
  cluster = resolver.cluster_spec().as_dict() if resolver else {}
  if not cluster:
    return True
  task_type, task_id = resolver.task_type, resolver.task_id
  if 'chief' in cluster:
    return task_type == 'chief'
  return task_type in (None, 'worker') and not task_id


def task_index(strategy: tf.distribute.Strategy) -> int:
  """This worker's index in a multi-worker cluster, else 0."""
  resolver = strategy.cluster_resolver
  if resolver is None or resolver.task_id is None:
    return 0
  return int(resolver.task_id)


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
  """True if the strategy's cluster has more than one task."""
  resolver = strategy.cluster_resolver
  cluster = resolver.cluster_spec().as_dict() if resolver else {}
  return sum(len(tasks) for tasks in cluster.values()) > 1
