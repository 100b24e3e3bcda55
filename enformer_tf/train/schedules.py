"""Learning-rate schedule of the Enformer recipe: linear warmup, then constant.

REFERENCE §5 / `enformer-training.ipynb`: the learning rate rises linearly
from 0 to 5e-4 over 5,000 steps and then stays there.
"""
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
