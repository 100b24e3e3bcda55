"""The optimizer of the Enformer recipe: Adam with global-norm clipping.

REFERENCE §5 (`enformer-training.ipynb`): Adam, the learning rate warmed up
linearly (`schedules.LinearWarmup`) and the global gradient norm clipped at
0.2. Both training paths use it: the `Trainer` and `fit.compile_for_fit`.
"""
from typing import Union

import tf_keras as keras

from enformer_tf.train import schedules

GLOBAL_CLIPNORM = 0.2
ADAM_EPSILON = 1e-8  # Sonnet's Adam, which the reference trains with.
LearningRate = Union[float, keras.optimizers.schedules.LearningRateSchedule]


def adam(learning_rate: LearningRate = schedules.PEAK_LEARNING_RATE
         ) -> keras.optimizers.Optimizer:
  """Adam with the recipe's global gradient-norm clipping (0.2)."""
  return keras.optimizers.Adam(learning_rate=learning_rate,
                               epsilon=ADAM_EPSILON,
                               global_clipnorm=GLOBAL_CLIPNORM)
