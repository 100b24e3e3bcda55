"""Shared pieces of the benchmarks: the matmul roofline, peak memory, JSON."""
import json
import os
import platform
import resource
import statistics
import time
from typing import Callable, Dict, List

import numpy as np
import tensorflow as tf

FORWARD_TFLOP = 3.29  # Enformer forward, one 196,608-bp sequence.


def peak_rss_gib() -> float:
  """Peak resident memory of this process so far (Linux ru_maxrss is KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def time_call(fn: Callable[[], object], runs: int, warmup: int) -> List[float]:
  """Wall times of `runs` calls after `warmup` untimed ones."""
  for _ in range(warmup):
    _block(fn())
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    _block(fn())
    times.append(time.perf_counter() - start)
  return times


def _block(result):
  """Waits for every tensor in `result` (TF may return before finishing)."""
  for t in tf.nest.flatten(result):
    if isinstance(t, tf.Tensor):
      t.numpy()


def matmul_roofline_gflops(dtype=tf.float32, n: int = 4096, runs: int = 5,
                           repeats: int = 4) -> float:
  """Best achieved GFLOP/s of a large square `tf.matmul` in `dtype`."""
  a = tf.random.normal((n, n), dtype=tf.float32)
  b = tf.random.normal((n, n), dtype=tf.float32)
  a, b = tf.cast(a, dtype), tf.cast(b, dtype)

  @tf.function
  def chain():
    total = tf.zeros((), tf.float32)
    for _ in range(repeats):  # Several products per call hide dispatch.
      total += tf.cast(tf.reduce_sum(tf.matmul(a, b)[:1, :1]), tf.float32)
    return total

  times = time_call(chain, runs=runs, warmup=1)
  return repeats * 2 * n**3 / min(times) / 1e9


def machine() -> Dict[str, object]:
  return dict(cpus=os.cpu_count(), machine=platform.machine(),
              processor=platform.processor() or None,
              tensorflow=tf.__version__)


def emit(record: Dict[str, object]) -> None:
  """Prints one JSON line."""
  print(json.dumps(record, sort_keys=True), flush=True)


def median(values: List[float]) -> float:
  return float(statistics.median(values))


def random_one_hot(batch: int, length: int, seed: int = 0) -> np.ndarray:
  rng = np.random.RandomState(seed)
  return np.eye(4, dtype=np.float32)[rng.randint(0, 4, (batch, length))]
