"""LinearWarmup: 0 -> peak over warmup_steps, then constant; serializable."""
import json

import numpy as np
import pytest
import tf_keras as keras

from enformer_tf.train import schedules


def test_linear_warmup_values():
  schedule = schedules.LinearWarmup(peak_learning_rate=5e-4, warmup_steps=5000)
  steps = [0, 1, 2500, 4999, 5000, 5001, 150_000]
  got = [float(schedule(step)) for step in steps]
  expected = [0.0, 1e-7, 2.5e-4, 5e-4 * 4999 / 5000, 5e-4, 5e-4, 5e-4]
  np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)
  assert float(schedules.LinearWarmup(1e-3, warmup_steps=0)(0)) == \
      pytest.approx(1e-3)


def test_linear_warmup_defaults_are_the_paper_recipe():
  schedule = schedules.LinearWarmup()
  assert schedule.peak_learning_rate == 5e-4
  assert schedule.warmup_steps == 5000


def test_linear_warmup_serializes_with_an_optimizer():
  schedule = schedules.LinearWarmup(peak_learning_rate=2e-3, warmup_steps=7)
  config = json.loads(json.dumps(keras.optimizers.schedules.serialize(
      schedule)))
  restored = keras.optimizers.schedules.deserialize(config)
  assert isinstance(restored, schedules.LinearWarmup)
  assert restored.get_config() == {'peak_learning_rate': 2e-3,
                                   'warmup_steps': 7}
  optimizer = keras.optimizers.Adam(learning_rate=schedule,
                                    global_clipnorm=0.2)
  restored = keras.optimizers.Adam.from_config(
      json.loads(json.dumps(optimizer.get_config())))
  assert restored.global_clipnorm == 0.2
  assert float(restored.learning_rate) == 0.0  # step 0 of the warmup


@pytest.mark.parametrize('kwargs, match', [
    (dict(peak_learning_rate=0.0), 'peak_learning_rate'),
    (dict(warmup_steps=-1), 'warmup_steps'),
    (dict(warmup_steps=2.5), 'warmup_steps'),
])
def test_linear_warmup_rejects_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    schedules.LinearWarmup(**kwargs)
