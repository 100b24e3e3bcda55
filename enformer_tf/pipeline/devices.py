"""Several local devices inside one worker: one model replica per device.

A worker machine with 4 GPUs runs one worker process that loads the model
once per GPU (`Replicas`) and spreads a shard's batches over them, one
thread per device: TensorFlow releases the GIL while a device computes.
Each batch is the same model call as in a single-device run, so the
numbers do not depend on the device count (a `tf.distribute` strategy
would cut every batch across replicas, changing the calls).
"""
import concurrent.futures
from typing import Callable, Generic, List, Optional, Sequence, TypeVar

T = TypeVar('T')
R = TypeVar('R')


def configure_cpu_devices(count: int) -> None:
  """Splits the CPU into `count` logical devices (before TF runs an op).

  For tests and CPU-only hosts: `/CPU:0` ... `/CPU:{count - 1}`.

  Raises:
    ValueError: `count` < 1, or TensorFlow was initialised already with
      another number of CPU devices.
  """
  import tensorflow as tf
  if count < 1:
    raise ValueError(f'cpu_devices must be at least 1, got {count}.')
  cpu = tf.config.list_physical_devices('CPU')[0]
  try:
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * count)
  except RuntimeError:
    pass  # Already initialised: checked below.
  found = len(tf.config.list_logical_devices('CPU'))
  if found != count:
    raise ValueError(f'cpu_devices={count}, but TensorFlow was already '
                     f'started with {found} CPU device(s) in this process.')


def local_devices(devices: Optional[str] = None) -> List[str]:
  """The devices to hold one replica each.

  Args:
    devices: comma-separated names (`/GPU:0,/GPU:1`); default every GPU,
      or else every logical CPU device.

  Raises:
    ValueError: a named device that does not exist.
  """
  import tensorflow as tf
  gpus = [d.name for d in tf.config.list_logical_devices('GPU')]
  cpus = [d.name for d in tf.config.list_logical_devices('CPU')]
  if not devices:
    return gpus or cpus
  def short(name: str) -> str:  # '/device:GPU:0', '/gpu:0' -> 'GPU:0'
    return name.strip().upper().lstrip('/').replace('DEVICE:', '')

  known = {short(name): name for name in gpus + cpus}
  chosen = []
  for name in devices.split(','):
    if short(name) not in known:
      raise ValueError(f'--devices: no device {name.strip()!r} here; found '
                       f'{", ".join(gpus + cpus)}.')
    chosen.append(known[short(name)])
  return chosen


class Replicas(Generic[T]):
  """One object per device (a scorer over its own model copy).

  Args:
    build: makes the replica; called inside `tf.device(device)`, so the
      variables of a model loaded there live on that device.
    devices: device names (`local_devices`).
  """

  def __init__(self, build: Callable[[], T], devices: Sequence[str]):
    import tensorflow as tf
    if not devices:
      raise ValueError('Replicas need at least one device.')
    self.devices = tuple(devices)
    self.replicas: List[T] = []
    for device in self.devices:
      with tf.device(device):
        self.replicas.append(build())

  def map(self, fn: Callable[[T, object], R], items: Sequence[object]
          ) -> List[R]:
    """`[fn(replica, item) for item in items]`, in order; item `i` runs on
    replica `i % len(devices)` inside its `tf.device`, one thread per
    device."""
    import tensorflow as tf
    count = len(self.replicas)
    if count == 1 or len(items) < 2:
      with tf.device(self.devices[0]):
        return [fn(self.replicas[0], item) for item in items]

    def run(k: int) -> List[R]:
      with tf.device(self.devices[k]):
        return [fn(self.replicas[k], item) for item in items[k::count]]

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
      parts = list(pool.map(run, range(count)))
    results: List[Optional[R]] = [None] * len(items)
    for k, part in enumerate(parts):
      results[k::count] = part
    return results  # type: ignore[return-value]
