"""Test setup: quiet TensorFlow, two logical CPUs for distribution tests."""
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

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


@pytest.fixture(scope='session')
def trained_synthetic(tmp_path_factory):
  """A small Enformer trained on a small synthetic genome (~2 min, once).

  Returns `synthetic_model.TrainedSynthetic` (model_path, genome, records).
  Set ENFORMER_TEST_TRAINED_DIR to a directory to keep and reuse it between
  pytest runs while developing.
  """
  import synthetic_model
  work_dir = os.environ.get('ENFORMER_TEST_TRAINED_DIR') or str(
      tmp_path_factory.mktemp('trained_synthetic'))
  return synthetic_model.trained_or_cached(work_dir)
