"""The one strategy-aware global train step.

REFERENCE §5: each global step makes one update per organism in turn (human,
then mouse), each with only its own head's Poisson loss, at the learning
rate of the global step. Every update runs on each replica's share of the
global batch; the loss is scaled by the global batch, so the all-reduced
gradient is that of the whole batch. An update whose loss or gradient norm
is not finite is not applied, decided in the graph and identically on every
replica (`non_finite.apply_gradients_if_finite`).
"""
from typing import Dict, Iterator, Mapping, Sequence, Tuple

import tensorflow as tf
import tf_keras as keras

from enformer_tf.train import evaluate as evaluate_lib
from enformer_tf.train import losses as losses_lib
from enformer_tf.train import non_finite as non_finite_lib
from enformer_tf.train import optimizer as optimizer_lib

# organism -> (global loss, global gradient norm, whether it was applied).
StepResults = Dict[str, Tuple[tf.Tensor, tf.Tensor, tf.Tensor]]


def learning_rate_at(learning_rate: optimizer_lib.LearningRate, step):
  """The rate at global `step`: a schedule called, a constant as it is."""
  if callable(learning_rate):
    return learning_rate(step)
  return learning_rate


class TrainStep:
  """One global step: an update per organism, in order. Cross-replica.

  Args:
    model: the multi-head model (built in `strategy.scope()`).
    optimizer: its optimizer; the step sets its learning rate.
    strategy: the strategy the model was built under.
    heads: the organisms, in update order.
    global_batch_size: examples per organism update over all replicas.
    learning_rate: a float or a schedule of the global step.
    step: the global step variable, incremented by each call.
  """

  def __init__(self, model: keras.Model,
               optimizer: keras.optimizers.Optimizer,
               strategy: tf.distribute.Strategy, heads: Sequence[str],
               global_batch_size: int,
               learning_rate: optimizer_lib.LearningRate,
               step: tf.Variable):
    self.model = model
    self.optimizer = optimizer
    self.strategy = strategy
    self.heads = list(heads)
    self.global_batch_size = int(global_batch_size)
    self.learning_rate = learning_rate
    self.step = step

  def head_update(self, batch, head: str):
    """One organism's update on this replica's share of the global batch.

    Returns:
      (global loss, global gradient norm, whether the update was applied),
      the same on every replica.
    """
    with tf.GradientTape() as tape:
      prediction = evaluate_lib.predict_head(
          self.model, batch['sequence'], head, training=True)  # [b, T, N]
      per_example = losses_lib.poisson_nll(batch['target'], prediction)  # [b]
      loss = tf.nn.compute_average_loss(
          per_example, global_batch_size=self.global_batch_size)
      if self.model.losses:
        loss += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
    variables = self.model.trainable_variables
    gradients = tape.gradient(loss, variables)
    # The other organisms' heads get no gradient from this loss.
    return non_finite_lib.apply_gradients_if_finite(
        self.optimizer, loss,
        [(g, v) for g, v in zip(gradients, variables) if g is not None])

  def __call__(self, iterators: Mapping[str, Iterator]
               ) -> Tuple[StepResults, tf.Tensor]:
    """Takes the next batch of each organism and makes its update.

    Args:
      iterators: organism -> iterator over distributed global batches.

    Returns:
      (organism -> (loss, gradient norm, applied), learning rate).
    """
    learning_rate = tf.cast(learning_rate_at(self.learning_rate, self.step),
                            tf.float32)
    self.optimizer.learning_rate.assign(learning_rate)
    results = {}
    for head in self.heads:
      batch = next(iterators[head])
      replica_results = self.strategy.run(
          lambda batch, head=head: self.head_update(batch, head),
          args=(batch,))
      # All-reduced in the replica function: any replica's copy will do.
      results[head] = tuple(self.strategy.experimental_local_results(value)[0]
                            for value in replica_results)
    self.step.assign_add(1)
    return results, learning_rate
