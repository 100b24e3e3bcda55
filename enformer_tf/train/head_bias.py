"""Output-head biases set from the training targets' means.

A softplus head with zero bias starts every track at softplus(0) = 0.69
counts. On sparse tracks whose background is far below that (scaled CAGE,
enhancer marks), the first updates of the Poisson loss drive the whole
head negative to fit the background; softplus is then nearly flat
(its slope is sigmoid(x)), the gradients that would raise the peaks vanish,
and the model can settle on flat predictions. Starting each track's bias at
softplus^-1(mean target) puts the initial prediction at the track's mean, so
the first updates learn where the signal is rather than how low the floor
is. (The usual remedy for count and rare-class outputs; Basenji2 and the
DeepMind recipe start from zero, `'zeros'` keeps that.)
"""
from typing import Dict, Mapping

import numpy as np
import tensorflow as tf

HEAD_BIAS_INITS = ('zeros', 'target_mean')
# Examples per organism the means are taken over: enough for a stable mean of
# sparse tracks, few enough to read in seconds.
MEAN_EXAMPLES = 512
# Means are floored here before the inverse softplus, so that an all-zero
# track starts low but not at -inf.
MIN_MEAN = 1e-4


def inverse_softplus(y: np.ndarray) -> np.ndarray:
  """x with softplus(x) = y, for y > 0 (log(expm1(y)), stable for large y)."""
  y = np.asarray(y, np.float64)
  return y + np.log(-np.expm1(-y))


def target_means(dataset: tf.data.Dataset,
                 max_examples: int = MEAN_EXAMPLES) -> np.ndarray:
  """Per-track mean of `target` over bins and the first examples, `[N]`."""
  total, count = None, 0
  for example in dataset.take(max_examples).batch(64):
    target = tf.cast(example['target'], tf.float64).numpy()  # [b, T, N]
    sums = target.sum(axis=(0, 1))
    total = sums if total is None else total + sums
    count += target.shape[0] * target.shape[1]
  if not count:
    raise ValueError('head_bias_init="target_mean" needs training examples; '
                     'the dataset is empty.')
  return total / count


def initialise_head_biases(model, datasets: Mapping[str, tf.data.Dataset],
                           max_examples: int = MEAN_EXAMPLES
                           ) -> Dict[str, np.ndarray]:
  """Sets each organism head's bias to softplus^-1 of its tracks' means.

  Args:
    model: a built model with `head_layers` (organism -> Dense with softplus),
      as `Enformer`.
    datasets: organism -> unbatched `{'target': [T, N], ...}` dataset.
    max_examples: examples per organism the means are taken over.

  Returns:
    organism -> the means used, `[N]`.
  """
  layers = getattr(model, 'head_layers', None)
  if layers is None:
    raise TypeError('head_bias_init="target_mean" needs a model with '
                    f'head_layers (an Enformer); got {type(model).__name__}.')
  means = {}
  for organism, dataset in datasets.items():
    if organism not in layers:
      continue
    layer = layers[organism]
    mean = target_means(dataset, max_examples)
    if mean.shape != tuple(layer.bias.shape):
      raise ValueError(
          f'head {organism!r} has {layer.bias.shape[0]} tracks but its '
          f'training targets have {mean.shape[0]}.')
    layer.bias.assign(inverse_softplus(np.maximum(mean, MIN_MEAN)).astype(
        layer.bias.dtype.as_numpy_dtype))
    means[organism] = mean
  return means
