"""TensorBoard scalars of training and evaluation.

`model_dir/train/`: the mean loss per organism over each summary interval,
skipped updates, the learning rate and steps per second
(`TrainingScalars`). `model_dir/eval/`: mean and per-track Pearson R and
mean R² per organism (`write_evaluation`).
"""
import time
from typing import Dict, Mapping, Sequence

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from enformer_tf.train import evaluate as evaluate_lib


def scalar_summary(name: str, value, step: int):
  """`tf.summary.scalar` without needing the tensorboard package installed.

  Writes the same record (a float32 scalar tagged for TensorBoard's scalars
  plugin) to the default summary writer.
  """
  metadata = summary_pb2.SummaryMetadata(
      plugin_data=summary_pb2.SummaryMetadata.PluginData(
          plugin_name='scalars'),
      data_class=summary_pb2.DATA_CLASS_SCALAR)
  return tf.summary.write(name, tf.cast(value, tf.float32), step=step,
                          metadata=metadata)


class TrainingScalars:
  """Accumulates losses over a summary interval and writes their means.

  Args:
    heads: the organisms trained.
  """

  def __init__(self, heads: Sequence[str]):
    self.heads = list(heads)
    self._reset()

  def _reset(self):
    self._sums = {head: 0.0 for head in self.heads}
    self._counts = {head: 0 for head in self.heads}
    self._steps = 0
    self._interval_start = time.time()

  def add(self, losses: Mapping[str, float]):
    """Counts one global step with the losses of the updates applied."""
    for head, loss in losses.items():
      self._sums[head] += loss
      self._counts[head] += 1
    self._steps += 1

  def write(self, step: int, learning_rate,
            skipped_updates: Mapping[str, int]) -> Dict[str, float]:
    """Writes the interval's scalars to the default writer; starts anew.

    Returns:
      organism -> mean loss over the interval (organisms with an applied
      update only).
    """
    means = {head: self._sums[head] / self._counts[head]
             for head in self.heads if self._counts[head]}
    elapsed = time.time() - self._interval_start
    for head, mean in means.items():
      scalar_summary(f'loss/{head}', mean, step=step)
    for head, skipped in skipped_updates.items():
      if skipped:
        scalar_summary(f'skipped_updates/{head}', skipped, step=step)
    scalar_summary('learning_rate', learning_rate, step=step)
    scalar_summary('steps_per_second', self._steps / max(elapsed, 1e-9),
                   step=step)
    self._reset()
    return means


def write_evaluation(results: Mapping[str, evaluate_lib.HeadEvaluation],
                     names: Mapping[str, Sequence[str]], step: int):
  """Writes evaluation scalars to the default writer.

  Args:
    results: organism -> evaluation.
    names: organism -> track identifiers (`evaluate.resolve_track_names`).
    step: the global step evaluated.
  """
  for head, result in results.items():
    scalar_summary(f'pearson_r/{head}', result.mean_pearson_r, step=step)
    scalar_summary(f'r2/{head}', result.mean_r2, step=step)
    # Per track too: a mean over tracks hides a track that stays flat.
    labels = evaluate_lib.track_labels(names[head])
    for name, r in zip(labels, result.pearson_r):
      scalar_summary(f'pearson_r/{head}/{name}', r, step=step)
