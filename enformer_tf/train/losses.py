"""Poisson negative log-likelihood, the Enformer training loss.

REFERENCE §5 and deepmind-research `enformer/enformer-training.ipynb`:
`tf.reduce_mean(tf.keras.losses.poisson(target, prediction))`, i.e.
`y_pred - y_true * log(y_pred)` averaged over bins and tracks.
"""
import tensorflow as tf
import tf_keras as keras

# Keras' `poisson` adds this inside the log so that a zero prediction gives a
# finite loss; keeping it makes the two losses equal to the last bit.
EPSILON = 1e-7


def poisson_nll(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
  """Per-example Poisson NLL, averaged over every axis but the first.

  Args:
    y_true: observed counts `[B, T, N]` (any shape `[B, ...]`).
    y_pred: predicted rates, positive, same shape.

  Returns:
    `[B]`: mean over bins and tracks of `y_pred - y_true * log(y_pred + eps)`,
    computed in float32 (targets arrive as float16 from Basenji2 records).
  """
  y_pred = tf.cast(y_pred, tf.float32)
  y_true = tf.cast(y_true, tf.float32)
  nll = y_pred - y_true * tf.math.log(y_pred + EPSILON)  # [B, T, N]
  if nll.shape.rank is not None and nll.shape.rank <= 1:
    return nll
  return tf.reduce_mean(tf.reshape(nll, [tf.shape(nll)[0], -1]), axis=-1)  # [B]


@keras.saving.register_keras_serializable(package='enformer_tf')
class PoissonLoss(keras.losses.Loss):
  """Poisson NLL for `model.compile`: mean over bins and tracks per example.

  With the default `SUM_OVER_BATCH_SIZE` reduction the batch mean equals
  `reduce_mean(keras.losses.poisson(y_true, y_pred))`; under a distribution
  strategy Keras scales it by the global batch size.

  Args:
    reduction: a `keras.losses.Reduction`.
    name: loss name.

  Call args:
    y_true: `[B, T, N]` counts.
    y_pred: `[B, T, N]` positive rates.

  Returns:
    The reduced loss (a scalar with the default reduction).
  """

  def __init__(self, reduction=keras.losses.Reduction.AUTO,
               name: str = 'poisson_nll'):
    super().__init__(reduction=reduction, name=name)

  def call(self, y_true, y_pred):
    return poisson_nll(y_true, y_pred)  # [B]
