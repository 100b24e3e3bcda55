"""LinearWarmup: 0 -> peak over warmup_steps, then constant; serializable.

WarmupCosineDecay: the same ramp, then a cosine down to a floor.
"""
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


def test_warmup_cosine_decay_values():
  schedule = schedules.WarmupCosineDecay(
      peak_learning_rate=1e-3, warmup_steps=100, total_steps=2100,
      final_fraction=0.1)
  steps = [0, 50, 100, 1100, 2100, 5000]
  got = [float(schedule(step)) for step in steps]
  # Halfway through the decay the cosine term is 0.5: 0.1 + 0.9 * 0.5.
  expected = [0.0, 5e-4, 1e-3, 1e-3 * 0.55, 1e-4, 1e-4]
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-12)
  falling = [float(schedule(step)) for step in range(100, 2101, 100)]
  assert all(a > b for a, b in zip(falling, falling[1:]))


def test_warmup_cosine_decay_serializes():
  schedule = schedules.WarmupCosineDecay(2e-3, 7, 70, 0.25)
  restored = keras.optimizers.schedules.deserialize(json.loads(json.dumps(
      keras.optimizers.schedules.serialize(schedule))))
  assert isinstance(restored, schedules.WarmupCosineDecay)
  assert restored.get_config() == schedule.get_config()
  assert float(restored(40)) == pytest.approx(float(schedule(40)))


@pytest.mark.parametrize('kwargs, match', [
    (dict(peak_learning_rate=-1.0), 'peak_learning_rate'),
    (dict(warmup_steps=100, total_steps=100), 'total_steps'),
    (dict(total_steps=2.5), 'total_steps'),
    (dict(final_fraction=1.5), 'final_fraction'),
])
def test_warmup_cosine_decay_rejects_bad_arguments(kwargs, match):
  kwargs = {'warmup_steps': 10, 'total_steps': 100, **kwargs}
  with pytest.raises(ValueError, match=match):
    schedules.WarmupCosineDecay(**kwargs)


def test_a_run_longer_or_shorter_than_the_decay_is_warned_about(caplog):
  from enformer_tf.train import run
  schedule = schedules.WarmupCosineDecay(1e-3, 10, 100)
  with caplog.at_level('WARNING'):
    run._warn_if_schedule_ends_elsewhere(schedule, 100)
    run._warn_if_schedule_ends_elsewhere(schedules.LinearWarmup(), 7)
  assert not caplog.records
  with caplog.at_level('WARNING'):
    run._warn_if_schedule_ends_elsewhere(schedule, 250)
  assert 'decays over 100 steps but the run trains to step 250' in caplog.text
