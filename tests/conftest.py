"""Test setup: quiet TensorFlow, two logical CPUs for distribution tests."""
import json
import os
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# Each pytest-xdist worker gets one intra-op thread (inherited by the CLIs it
# starts): otherwise every worker sizes its pool to the whole machine and
# the workers contend for the same cores. Inter-op stays at its default,
# which the collective ops of the distribution tests need.
if os.environ.get('PYTEST_XDIST_WORKER'):
  os.environ.setdefault('TF_NUM_INTRAOP_THREADS', '1')

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

import per_run  # noqa: E402

# MirroredStrategy tests need two replicas; split the CPU before TF starts.
_cpus = tf.config.list_physical_devices('CPU')
try:
  tf.config.set_logical_device_configuration(
      _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:  # Already initialised by an earlier import.
  pass


@pytest.fixture(autouse=True)
def _seed():
  # Python, NumPy and TF seeds together: tf-keras initializers without a
  # seed draw from Python's `random`, which `tf.random.set_seed` leaves
  # alone, so each test's weights would depend on the tests before it.
  keras.utils.set_random_seed(0)
  yield


def _once_per_run(work_dir: str, make):
  """`make(work_dir)` under `work_dir`'s lock: the first worker to take it
  does the work, the others wait and then read what it wrote (each `make`
  reuses a finished directory)."""
  os.makedirs(work_dir, exist_ok=True)
  with per_run.locked(os.path.join(work_dir, '.lock')):
    return make(work_dir)


@pytest.fixture(scope='session')
def trained_synthetic(tmp_path_factory):
  """A small Enformer trained on a small synthetic genome (~2 min, once).

  Returns `synthetic_model.TrainedSynthetic` (model_path, genome, records).
  Set ENFORMER_TEST_TRAINED_DIR to a directory to keep and reuse it between
  pytest runs while developing. Under pytest-xdist the workers share one.
  """
  import synthetic_model
  work_dir = (os.environ.get('ENFORMER_TEST_TRAINED_DIR') or
              os.path.join(per_run.run_dir(tmp_path_factory),
                           'trained_synthetic'))
  return _once_per_run(work_dir, synthetic_model.trained_or_cached)


@pytest.fixture(scope='session')
def smoke_training(tmp_path_factory):
  """`enformer-train` on the smoke experiment, run once in a subprocess
  (`smoke_run.SmokeTraining`); shared by the workers like
  `trained_synthetic`. Copy `model_dir` before changing it."""
  import smoke_run
  return _once_per_run(
      os.path.join(per_run.run_dir(tmp_path_factory), 'smoke_training'),
      smoke_run.run)


@pytest.fixture(scope='session')
def long_range(tmp_path_factory):
  """The committed model that learnt the distal rule, with its genome
  (`long_range_model.LongRange`; the genome is regenerated, ~7 s)."""
  import long_range_model
  return _once_per_run(
      os.path.join(per_run.run_dir(tmp_path_factory), 'long_range_genome'),
      long_range_model.prepare)


def pytest_itemcollected(item):
  # Under pytest-xdist (`--dist loadgroup`), every test that needs the
  # trained model runs on the worker that trains it: no other worker sits
  # waiting on the fixture's lock while the training runs. Marked as each
  # item is collected, so the marks are there before xdist's worker reads
  # them in its `pytest_collection_modifyitems`, whatever the hook order.
  if 'trained_synthetic' in getattr(item, 'fixturenames', ()):
    item.add_marker(pytest.mark.xdist_group('trained_synthetic'))
    item.add_marker(pytest.mark.trained_synthetic)
  if 'long_range' in getattr(item, 'fixturenames', ()):
    # One worker regenerates the genome and loads the model once.
    item.add_marker(pytest.mark.xdist_group('long_range'))
    item.add_marker(pytest.mark.slow)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
  # Longest first: the trained fixture's group, then the `slow` tests
  # (10-40 s each), then the rest in collection order. xdist hands out the
  # first quarter of the queue at once and the rest test by test, so slow
  # tests at the end of the queue left one worker finishing alone (0.8 min
  # of an 8.8-min suite, 2026-12-04). A stable sort: the same order on
  # every worker, as xdist requires.
  items.sort(key=lambda item: 0 if item.get_closest_marker(
      'trained_synthetic') else 1 if item.get_closest_marker('slow') else 2)
  # xdist's worker puts a test's group in its node id ("...@group"), which is
  # what the scheduler reads. pytest 9.2 moved the attribute xdist 3.8 sets,
  # so the groups silently vanished and a second worker waited minutes on the
  # fixture's lock (setup.py pins pytest<9.2). Fail loudly if that recurs.
  if getattr(config.option, 'loadgroup', False):
    for item in items:
      if item.get_closest_marker('xdist_group') and '@' not in item.nodeid:
        raise pytest.UsageError(
            f'--dist loadgroup: {item.nodeid} has an xdist_group mark but no '
            '"@group" in its node id; this pytest/pytest-xdist pair drops '
            'the groups (pin pytest<9.2 or upgrade pytest-xdist).')


if os.environ.get('ENFORMER_TEST_TIMELINE'):
  @pytest.hookimpl(hookwrapper=True)
  def pytest_runtest_protocol(item, nextitem):
    # One JSON line per test (setup, call and teardown) with its worker:
    # where the suite's minutes go and how evenly the workers share them.
    begin = time.time()
    yield
    with open(os.environ['ENFORMER_TEST_TIMELINE'], 'a') as f:
      f.write(json.dumps(dict(
          worker=os.environ.get('PYTEST_XDIST_WORKER', 'main'),
          test=item.nodeid, begin=begin, end=time.time())) + '\n')
