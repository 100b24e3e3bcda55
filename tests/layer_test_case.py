"""A shared harness so that each layer test is a few declarative lines.

Modelled on keras-hub's `run_layer_test`: config round trip with non-default
arguments, a check that `get_config` covers every constructor argument,
symbolic and eager calls, one `fit` step, `.keras` save -> load, and the
layer under each mixed-precision policy against itself in float32.
"""
import contextlib
import inspect
import json
import os
import tempfile
from typing import Iterator, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from random_weights import randomise_weights

MIXED_POLICIES = ('mixed_bfloat16', 'mixed_float16')
# Largest difference from the float32 layer on the same weights, relative to
# the largest float32 output. bfloat16 keeps 8 significant bits (a rounding
# step of 2**-8 = 0.4 %), float16 11 bits (0.05 %); a layer rounds its
# inputs, weights and each product's result, a few steps in all.
MIXED_TOLERANCE = {'mixed_bfloat16': 3e-2, 'mixed_float16': 4e-3}


def _constructor_args(cls):
  params = inspect.signature(cls.__init__).parameters
  return {name for name, p in params.items()
          if name != 'self' and p.kind not in (p.VAR_KEYWORD,
                                               p.VAR_POSITIONAL)}


@contextlib.contextmanager
def global_policy(name: str) -> Iterator[None]:
  """`keras.mixed_precision` global policy `name` inside; the previous one
  afterwards, even if the body fails (a leaked policy would change every
  later test's layers)."""
  previous = keras.mixed_precision.global_policy()
  keras.mixed_precision.set_global_policy(name)
  try:
    yield
  finally:
    keras.mixed_precision.set_global_policy(previous)


def _without_dtypes(config):
  """`config` without any layer's `dtype`, nested layers' included, so that
  `from_config` takes the global policy all the way down."""
  if isinstance(config, dict):
    return {key: _without_dtypes(value) for key, value in config.items()
            if key != 'dtype'}
  if isinstance(config, list):
    return [_without_dtypes(value) for value in config]
  return config


def check_mixed_precision(layer_cls, config, input_data, policy: str,
                          output_dtype: Optional[str] = None,
                          tolerance: Optional[float] = None,
                          seed: int = 0):
  """The layer under `policy` against the float32 layer on the same weights.

  Checks that the mixed layer keeps float32 variables, returns
  `output_dtype` (the policy's compute dtype unless the layer promises
  otherwise), agrees with the float32 layer within `tolerance` (relative to
  the largest float32 output), and trains: a `training=True` step gives
  finite float32 gradients for every trainable weight.

  The weights are random (a zero-initialised projection would make both
  outputs trivially equal). Returns the mixed layer's output.
  """
  reference = layer_cls.from_config(config)
  reference(input_data)  # Builds.
  randomise_weights(reference, seed=seed)
  expected = reference(input_data, training=False).numpy()

  with global_policy(policy):
    low = keras.mixed_precision.Policy(policy).compute_dtype
    mixed = layer_cls.from_config(_without_dtypes(config))
    assert mixed.compute_dtype == low, (mixed.compute_dtype, low)
    mixed(input_data)  # Builds.
    assert all(w.dtype == tf.float32 for w in mixed.weights), [
        (w.name, w.dtype.name) for w in mixed.weights
        if w.dtype != tf.float32]
    mixed.set_weights(reference.get_weights())
    got = mixed(input_data, training=False)
    assert got.dtype == (output_dtype or low), (got.dtype, output_dtype or low)
    scale = max(float(np.abs(expected).max()), 1e-6)
    difference = float(np.abs(got.numpy().astype(np.float64)
                              - expected).max())
    tolerance = tolerance or MIXED_TOLERANCE[policy]
    assert difference <= tolerance * scale, (
        f'{policy}: max |mixed - float32| = {difference:.3g}, more than '
        f'{tolerance} x max |float32| = {tolerance * scale:.3g}')

    with tf.GradientTape() as tape:
      out = mixed(input_data, training=True)
      loss = tf.reduce_mean(tf.square(tf.cast(out, tf.float32)))
    if mixed.trainable_weights:
      gradients = tape.gradient(loss, mixed.trainable_weights)
      for weight, gradient in zip(mixed.trainable_weights, gradients):
        assert gradient is not None, weight.name
        assert gradient.dtype == tf.float32, (weight.name, gradient.dtype)
        assert np.all(np.isfinite(tf.convert_to_tensor(gradient).numpy())), (
            weight.name)
    assert np.all(np.isfinite(tf.cast(out, tf.float32).numpy()))
  return got


def run_layer_test(layer_cls, init_kwargs, input_data, expected_output_shape,
                   run_fit=True, run_saving=True, atol=1e-6,
                   mixed_policies: Sequence[str] = MIXED_POLICIES,
                   mixed_output_dtype: Optional[str] = None,
                   mixed_tolerance: Optional[float] = None):
  """Runs the standard checks for one layer configuration.

  `mixed_policies` lists the policies `check_mixed_precision` runs under
  (empty: none); `mixed_output_dtype` and `mixed_tolerance` are passed to it.
  """
  layer = layer_cls(**init_kwargs)

  # get_config holds every constructor argument, with the values given.
  config = layer.get_config()
  missing = _constructor_args(layer_cls) - set(config)
  assert not missing, f'get_config misses constructor arguments {missing}'
  for key, value in init_kwargs.items():
    if isinstance(value, (int, float, str, bool, type(None), list, tuple)):
      got = config[key]
      assert json.dumps(got) == json.dumps(
          list(value) if isinstance(value, tuple) else value), (key, got, value)

  # Round trip, compared as JSON.
  restored = layer_cls.from_config(json.loads(json.dumps(config)))
  assert json.dumps(restored.get_config(), sort_keys=True) == json.dumps(
      config, sort_keys=True)

  # Eager call.
  output = layer(input_data)
  assert tuple(output.shape) == tuple(expected_output_shape)

  # Symbolic call.
  inputs = keras.Input(batch_shape=input_data.shape, dtype=input_data.dtype)
  symbolic = layer_cls(**init_kwargs)(inputs)
  assert tuple(symbolic.shape) == tuple(expected_output_shape)
  model = keras.Model(inputs, symbolic)

  if run_fit:
    model.compile(optimizer=keras.optimizers.SGD(1e-3), loss='mse')
    target = np.random.RandomState(1).randn(*expected_output_shape).astype(
        'float32')
    history = model.fit(input_data, target, epochs=1, verbose=0,
                        batch_size=input_data.shape[0])
    assert np.isfinite(history.history['loss'][0])

  if run_saving:
    before = model(input_data, training=False)
    with tempfile.TemporaryDirectory() as tmp:
      path = os.path.join(tmp, 'layer.keras')
      model.save(path)
      loaded = keras.models.load_model(path)
    after = loaded(input_data, training=False)
    np.testing.assert_allclose(np.asarray(before), np.asarray(after),
                               atol=atol)

  for policy in mixed_policies:
    mixed = check_mixed_precision(layer_cls, config, input_data, policy,
                                  output_dtype=mixed_output_dtype,
                                  tolerance=mixed_tolerance)
    assert tuple(mixed.shape) == tuple(expected_output_shape)
  return layer, output
