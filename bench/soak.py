"""Soak test of an exported SavedModel: many concurrent requests, flat memory.

Exports a small Enformer (no warm-up file), loads it with
`tf.saved_model.load` and computes every distinct request's outputs with
sequential calls. Then `--threads` threads send `--warmup` untimed requests
and `--requests` timed ones, a mix of the one-hot and DNA-string signatures
(`human`, `mouse_dna`, `serving_default`, `embeddings_dna`) over a few
distinct inputs, and each response is compared with its sequential one.
Prints one JSON line: requests, threads, seconds, requests/s, the resident
memory (RSS, MiB) after loading, after the warm-up and at the end, its
growth during the soak and the largest |difference| from the sequential
outputs (0 when the concurrent outputs are identical).

    python bench/soak.py                                   # ~1 min, 2 cores
    python bench/soak.py --requests 30000 --threads 8 --warmup 400  # longer

The warm-up runs on the same threads as the soak, so that per-thread memory
(allocator arenas, TensorFlow's per-thread state) is counted before the
growth is measured, not in it. tests/reliability/test_serving_load.py runs
the same procedure (`tests/reliability/tiny_serving.py`: tests do not import
bench scripts); change both together.
"""
import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent import futures
from typing import Callable, Dict, List, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import common  # noqa: E402  (bench/common.py, beside this file)

# (signature, input key): each request calls one of these.
REQUEST_KINDS = (('human', 'sequence'), ('mouse_dna', 'dna'),
                 ('serving_default', 'sequence'), ('embeddings_dna', 'dna'))
MIB = 2**20


def rss_mib() -> float:
  """Current resident memory of this process in MiB (Linux /proc)."""
  with open('/proc/self/statm') as f:
    resident_pages = int(f.read().split()[1])
  return resident_pages * os.sysconf('SC_PAGE_SIZE') / MIB


def distinct_requests(sequence_length: int, count: int, batch: int = 1,
                      seed: int = 0) -> List[Tuple[str, Dict[str, tf.Tensor]]]:
  """`count` different requests `(signature name, inputs)`, kinds in turn."""
  rng = np.random.RandomState(seed)
  letters = np.frombuffer(b'ACGTN', np.uint8)
  requests = []
  for i in range(count):
    name, key = REQUEST_KINDS[i % len(REQUEST_KINDS)]
    codes = rng.randint(0, 5, (batch, sequence_length))  # [B, L], 4 = N
    if key == 'dna':
      value = tf.constant([letters[row].tobytes() for row in codes])  # [B]
    else:
      value = tf.constant(np.eye(5, 4, dtype=np.float32)[codes])  # [B, L, 4]
    requests.append((name, {key: value}))
  return requests


def _outputs(loaded, request) -> Dict[str, np.ndarray]:
  name, inputs = request
  return {k: v.numpy() for k, v in loaded.signatures[name](**inputs).items()}


def _max_abs_diff(outputs: Dict[str, np.ndarray],
                  reference: Dict[str, np.ndarray]) -> float:
  if set(outputs) != set(reference):
    return float('inf')
  return max(float(np.max(np.abs(outputs[k] - reference[k])))
             for k in reference)


def soak(loaded, requests: Sequence[Tuple[str, Dict[str, tf.Tensor]]],
         total: int, threads: int, warmup: int,
         memory: Callable[[], float] = rss_mib) -> Dict[str, object]:
  """Sends `total` requests (cycling through `requests`) from `threads`.

  Args:
    loaded: a `tf.saved_model.load`ed export.
    requests: the distinct `(signature name, inputs)` requests.
    total: timed requests.
    threads: worker threads (the same ones run the warm-up and the soak).
    warmup: untimed requests sent first from the same threads.
    memory: returns the current memory use in MiB.

  Returns:
    A dict: `requests`, `threads`, `seconds`, `requests_per_s`,
    `rss_start_mib` (before any request), `rss_warm_mib` (after the
    sequential references and the warm-up), `rss_end_mib`,
    `rss_growth_mib` (end - warm), `max_abs_diff` (largest difference of a
    concurrent output from the sequential one), `threads_used`.
  """
  rss_start = memory()
  references = [_outputs(loaded, r) for r in requests]  # Sequential.
  used = set()

  def serve(numbers: range) -> float:
    """Sends requests `numbers` one after the other; the largest diff."""
    used.add(threading.get_ident())
    diff = 0.0
    for i in numbers:
      k = i % len(requests)
      diff = max(diff, _max_abs_diff(_outputs(loaded, requests[k]),
                                     references[k]))
    return diff

  def run(count: int) -> float:
    # One task per thread, not one per request: the harness itself then
    # holds no per-request state (a Future per request would grow RSS).
    shares = [range(t, count, threads) for t in range(threads)]
    return max(pool.map(serve, shares))

  with futures.ThreadPoolExecutor(max_workers=threads) as pool:
    warm_diff = run(warmup)
    rss_warm = memory()
    start = time.perf_counter()
    diff = run(total)
    seconds = time.perf_counter() - start
  rss_end = memory()
  return dict(requests=total, threads=threads, seconds=round(seconds, 3),
              requests_per_s=round(total / seconds, 2),
              rss_start_mib=round(rss_start, 1),
              rss_warm_mib=round(rss_warm, 1), rss_end_mib=round(rss_end, 1),
              rss_growth_mib=round(rss_end - rss_warm, 1),
              max_abs_diff=max(diff, warm_diff), threads_used=len(used))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--requests', type=int, default=2000)
  parser.add_argument('--threads', type=int, default=4)
  parser.add_argument('--warmup', type=int, default=100)
  parser.add_argument('--distinct', type=int, default=8,
                      help='different inputs the requests cycle through')
  parser.add_argument('--batch', type=int, default=1)
  parser.add_argument('--channels', type=int, default=48)
  parser.add_argument('--num_transformer_layers', type=int, default=1)
  parser.add_argument('--sequence_length', type=int, default=1024)
  args = parser.parse_args(argv)

  from enformer_tf import Enformer
  from enformer_tf.export import export_saved_model
  from serving import divisor_for  # bench/serving.py, beside this file.

  bins = args.sequence_length // 128
  model = Enformer(channels=args.channels,
                   num_transformer_layers=args.num_transformer_layers,
                   num_heads=2, heads={'human': 5, 'mouse': 3},
                   target_length=bins, sequence_length=args.sequence_length,
                   conv_tower_divisible_by=divisor_for(args.channels))
  model.build((None, args.sequence_length, 4))
  with tempfile.TemporaryDirectory() as export_dir:
    path = export_saved_model(model, export_dir, warmup_requests=False)
    del model  # Serve from the SavedModel alone.
    loaded = tf.saved_model.load(path)
    requests = distinct_requests(args.sequence_length, args.distinct,
                                 args.batch)
    result = soak(loaded, requests, args.requests, args.threads, args.warmup)
  common.emit(dict(bench='soak', batch=args.batch, channels=args.channels,
                   num_transformer_layers=args.num_transformer_layers,
                   sequence_length=args.sequence_length, warmup=args.warmup,
                   distinct_inputs=args.distinct, **result,
                   **common.machine()))


if __name__ == '__main__':
  main()
