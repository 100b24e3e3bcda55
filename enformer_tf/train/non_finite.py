"""NaN and infinity in training: never applied, never checkpointed.

A non-finite loss or gradient, once applied, poisons the weights and the
Adam moments for good. `apply_gradients_if_finite` decides in the graph,
before the optimizer runs, on numbers summed over replicas (so that every
replica decides the same), and either applies the update or does nothing at
all. `NonFiniteGuard` is the Python side: it stops training with an error
naming the step and the head, or (`mode='skip'`) counts the skipped update
and goes on until too many in a row say the run has diverged. And
`check_saveable` lets a save refuse weights that are no longer finite.
"""
import logging
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras as keras

logger = logging.getLogger(__name__)

MODES = ('stop', 'skip')


class NonFiniteLossError(FloatingPointError):
  """A loss, gradient norm or weight became NaN or infinite.

  Raised before anything from the offending step reaches a checkpoint.
  """


def apply_gradients_if_finite(optimizer: keras.optimizers.Optimizer,
                              loss: tf.Tensor,
                              grads_and_vars: Sequence[Tuple[tf.Tensor,
                                                             tf.Variable]]
                              ) -> Tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Applies this replica's update unless the loss or gradients are not finite.

  Call in a replica context (inside `strategy.run`), with this replica's
  share of the loss and its gradients (no `None`s).

  Returns:
    (loss summed over replicas, global norm of the summed gradients, whether
    the update was applied), the same on every replica.
  """
  # Summed over replicas here rather than inside apply_gradients, so that
  # every replica checks the same numbers and makes the same decision.
  grads_and_vars = optimizer.aggregate_gradients(list(grads_and_vars))
  context = tf.distribute.get_replica_context()
  loss = context.all_reduce(tf.distribute.ReduceOp.SUM, loss)
  # NaN or inf in any gradient makes the norm non-finite; so does a norm too
  # large for float32, which global-norm clipping would turn into NaNs.
  gradient_norm = tf.linalg.global_norm([g for g, _ in grads_and_vars])
  finite = tf.logical_and(tf.math.is_finite(loss),
                          tf.math.is_finite(gradient_norm))
  variables = [v for _, v in grads_and_vars]

  def apply(gradients):
    optimizer.apply_gradients(zip(gradients, variables),
                              skip_gradients_aggregation=True)

  def apply_if(strategy, finite, gradients):
    # A tf.cond in a replica context may not contain apply_gradients (it
    # calls merge_call), so the branch is taken here, across replicas.
    finite = strategy.experimental_local_results(finite)[0]

    def run():
      strategy.extended.call_for_each_replica(apply, args=(gradients,))
      return tf.constant(True)

    # Not applying means no moment update and no optimizer.iterations
    # increment: Adam would move the weights even for zero gradients.
    tf.cond(finite, run, lambda: tf.constant(False))

  context.merge_call(apply_if,
                     args=(finite, [g for g, _ in grads_and_vars]))
  return loss, gradient_norm, finite


class NonFiniteGuard:
  """Stops training, or counts skipped updates, after non-finite ones.

  Args:
    mode: `'stop'` raises at the first non-finite update; `'skip'` logs and
      counts it.
    max_consecutive_skips: with `'skip'`, raise anyway after this many
      skipped updates of one head in a row.

  Attributes:
    skipped: organism -> updates skipped so far (organisms with skips).
  """

  def __init__(self, mode: str, max_consecutive_skips: int = 10):
    if mode not in MODES:
      raise ValueError(f'non_finite must be one of {MODES}, got {mode!r}.')
    if int(max_consecutive_skips) != max_consecutive_skips or (
        max_consecutive_skips < 1):
      raise ValueError('max_consecutive_skips must be a positive integer, '
                       f'got {max_consecutive_skips!r}.')
    self.mode = mode
    self.max_consecutive_skips = int(max_consecutive_skips)
    self.skipped: Dict[str, int] = {}
    self._in_a_row: Dict[str, int] = {}

  def applied_losses(self, results: Mapping[str, Tuple], step: int,
                     latest_checkpoint: Optional[str]) -> Dict[str, float]:
    """`check`s each update of a global step; the losses of those applied.

    Args:
      results: organism -> (loss, gradient norm, applied), as the train
        step returns them.
      step: the global step.
      latest_checkpoint: named in the error.
    """
    losses = {}
    for head, (loss, gradient_norm, applied) in results.items():
      self.check(head, bool(applied), float(loss), float(gradient_norm), step,
                 latest_checkpoint)
      if bool(applied):
        losses[head] = float(loss)
    return losses

  def check(self, head: str, applied: bool, loss: float,
            gradient_norm: float, step: int,
            latest_checkpoint: Optional[str]):
    """Records one update of `head` at global `step`.

    Raises:
      NonFiniteLossError: it was not applied and the mode is `'stop'`, or
        `max_consecutive_skips` were skipped in a row.
    """
    if applied:
      self._in_a_row[head] = 0
      return
    if not np.isfinite(loss):
      what = f'The {head} loss is {loss}'
    else:
      what = f'The {head} gradient norm is {gradient_norm} (loss {loss:.6g})'
    latest = latest_checkpoint or 'none'
    if self.mode == 'stop':
      raise NonFiniteLossError(
          f'{what} at global step {step}; the update was not applied and '
          'training stopped. Nothing from this step was checkpointed (latest '
          f'checkpoint: {latest}). Lower the learning rate or check the '
          f"{head} data; Trainer(non_finite='skip') skips such updates.")
    self.skipped[head] = self.skipped.get(head, 0) + 1
    self._in_a_row[head] = self._in_a_row.get(head, 0) + 1
    logger.warning('%s at global step %d; skipped that update (%d skipped '
                   'so far for %s).', what, step, self.skipped[head], head)
    if self._in_a_row[head] >= self.max_consecutive_skips:
      raise NonFiniteLossError(
          f'{what} at global step {step}; {self._in_a_row[head]} {head} '
          f'updates in a row were skipped (max_consecutive_skips='
          f'{self.max_consecutive_skips}), so training stopped: the run has '
          f'diverged (latest checkpoint: {latest}). Lower the learning rate '
          f'or check the {head} data.')


def non_finite_variables(variables: Sequence[tf.Variable]) -> List[str]:
  """Names of the floating-point variables holding a NaN or an infinity."""
  bad = []
  for variable in variables:
    if variable.dtype.is_floating and not bool(
        tf.reduce_all(tf.math.is_finite(variable))):
      bad.append(variable.name)
  return bad


def check_saveable(variables: Sequence[tf.Variable], step: int,
                   latest_checkpoint: Optional[str]):
  """Raises `NonFiniteLossError` if a variable holds a NaN or an infinity.

  Called before a checkpoint of global `step` is written, so that weights
  that are no longer finite are never saved.
  """
  bad = non_finite_variables(variables)
  if bad:
    names = ', '.join(bad[:3]) + (', ...' if len(bad) > 3 else '')
    raise NonFiniteLossError(
        f'After global step {step}, {len(bad)} variables hold NaN or '
        f'infinite values ({names}); no checkpoint was written (latest '
        f'checkpoint: {latest_checkpoint or "none"}). Lower the learning '
        'rate.')
