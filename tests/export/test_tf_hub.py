"""The export as a drop-in for the TF Hub model `deepmind/enformer/1`.

DeepMind's usage notebook (enformer/enformer-usage.ipynb) wraps the TF Hub
model in a small `Enformer` class: `hub.load(url).model`, whose
`predict_on_batch` takes 393,216 bp and predicts from the centre 196,608 bp.
The same client code, unchanged, runs against our export: the TF Hub
functions take the hub length `H` (default `2 * L`) and crop the centre `L`.
"""
import gc
import json
import os

import numpy as np
import pytest
import tensorflow as tf

import exported_models
from reliability import tiny_serving
from reliability.tiny_serving import BINS, HEADS, L
from enformer_tf import Enformer
from enformer_tf.cli import export as export_cli
from enformer_tf.export import export_saved_model, saved_model
from enformer_tf.export.signatures import ServingModule

hub = pytest.importorskip('tensorflow_hub')

H = 2 * L  # The default hub length.
OTHER_H = exported_models.OPTIONS_HUB_LENGTH  # A non-default one.


class NotebookEnformer:
  """The usage notebook's client class, as it is there (renamed only)."""

  def __init__(self, tfhub_url):
    self._model = hub.load(tfhub_url).model

  def predict_on_batch(self, inputs):
    predictions = self._model.predict_on_batch(inputs)
    return {k: v.numpy() for k, v in predictions.items()}

  @tf.function
  def contribution_input_grad(self, input_sequence,
                              target_mask, output_head='human'):
    input_sequence = input_sequence[tf.newaxis]

    target_mask_mass = tf.reduce_sum(target_mask)
    with tf.GradientTape() as tape:
      tape.watch(input_sequence)
      prediction = tf.reduce_sum(
          target_mask[tf.newaxis] *
          self._model.predict_on_batch(input_sequence)[output_head]
      ) / target_mask_mass

    input_grad = tape.gradient(prediction, input_sequence) * input_sequence
    input_grad = tf.squeeze(input_grad, axis=0)
    return tf.reduce_sum(input_grad, axis=-1)


def random_one_hot(batch, length, seed=0):
  """`[batch, length, 4]` float32 random ACGT."""
  codes = np.random.RandomState(seed).randint(0, 4, (batch, length))
  return np.eye(4, dtype=np.float32)[codes]


def centre(x, hub_length):
  start = (hub_length - L) // 2
  return x[..., start:start + L, :]


def a_mask(head, seed=0):
  mask = (np.random.RandomState(seed).rand(BINS, HEADS[head]) < 0.4)
  mask = mask.astype(np.float32)
  mask[BINS // 2, 0] = 1.0
  return mask


def keras_gradient_times_input(model, sequence, mask, head):
  """`[L]`: the in-process gradient x input of the masked mean, on `[L, 4]`."""
  x = tf.constant(sequence[np.newaxis])
  with tf.GradientTape() as tape:
    tape.watch(x)
    prediction = model(x, training=False)[head]
    score = tf.reduce_sum(mask * prediction) / tf.reduce_sum(mask)
  return tf.reduce_sum(tape.gradient(score, x) * x, axis=-1)[0].numpy()


def check_client(client, model, hub_length, seed):
  """The notebook's two calls on `hub_length`-bp inputs, against Keras."""
  x = random_one_hot(2, hub_length, seed=seed)
  predictions = client.predict_on_batch(x)
  expected = model(centre(x, hub_length), training=False)
  assert set(predictions) == set(HEADS)
  for head in HEADS:
    assert isinstance(predictions[head], np.ndarray)
    assert predictions[head].shape == (2, BINS, HEADS[head])
    np.testing.assert_allclose(predictions[head], expected[head].numpy(),
                               atol=1e-5, rtol=0)

  sequence = x[0]  # [H, 4]
  mask = a_mask('human', seed)
  scores = client.contribution_input_grad(sequence, mask).numpy()  # [H]
  assert scores.shape == (hub_length,)
  flank = (hub_length - L) // 2
  assert np.all(scores[:flank] == 0) and np.all(scores[flank + L:] == 0)
  reference = keras_gradient_times_input(model, centre(sequence, hub_length),
                                         mask, 'human')
  np.testing.assert_allclose(scores[flank:flank + L], reference, rtol=1e-4,
                             atol=1e-6 * np.abs(reference).max())
  assert np.abs(reference).max() > 0


# -- Fixtures ------------------------------------------------------------------


@pytest.fixture(scope='module')
def model():
  """The Keras twin of the shared export (same seed, same weights)."""
  return exported_models.tiny_twin()  # Shared; only called.


@pytest.fixture(scope='module')
def export_path(tmp_path_factory):
  """The run's shared tiny export (default hub length)."""
  return exported_models.tiny_export(tmp_path_factory)


@pytest.fixture(scope='module')
def hub_loaded(export_path):
  """`hub.load` of the shared export, for the tests that only call it
  (loading restores every function: ~1.5 s each time)."""
  return hub.load(export_path)


@pytest.fixture(scope='module')
def client(export_path):
  return NotebookEnformer(export_path)


@pytest.fixture(scope='module')
def keras_file(tmp_path_factory):
  """`model.keras` of `model` (the run's shared file)."""
  return exported_models.tiny_keras_file(tmp_path_factory)


@pytest.fixture(scope='module')
def cli_export(tmp_path_factory):
  """`enformer-export --hub_sequence_length OTHER_H` (with other options
  too, `exported_models.OPTIONS_FLAGS`; one export for the modules that
  check them): (path, stdout)."""
  path, code, out, err = exported_models.options_cli_export(tmp_path_factory)
  assert code == 0, err
  return path, out


# -- The notebook's client -----------------------------------------------------


def test_notebook_client_runs_unchanged_on_hub_length_inputs(client, model):
  check_client(client, model, H, seed=1)


def test_hub_input_signature_is_the_hub_length(hub_loaded):
  loaded = hub_loaded
  spec = loaded.model.predict_on_batch.input_signature[0]
  assert spec.shape[1] == H
  assert spec.shape.as_list() == [None, H, 4] and spec.dtype == tf.float32
  # The TF Serving signatures keep their exact length L.
  _, inputs = loaded.signatures['serving_default'].structured_input_signature
  assert inputs['sequence'].shape.as_list() == [None, L, 4]
  # An input of the model's own length is refused, as by the TF Hub model.
  with pytest.raises(TypeError, match=rf'\(None, {H}, 4\)'):
    loaded.model.predict_on_batch(tf.zeros([1, L, 4]))


def test_module_contribution_input_grad_takes_the_hub_length(hub_loaded,
                                                             model):
  loaded = hub_loaded
  sequence = random_one_hot(1, H, seed=2)[0]
  flank = (H - L) // 2
  sequence[flank + 100:flank + 110] = 0  # Some N in the centre.
  for head in HEADS:
    mask = a_mask(head, seed=3)
    scores = loaded.contribution_input_grad(sequence, mask, head).numpy()
    assert scores.shape == (H,)
    assert np.all(scores[:flank] == 0) and np.all(scores[flank + L:] == 0)
    assert np.all(scores[flank + 100:flank + 110] == 0)
    reference = keras_gradient_times_input(model, centre(sequence, H), mask,
                                           head)
    np.testing.assert_allclose(scores[flank:flank + L], reference,
                               rtol=1e-4, atol=1e-6 * np.abs(reference).max())
  with pytest.raises((ValueError, TypeError)):  # Length L: not the hub's.
    loaded.contribution_input_grad(centre(sequence, H), a_mask('human'),
                                   'human')


def test_kept_model_works_after_the_loaded_root_is_collected(export_path,
                                                             hub_loaded):
  # `.model` must stay referenced (as the notebook's `self._model` is): a
  # restored function alone holds its variables only weakly, in TensorFlow.
  x = tf.constant(random_one_hot(1, H, seed=4))
  # From the module's load, whose root stays referenced.
  expected = hub_loaded.model.predict_on_batch(x)
  for load in (tf.saved_model.load, hub.load):
    kept = load(export_path).model
    gc.collect()
    result = kept.predict_on_batch(x)
    for head in HEADS:
      np.testing.assert_array_equal(result[head].numpy(),
                                    expected[head].numpy())


def test_flanks_do_not_change_the_prediction(hub_loaded):
  kept = hub_loaded.model
  x = random_one_hot(1, H, seed=5)
  other = random_one_hot(1, H, seed=6)
  flank = (H - L) // 2
  other[:, flank:flank + L] = x[:, flank:flank + L]
  a, b = kept.predict_on_batch(x), kept.predict_on_batch(other)
  for head in HEADS:
    np.testing.assert_array_equal(a[head].numpy(), b[head].numpy())


# -- The option and the CLI flag -----------------------------------------------


def test_cli_flag_exports_a_non_default_hub_length(cli_export, model):
  cli_export, out = cli_export
  assert f'{OTHER_H} bp, centre {L} bp used' in out
  assert f'serving_default: sequence float32[-1, {L}, 4]' in out
  client = NotebookEnformer(cli_export)
  assert client._model.predict_on_batch.input_signature[0].shape[1] == OTHER_H
  # The export keeps 2 human tracks in float16 (--tracks, --float16); the
  # TF Hub functions return every track in float32 all the same.
  check_client(client, model, OTHER_H, seed=7)
  loaded = tf.saved_model.load(cli_export)
  _, inputs = loaded.signatures['human'].structured_input_signature
  assert inputs['sequence'].shape.as_list() == [None, L, 4]
  with open(os.path.join(cli_export, saved_model.METADATA_FILE)) as f:
    metadata = json.load(f)
  assert metadata['hub_sequence_length'] == OTHER_H
  assert metadata['sequence_length'] == L


@pytest.mark.parametrize('value, message', [
    (L - 2, f'at least {L} bp'),
    (L + 3, 'odd'),
    (0, f'at least {L} bp'),
    (True, 'must be an integer'),
    (2048.0, 'must be an integer'),
])
def test_bad_hub_sequence_length_is_a_clear_error(model, tmp_path, value,
                                                  message):
  with pytest.raises(ValueError, match=message) as error:
    export_saved_model(model, str(tmp_path), hub_sequence_length=value)
  assert f'hub_sequence_length={value!r}' in str(error.value) or (
      f'got {value!r}' in str(error.value))
  assert os.listdir(tmp_path) == []  # Refused before anything is written.


def test_hub_sequence_length_equal_to_l_means_no_crop(model):
  module = ServingModule(model, hub_sequence_length=L)
  assert module.hub_sequence_length == L
  x = tf.constant(random_one_hot(1, L, seed=8))
  np.testing.assert_allclose(
      module.model.predict_on_batch(x)['human'].numpy(),
      model(x, training=False)['human'].numpy(), atol=1e-5, rtol=0)


def test_cli_bad_hub_sequence_length_is_one_line(keras_file, tmp_path,
                                                 capsys):
  code = export_cli.main(['--keras_model', keras_file, '--export_dir',
                          str(tmp_path / 'models'), '--hub_sequence_length',
                          str(L + 1)])
  err = capsys.readouterr().err
  assert code == 1
  assert err.count('\n') == 1 and err.startswith('enformer-export: error: ')
  assert f'hub_sequence_length={L + 1}' in err and 'odd' in err
  assert not os.path.exists(tmp_path / 'models' / '1')


# -- The published architecture ------------------------------------------------


def test_published_architecture_takes_393216_bp_like_tf_hub():
  """The default Enformer (196,608 bp, 1,536 channels) gets TF Hub's length.

  Building its 251 M variables takes ~20 s on two busy cores and saving them
  writes 1 GB, so the model is left unbuilt (its `build` only records the
  shape); the `ServingModule` code that `export_saved_model` runs still
  derives the length and builds `model.predict_on_batch` with its input
  signature, which is what the SavedModel stores.
  """
  built_with = []

  class Unbuilt(Enformer):

    def build(self, input_shape):  # Records the shape; creates no weights.
      built_with.append(tf.TensorShape(input_shape))

    @property
    def variables(self):
      return []

  model = Unbuilt()
  assert model.sequence_length == 196_608 and model.channels == 1536
  assert model.get_config() == Enformer().get_config()  # The defaults.
  module = ServingModule(model)
  assert built_with == [tf.TensorShape([None, 196_608, 4])]
  spec = module.model.predict_on_batch.input_signature[0]
  assert spec.shape[1] == 393_216
  assert spec.shape.as_list() == [None, 393_216, 4]
  assert module.hub_sequence_length == 393_216
  assert module.sequence_length == 196_608
  metadata = module.metadata()
  assert metadata['hub_sequence_length'] == 393_216
  assert metadata['signatures']['serving_default']['inputs']['sequence'][
      'shape'] == [-1, 196_608, 4]
