"""Learning-rate schedules: the Enformer recipe's, and one for short runs.

REFERENCE §5 / `enformer-training.ipynb`: the learning rate rises linearly
from 0 to 5e-4 over 5,000 steps and then stays there (`LinearWarmup`).
Short CPU runs (a few thousand steps at batch 4) end on a noisy model at a
constant rate, so their recipe decays it (`WarmupCosineDecay`).
"""
import math

import tensorflow as tf
import tf_keras as keras

PEAK_LEARNING_RATE = 5e-4
WARMUP_STEPS = 5000


@keras.saving.register_keras_serializable(package='enformer_tf')
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
  """`peak_learning_rate * min(1, step / warmup_steps)`.

  `step` counts global training steps from 0, so the first update uses a
  learning rate of 0, as in the reference notebook. With `model.fit` the
  optimizer calls the schedule with its own update count; the custom loop
  (`enformer_tf.train.Trainer`) calls it with the global step, which covers
  one update per organism.

  Args:
    peak_learning_rate: the constant rate after warmup (5e-4).
    warmup_steps: steps of the linear ramp (5000); 0 starts at the peak.

  Call args:
    step: the global step, a scalar.

  Returns:
    The learning rate, a float32 scalar.
  """

  def __init__(self, peak_learning_rate: float = PEAK_LEARNING_RATE,
               warmup_steps: int = WARMUP_STEPS):
    super().__init__()
    if not peak_learning_rate > 0:
      raise ValueError('peak_learning_rate must be positive, got '
                       f'{peak_learning_rate!r}.')
    if int(warmup_steps) != warmup_steps or warmup_steps < 0:
      raise ValueError('warmup_steps must be a non-negative integer, got '
                       f'{warmup_steps!r}.')
    self.peak_learning_rate = float(peak_learning_rate)
    self.warmup_steps = int(warmup_steps)

  def __call__(self, step):
    step = tf.cast(step, tf.float32)
    if self.warmup_steps == 0:
      fraction = tf.ones_like(step)
    else:
      fraction = tf.minimum(1.0, step / self.warmup_steps)
    return self.peak_learning_rate * fraction

  def get_config(self):
    return dict(peak_learning_rate=self.peak_learning_rate,
                warmup_steps=self.warmup_steps)


@keras.saving.register_keras_serializable(package='enformer_tf')
class WarmupCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
  """Linear warmup to a peak, then a cosine decay to a floor at `total_steps`.

  At batch 4 the constant rate of the paper's recipe leaves the last
  checkpoint wherever the last few noisy updates put it: held-out R of one
  track moves by 0.1-0.2 between evaluations 250 steps apart. Decaying the
  rate over the run averages that noise away, the usual remedy for short
  runs; the paper's 150,000 steps at batch 64 keep `LinearWarmup`.

  Args:
    peak_learning_rate: the rate at the end of the warmup.
    warmup_steps: steps of the linear ramp from 0; 0 starts at the peak.
    total_steps: the step at which the decay reaches the floor (the run's
      `train.num_steps`); the rate stays at the floor after it.
    final_fraction: the floor as a fraction of the peak, in [0, 1].

  Call args:
    step: the global step, a scalar.

  Returns:
    The learning rate, a float32 scalar.
  """

  def __init__(self, peak_learning_rate: float = PEAK_LEARNING_RATE,
               warmup_steps: int = WARMUP_STEPS, total_steps: int = 150000,
               final_fraction: float = 0.0):
    super().__init__()
    LinearWarmup(peak_learning_rate, warmup_steps)  # The same checks.
    if int(total_steps) != total_steps or total_steps <= warmup_steps:
      raise ValueError('total_steps must be an integer above warmup_steps '
                       f'({warmup_steps}), got {total_steps!r}.')
    if not 0.0 <= final_fraction <= 1.0:
      raise ValueError('final_fraction must be in [0, 1], got '
                       f'{final_fraction!r}.')
    self.peak_learning_rate = float(peak_learning_rate)
    self.warmup_steps = int(warmup_steps)
    self.total_steps = int(total_steps)
    self.final_fraction = float(final_fraction)

  def __call__(self, step):
    step = tf.cast(step, tf.float32)
    warmup = (tf.ones_like(step) if self.warmup_steps == 0 else
              tf.minimum(1.0, step / self.warmup_steps))
    progress = tf.clip_by_value(
        (step - self.warmup_steps) / (self.total_steps - self.warmup_steps),
        0.0, 1.0)
    cosine = 0.5 * (1.0 + tf.cos(math.pi * progress))
    decay = self.final_fraction + (1.0 - self.final_fraction) * cosine
    return self.peak_learning_rate * warmup * decay

  def get_config(self):
    return dict(peak_learning_rate=self.peak_learning_rate,
                warmup_steps=self.warmup_steps, total_steps=self.total_steps,
                final_fraction=self.final_fraction)
