"""Shared pieces of the benchmarks: the matmul roofline, peak memory, JSON."""
import json
import os
import platform
import resource
import statistics
import time
from typing import Callable, Dict, List, Tuple

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


def interleaved_times(first: Callable[[], object],
                      second: Callable[[], object], runs: int,
                      warmup: int, *others: Callable[[], object]
                      ) -> Tuple[List[float], ...]:
  """Wall times of `first`, `second` (and `others`), alternating run by
  run, so that load and clock changes affect all alike."""
  fns = (first, second) + others
  for _ in range(warmup):
    for fn in fns:
      _block(fn())
  times = tuple([] for _ in fns)
  for _ in range(runs):
    for fn, out in zip(fns, times):
      start = time.perf_counter()
      _block(fn())
      out.append(time.perf_counter() - start)
  return times


def square_matmul(dtype=tf.float32, n: int = 4096
                  ) -> Tuple[Callable[[], object], float]:
  """(a call of the n^3 product, its GFLOP): to time beside a model, so
  that the roofline and the model see the same clock and load."""
  a = tf.cast(tf.random.normal((n, n)), dtype)
  b = tf.cast(tf.random.normal((n, n)), dtype)
  product = tf.function(
      lambda: tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32)))
  return product, 2 * n**3 / 1e9


def _block(result):
  """Waits for every tensor in `result` (TF may return before finishing)."""
  for t in tf.nest.flatten(result):
    if isinstance(t, tf.Tensor):
      t.numpy()


# Matrix products the model runs most, as [rows, depth, columns] at 1/8 of
# the rows the full-length model has (the rate no longer depends on rows).
MODEL_MATMUL_SHAPES = {
    'stem_pointwise': (24_576, 768, 768),  # 1x1 conv / pooling logits.
    'tower0_conv5': (12_288, 5 * 768, 768),  # Width-5 conv as one product.
    'transformer_mlp': (1_536, 1_536, 3_072),  # Dense(2C) on 1536 bins.
}


def matmul_gflops(rows: int, depth: int, columns: int, dtype=tf.float32,
                  runs: int = 5) -> float:
  """Best achieved GFLOP/s of `[rows, depth] x [depth, columns]` in `dtype`.

  The whole product is reduced, so every output element is computed: an
  earlier version summed `matmul(a, b)[:1, :1]`, which TensorFlow may compute
  without the rest of the product, and reported rates above the CPU's peak.
  """
  a = tf.cast(tf.random.normal((rows, depth)), dtype)
  b = tf.cast(tf.random.normal((depth, columns)), dtype)

  @tf.function
  def product(a, b):
    return tf.reduce_sum(tf.cast(tf.matmul(a, b), tf.float32))

  times = time_call(lambda: product(a, b), runs=runs, warmup=1)
  return 2 * rows * depth * columns / min(times) / 1e9


def matmul_roofline_gflops(dtype=tf.float32, n: int = 4096,
                           runs: int = 5) -> float:
  """Best achieved GFLOP/s of a large square `tf.matmul` in `dtype`."""
  return matmul_gflops(n, n, n, dtype, runs)


def matmul_rooflines(dtype=tf.float32, runs: int = 5) -> Dict[str, float]:
  """GFLOP/s of the large square product and of the model's own shapes."""
  rates = {'square_4096': matmul_roofline_gflops(dtype, runs=runs)}
  for name, shape in MODEL_MATMUL_SHAPES.items():
    rates[name] = matmul_gflops(*shape, dtype=dtype, runs=runs)
  return {name: round(rate, 1) for name, rate in rates.items()}


def cpu_model() -> Dict[str, object]:
  """The CPU's model name and the vector/matrix extensions oneDNN picks
  kernels by (figures from an AMD EPYC and an Intel Xeon with AMX differ)."""
  name, flags = None, set()
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        key, _, value = line.partition(':')
        if key.strip() == 'model name' and name is None:
          name = value.strip()
        elif key.strip() == 'flags' and not flags:
          flags = set(value.split())
  except OSError:  # Not Linux: platform's description is all there is.
    pass
  wanted = ('avx2', 'avx512f', 'avx512_bf16', 'amx_bf16', 'amx_tile')
  return dict(cpu_model=name or platform.processor() or None,
              cpu_flags=[flag for flag in wanted if flag in flags])


def machine() -> Dict[str, object]:
  return dict(cpus=os.cpu_count(), machine=platform.machine(),
              processor=platform.processor() or None,
              tensorflow=tf.__version__,
              onednn=os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default'),
              **cpu_model())


def emit(record: Dict[str, object]) -> None:
  """Prints one JSON line."""
  print(json.dumps(record, sort_keys=True), flush=True)


def median(values: List[float]) -> float:
  return float(statistics.median(values))


def random_one_hot(batch: int, length: int, seed: int = 0) -> np.ndarray:
  rng = np.random.RandomState(seed)
  return np.eye(4, dtype=np.float32)[rng.randint(0, 4, (batch, length))]
