"""Under load: the loaded SavedModel answers concurrent requests exactly.

Several threads call the signatures of one loaded export at once (through
`tf.saved_model.load`, and through the C++ session TF Serving uses); every
response must equal, bit for bit, the sequential call on the same input,
a bad request among good ones must fail alone, and resident memory must stay
flat over a soak of a few hundred requests. The soak
(`tiny_serving.soak`) is the procedure of `bench/soak.py`, which reports the
numbers in the README.
"""
import mmap
from concurrent import futures

import numpy as np
import pytest
import tensorflow as tf

from reliability import tiny_serving
from reliability.tiny_serving import L, distinct_requests, max_abs_diff, soak

THREADS = 4
WARMUP = 30
REQUESTS = 300
BATCH = 2
# Observed growth after the warm-up is under 1 MiB. A leak of one request's
# input (2 x 1024 x 4 float32 = 32 KiB) per request would add 9.4 MiB.
GROWTH_BOUND_MIB = 8.0


@pytest.fixture(scope='module')
def loaded(tmp_path_factory):
  return tiny_serving.shared_loaded(tmp_path_factory)


def test_difference_measure_sees_a_difference():
  reference = {'human': np.zeros((1, 4, 5), np.float32)}
  assert max_abs_diff(reference, reference) == 0.0
  shifted = {'human': reference['human'] + np.float32(1e-7)}
  assert max_abs_diff(shifted, reference) == pytest.approx(1e-7)
  assert max_abs_diff({'mouse': reference['human']}, reference) == (
      float('inf'))


class LeakyModel:
  """Stands in for a loaded model whose every call keeps 64 KiB alive.

  The kept memory is fresh anonymous pages (mmap), each written to: a
  NumPy array of this size comes from the malloc heap, which can reuse
  pages earlier tests freed, and then RSS does not grow at all (seen once:
  1.0 MiB for 17 MiB kept, oneDNN off, fresh clone, 2026-12-04).
  """

  def __init__(self):
    self.kept = []
    self.signatures = {'human': self._call}

  def _call(self, sequence):
    size = 64 * 1024
    pages = mmap.mmap(-1, size)
    for offset in range(0, size, mmap.PAGESIZE):
      pages[offset] = 1  # Touched, so resident.
    self.kept.append(pages)
    return {'human': tf.constant([[0.0]])}


def test_soak_memory_measure_sees_a_leak():
  requests = [('human', {'sequence': None})]
  result = soak(LeakyModel(), requests, total=REQUESTS, threads=THREADS,
                     warmup=WARMUP)
  assert result['max_abs_diff'] == 0.0
  assert result['rss_growth_mib'] > GROWTH_BOUND_MIB, result


def test_concurrent_requests_equal_sequential_with_flat_memory(loaded):
  requests = distinct_requests(L, count=8, batch=BATCH)
  result = soak(loaded, requests, total=REQUESTS, threads=THREADS,
                     warmup=WARMUP)
  print(result)  # Shown with -s; bench/soak.py prints the same record.
  assert result['threads_used'] >= 2, result
  assert result['max_abs_diff'] == 0.0, result
  assert result['rss_growth_mib'] < GROWTH_BOUND_MIB, result


def _mouse_dna_request(seed, bad=False):
  dna = tiny_serving.dna_bytes(tiny_serving.random_codes(BATCH, seed))
  if bad:  # A U at position 100 of the second string.
    dna[1] = dna[1][:100] + b'U' + dna[1][101:]
  return np.array(dna, dtype=object)


def test_a_bad_request_among_concurrent_good_ones_fails_alone(loaded):
  """Python threads on the loaded functions; every 5th request is bad."""
  signature = loaded.signatures['mouse_dna']
  inputs = [_mouse_dna_request(i % 6, bad=i % 5 == 4) for i in range(60)]
  expected = {seed: signature(dna=tf.constant(_mouse_dna_request(seed)))[
      'mouse'].numpy() for seed in range(6)}

  def serve(i):
    try:
      return signature(dna=tf.constant(inputs[i]))['mouse'].numpy()
    except tf.errors.InvalidArgumentError as e:
      return e.message

  with futures.ThreadPoolExecutor(max_workers=THREADS) as pool:
    results = list(pool.map(serve, range(len(inputs))))
  for i, result in enumerate(results):
    if i % 5 == 4:
      assert isinstance(result, str) and '[1] [100] [U]' in result, result
    else:
      np.testing.assert_array_equal(result, expected[i % 6])


def test_concurrent_session_runs_equal_sequential(tmp_path_factory):
  """As TF Serving runs them: one C++ session, many threads."""
  runner = tiny_serving.shared_session(tmp_path_factory)
  requests = []
  for i in range(6):
    codes = tiny_serving.random_codes(BATCH, seed=20 + i)
    if i % 2:
      requests.append(('human_dna', {'dna': np.array(
          tiny_serving.dna_bytes(codes), dtype=object)}))
    else:
      requests.append(('embeddings', {'sequence': tiny_serving.one_hot(codes)}))
  expected = [runner.run(name, inputs) for name, inputs in requests]

  def serve(i):
    name, inputs = requests[i % len(requests)]
    return runner.run(name, inputs)

  with futures.ThreadPoolExecutor(max_workers=THREADS) as pool:
    results = list(pool.map(serve, range(120)))
  for i, result in enumerate(results):
    reference = expected[i % len(requests)]
    assert set(result) == set(reference)
    for key in reference:
      np.testing.assert_array_equal(result[key], reference[key])
