"""Recomputing a block's activations in the backward pass.

`recompute_grad(layer, x)` returns `layer(x)` but keeps only `x` for the
backward pass: the gradient runs the layer again under its own tape (Chen et
al. 2016, "Training deep nets with sublinear memory cost"). Two things make
the second run reproduce the first, which plain `tf.recompute_grad` does not
promise:

- dropout: `RecomputableDropout` layers draw their masks from a seed the two
  runs share, so the gradient belongs to the mask the loss saw;
- BatchNorm: the second run uses the same batch statistics but must not move
  the moving averages a second time, so its momentum is 1 while it is traced.

The memory saving needs graph mode (`tf.function`, as every training step
here runs): there only the custom gradient, not the first run's
intermediates, is kept for the backward pass.
"""
import contextlib
import threading
from typing import Iterator, List

import tensorflow as tf
import tf_keras as keras

_STATE = threading.local()
_MAX_SEED = 2**31 - 1


class _SeedSequence:
  """Deterministic per-call seeds derived from one base seed."""

  def __init__(self, seed: tf.Tensor):
    self.seed = seed  # [2] int32
    self.count = 0

  def next(self) -> tf.Tensor:
    self.count += 1
    return tf.random.experimental.stateless_fold_in(self.seed, self.count)


@contextlib.contextmanager
def _shared_dropout_seed(seed: tf.Tensor) -> Iterator[None]:
  previous = getattr(_STATE, 'seeds', None)
  _STATE.seeds = _SeedSequence(seed)
  try:
    yield
  finally:
    _STATE.seeds = previous


@keras.saving.register_keras_serializable(package='enformer_tf')
class RecomputableDropout(keras.layers.Dropout):
  """`keras.layers.Dropout` that `recompute_grad` can run twice alike.

  Outside `recompute_grad` it is exactly Keras' Dropout. Inside, in training,
  its mask comes from `tf.nn.experimental.stateless_dropout` with a seed
  shared by the forward pass and its recomputation.

  Args:
    rate: fraction of the inputs to drop.
    **kwargs: other `keras.layers.Dropout` arguments.
  """

  def call(self, inputs, training=None):
    seeds = getattr(_STATE, 'seeds', None)
    if seeds is None or training is not True or self.rate == 0:
      return super().call(inputs, training=training)
    return tf.nn.experimental.stateless_dropout(
        inputs, rate=self.rate, seed=seeds.next(),
        noise_shape=self._get_noise_shape(inputs))


def _batch_norm_layers(layer: keras.layers.Layer) -> List[keras.layers.Layer]:
  return [module for module in layer.submodules
          if isinstance(module, keras.layers.BatchNormalization)]


@contextlib.contextmanager
def _frozen_moving_averages(layer: keras.layers.Layer) -> Iterator[None]:
  """Momentum 1 (no update) for every BatchNorm in `layer` while tracing."""
  batch_norms = _batch_norm_layers(layer)
  momenta = [bn.momentum for bn in batch_norms]
  for bn in batch_norms:
    bn.momentum = 1.0
  try:
    yield
  finally:
    for bn, momentum in zip(batch_norms, momenta):
      bn.momentum = momentum


def _draw_seed() -> tf.Tensor:
  """A fresh `[2]` seed for one block's dropout masks in this step."""
  return tf.random.uniform([2], maxval=_MAX_SEED, dtype=tf.int32)


def recompute_grad(layer: keras.layers.Layer, inputs: tf.Tensor,
                   **call_kwargs) -> tf.Tensor:
  """`layer(inputs, **call_kwargs)`, recomputed rather than stored for grads.

  Args:
    layer: a built Keras layer with one tensor input and one tensor output.
    inputs: its input.
    **call_kwargs: passed to every call of `layer` (e.g. `training=True`).

  Returns:
    `layer(inputs, **call_kwargs)`.
  """
  seed = _draw_seed()

  @tf.custom_gradient
  def forward(x):
    with _shared_dropout_seed(seed):
      outputs = layer(x, **call_kwargs)

    def backward(output_gradient, variables=None):
      variables = list(variables or [])
      # In a graph nothing else orders the recomputation after the layers
      # above it: without this dependency the executor may recompute every
      # block as soon as its input exists, holding all their activations at
      # once (what recomputing is meant to avoid).
      with tf.control_dependencies([output_gradient]):
        x_again = tf.identity(x)
      with tf.GradientTape() as tape:
        tape.watch(x_again)
        with _shared_dropout_seed(seed), _frozen_moving_averages(layer):
          recomputed = layer(x_again, **call_kwargs)
      gradients = tape.gradient(
          recomputed, [x_again] + variables, output_gradients=output_gradient,
          unconnected_gradients=tf.UnconnectedGradients.ZERO)
      return gradients[0], gradients[1:]

    return outputs, backward

  return forward(inputs)
