"""One tiny exported Enformer shared by the reliability tests.

Exporting even a tiny Enformer traces every signature (about 20 s on a busy
CPU), so the first test module that needs it exports it into the session's
temporary directory and the others reuse it. Tests that change files in the
export copy it first (`private_copy`). `soak` is the concurrency soak of
`bench/soak.py` (the same procedure; tests do not import bench scripts).
"""
import importlib.util
import os
import shutil
import threading
import time
from concurrent import futures
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from session_runner import SessionRunner

L = 1024  # Sequence length in bp.
BINS = 4
HEADS = {'human': 5, 'mouse': 3}
TINY = dict(channels=48, num_transformer_layers=1, num_heads=2, heads=HEADS,
            target_length=BINS, sequence_length=L, conv_tower_divisible_by=8)
EMBEDDING_SIZE = 2 * TINY['channels']
SEQUENCE_SIGNATURES = ('serving_default', 'human', 'mouse', 'embeddings')
DNA_SIGNATURES = ('dna', 'human_dna', 'mouse_dna', 'embeddings_dna')
# The one-hot signature computing the same outputs as each DNA signature.
ONE_HOT_TWIN = {'dna': 'serving_default', 'human_dna': 'human',
                'mouse_dna': 'mouse', 'embeddings_dna': 'embeddings'}
# The TF Serving kit (the repository's serving/ folder).
KIT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'serving')


def load_client():
  """The kit's `client.py`, imported from its file as users run it."""
  spec = importlib.util.spec_from_file_location(
      'enformer_serving_client', os.path.join(KIT, 'client.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def tiny_model(seed: int = 0):
  """The tiny Enformer, built, every weight random (see random_weights)."""
  from enformer_tf import Enformer
  from random_weights import randomise_weights
  model = Enformer(**TINY)
  model.build((None, L, 4))
  randomise_weights(model, seed)
  return model


def shared_export(tmp_path_factory) -> str:
  """The version directory of the run's tiny export
  (`exported_models.tiny_export`: this model, every default of
  `export_saved_model`, written once for all workers).

  Do not modify it: use `private_copy` for tests that plant files.
  """
  import exported_models
  return exported_models.tiny_export(tmp_path_factory)


def private_copy(version_dir: str, destination: str) -> str:
  """A copy of an export that a test may change; returns its path."""
  shutil.copytree(version_dir, destination)
  return destination


def random_codes(batch: int, seed: int = 0) -> np.ndarray:
  """int `[batch, L]`: random base codes 0..3 (A, C, G, T)."""
  return np.random.RandomState(seed).randint(0, 4, (batch, L))


def one_hot(codes: np.ndarray) -> np.ndarray:
  """`[..., L]` codes 0..3 (A, C, G, T), 4 = N -> `[..., L, 4]` float32."""
  return np.eye(5, 4, dtype=np.float32)[codes]


def dna_bytes(codes: np.ndarray) -> list:
  """`[B, L]` codes -> B DNA strings as bytes (upper case ACGTN)."""
  letters = np.frombuffer(b'ACGTN', np.uint8)
  return [letters[row].tobytes() for row in codes]


def shared_loaded(tmp_path_factory):
  """`tf.saved_model.load` of the shared export, loaded once per process."""
  import exported_models
  return exported_models.tiny_loaded(tmp_path_factory)


def shared_session(tmp_path_factory) -> SessionRunner:
  """A `SessionRunner` on the shared export, opened once per process."""
  import exported_models
  return exported_models.tiny_session(tmp_path_factory)


# -- Soak (bench/soak.py's procedure) ------------------------------------------

# (signature, input key): each request calls one of these.
REQUEST_KINDS = (('human', 'sequence'), ('mouse_dna', 'dna'),
                 ('serving_default', 'sequence'), ('embeddings_dna', 'dna'))


def rss_mib() -> float:
  """Current resident memory of this process in MiB (Linux /proc)."""
  with open('/proc/self/statm') as f:
    resident_pages = int(f.read().split()[1])
  return resident_pages * os.sysconf('SC_PAGE_SIZE') / 2**20


def distinct_requests(sequence_length: int, count: int, batch: int = 1,
                      seed: int = 0) -> List[Tuple[str, Dict[str, object]]]:
  """`count` different requests `(signature name, inputs)`, kinds in turn."""
  import tensorflow as tf
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


def max_abs_diff(outputs: Dict[str, np.ndarray],
                 reference: Dict[str, np.ndarray]) -> float:
  """The largest |difference|; infinite when the output names differ."""
  if set(outputs) != set(reference):
    return float('inf')
  return max(float(np.max(np.abs(outputs[k] - reference[k])))
             for k in reference)


def soak(loaded, requests: Sequence[Tuple[str, Dict[str, object]]],
         total: int, threads: int, warmup: int,
         memory: Callable[[], float] = rss_mib) -> Dict[str, object]:
  """Sends `total` requests (cycling through `requests`) from `threads`.

  As `bench/soak.py`'s `soak`: the sequential outputs of every distinct
  request first, then `warmup` untimed and `total` timed requests from the
  same `threads` threads, each compared with its sequential output.

  Returns:
    A dict: `requests`, `threads`, `seconds`, `requests_per_s`,
    `rss_start_mib`, `rss_warm_mib`, `rss_end_mib`, `rss_growth_mib` (end -
    warm), `max_abs_diff`, `threads_used`.
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
      diff = max(diff, max_abs_diff(_outputs(loaded, requests[k]),
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
