"""A shared harness so that each layer test is a few declarative lines.

Modelled on keras-hub's `run_layer_test`: config round trip with non-default
arguments, a check that `get_config` covers every constructor argument,
symbolic and eager calls, one `fit` step, and `.keras` save -> load.
"""
import inspect
import json
import os
import tempfile

import numpy as np
import tf_keras as keras


def _constructor_args(cls):
  params = inspect.signature(cls.__init__).parameters
  return {name for name, p in params.items()
          if name != 'self' and p.kind not in (p.VAR_KEYWORD,
                                               p.VAR_POSITIONAL)}


def run_layer_test(layer_cls, init_kwargs, input_data, expected_output_shape,
                   run_fit=True, run_saving=True, atol=1e-6):
  """Runs the standard checks for one layer configuration."""
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
  return layer, output
