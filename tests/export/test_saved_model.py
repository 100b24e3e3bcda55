"""One exported tiny Enformer, checked every way it will be used.

The signatures against the Keras model (in Python, through TensorFlow's C++
session as TF Serving runs them, and through `saved_model_cli`'s code), the
input checks, the warm-up requests and the TF Hub-style functions. The serving
kit's client and request example are tested in tests/serving. The export is
`exported_models.tiny_export`, written once per run for every module that
reads it.
"""
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

import exported_models
from reliability import tiny_serving
from enformer_tf.export import saved_model, warmup

L = tiny_serving.L
H = 2 * L  # The TF Hub functions' input length (hub_sequence_length).
BINS = tiny_serving.BINS
HEADS = tiny_serving.HEADS
TINY = tiny_serving.TINY  # channels 48, 1 transformer layer, 2 heads
EMBEDDING = 2 * TINY['channels']
SEQUENCE_SIGNATURES = ['serving_default', 'human', 'mouse', 'embeddings']
DNA_SIGNATURES = ['dna', 'human_dna', 'mouse_dna', 'embeddings_dna']


# -- Helpers -------------------------------------------------------------------


def random_codes(batch, seed=0):
  return np.random.RandomState(seed).randint(0, 4, (batch, L))


def one_hot(codes):
  """[..., L] codes 0..3 (A, C, G, T), 4 = N -> [..., L, 4] float32."""
  return np.eye(5, 4, dtype=np.float32)[codes]


def dna_strings(codes, lower=False):
  letters = np.frombuffer(b'acgtn' if lower else b'ACGTN', np.uint8)
  return [letters[row].tobytes().decode() for row in codes]


def expected_outputs(model, x, name):
  """What signature `name` must return for one-hot `x`."""
  base = name[:-len('_dna')] if name.endswith('_dna') else name
  if base in ('serving_default', 'dna'):
    return {k: v.numpy() for k, v in model(x, training=False).items()}
  if base == 'embeddings':
    return {'embeddings': model.embed(x, training=False).numpy()}
  return {base: model.predict_head(x, base, training=False).numpy()}


# saved_model_cli's own Python code, in this process: the subprocess's
# ~6 s of imports bought nothing these checks look at (what it prints, the
# error it reports). tests/reliability/test_signature_bad_input.py runs the
# real `saved_model_cli` executable in a subprocess.
run_cli = exported_models.saved_model_cli_in_process


# -- Fixtures ------------------------------------------------------------------


@pytest.fixture(scope='module')
def model():
  """The Keras twin of the export (same seed, same weights)."""
  return exported_models.tiny_twin()  # Shared; only called.


@pytest.fixture(scope='module')
def export_dir(tmp_path_factory):
  return exported_models.tiny_export_dir(tmp_path_factory)


@pytest.fixture(scope='module')
def export_path(tmp_path_factory):
  """The tiny Enformer exported with every default (warm-up requests too),
  once per run and shared by the modules that only read it."""
  return exported_models.tiny_export(tmp_path_factory)


@pytest.fixture(scope='module')
def loaded(tmp_path_factory):
  return exported_models.tiny_loaded(tmp_path_factory)


@pytest.fixture(scope='module')
def session(tmp_path_factory):
  return exported_models.tiny_session(tmp_path_factory)


# -- Layout and signatures -----------------------------------------------------


def test_export_writes_version_1_with_warmup_and_metadata(export_dir,
                                                          export_path):
  assert export_path == os.path.join(export_dir, '1')
  assert sorted(os.listdir(export_dir)) == ['1']  # No temporary left over.
  for name in ['saved_model.pb', 'variables', warmup.WARMUP_FILE,
               saved_model.METADATA_FILE]:
    assert os.path.exists(os.path.join(export_path, name)), name
  with open(os.path.join(export_path, saved_model.METADATA_FILE)) as f:
    metadata = json.load(f)
  assert metadata['sequence_length'] == L and metadata['bins'] == BINS
  assert metadata['heads'] == HEADS
  assert metadata['track_indices'] == {'human': [0, 1, 2, 3, 4],
                                       'mouse': [0, 1, 2]}
  assert metadata['model_config']['channels'] == 48
  assert set(metadata['signatures']) == set(SEQUENCE_SIGNATURES +
                                            DNA_SIGNATURES)


def _expected_signature_shapes():
  heads_out = {h: ('DT_FLOAT', (-1, BINS, n)) for h, n in HEADS.items()}
  embeddings_out = {'embeddings': ('DT_FLOAT', (-1, BINS, EMBEDDING))}
  sequence_in = {'sequence': ('DT_FLOAT', (-1, L, 4))}
  dna_in = {'dna': ('DT_STRING', (-1,))}
  expected = {}
  for inputs, suffix in ((sequence_in, ''), (dna_in, '_dna')):
    expected['serving_default' if not suffix else 'dna'] = (inputs, heads_out)
    expected['embeddings' + suffix] = (inputs, embeddings_out)
    for head in HEADS:
      expected[head + suffix] = (inputs, {head: heads_out[head]})
  return expected


def test_loaded_signatures_have_fixed_named_specs(loaded):
  expected = _expected_signature_shapes()
  assert set(loaded.signatures) == set(expected)
  for name, (inputs, outputs) in expected.items():
    function = loaded.signatures[name]
    _, input_specs = function.structured_input_signature
    assert {k: (v.dtype.name, tuple(v.shape.as_list()))
            for k, v in input_specs.items()} == {
                k: ('float32' if d == 'DT_FLOAT' else 'string',
                    tuple(None if s == -1 else s for s in shape))
                for k, (d, shape) in inputs.items()}, name
    assert {k: tuple(v.shape.as_list())
            for k, v in function.structured_outputs.items()} == {
                k: tuple(None if s == -1 else s for s in shape)
                for k, (_, shape) in outputs.items()}, name


def _parse_show_all(text):
  """signature -> {'inputs'|'outputs': {key: (dtype, shape)}}."""
  result, current, section, key = {}, None, None, None
  for line in text.splitlines():
    line = line.strip()
    match = re.match(r"signature_def\['(.+)'\]:$", line)
    if match:
      current = result.setdefault(match.group(1), {'inputs': {},
                                                   'outputs': {}})
      continue
    match = re.match(r"(inputs|outputs)\['(.+)'\] tensor_info:$", line)
    if match and current is not None:
      section, key = match.groups()
      current[section][key] = [None, None]
      continue
    if key is None:
      continue
    match = re.match(r'dtype: (\w+)$', line)
    if match:
      current[section][key][0] = match.group(1)
    match = re.match(r'shape: \(([-\d, ]*)\)$', line)
    if match:
      current[section][key][1] = tuple(
          int(d) for d in match.group(1).split(',') if d.strip())
  return {name: {s: {k: tuple(v) for k, v in spec[s].items()}
                 for s in spec}
          for name, spec in result.items()}


def test_saved_model_cli_show_lists_every_signature(export_path):
  stdout = run_cli('show', '--dir', export_path, '--all')
  shown = _parse_show_all(stdout)
  shown.pop('__saved_model_init_op', None)
  expected = {name: {'inputs': inputs, 'outputs': outputs}
              for name, (inputs, outputs) in
              _expected_signature_shapes().items()}
  assert shown == expected
  for method in ('tensorflow/serving/predict',):
    assert stdout.count(method) == len(expected)
  # The TF Hub-style function of the root object is listed too.
  assert "Function Name: 'contribution_input_grad'" in stdout


# -- Values --------------------------------------------------------------------


@pytest.mark.parametrize('name', SEQUENCE_SIGNATURES)
def test_one_hot_signatures_equal_the_keras_model(model, loaded, session,
                                                  name):
  x = one_hot(random_codes(2, seed=1))
  expected = expected_outputs(model, x, name)
  for result in (loaded.signatures[name](sequence=tf.constant(x)),
                 session.run(name, {'sequence': x})):
    assert set(result) == set(expected)
    for key, value in expected.items():
      np.testing.assert_allclose(np.asarray(result[key]), value, atol=1e-5,
                                 rtol=0)
      assert np.asarray(result[key]).dtype == np.float32


@pytest.mark.parametrize('name', DNA_SIGNATURES)
def test_dna_signatures_equal_the_one_hot_ones(model, loaded, session, name):
  codes = random_codes(3, seed=2)
  codes[:, 100:140] = 4  # A stretch of N.
  codes[1, 7] = 4
  dna = dna_strings(codes[:2]) + dna_strings(codes[2:], lower=True)
  one_hot_name = {'dna': 'serving_default'}.get(name, name[:-len('_dna')])
  from_one_hot = loaded.signatures[one_hot_name](
      sequence=tf.constant(one_hot(codes)))
  for result in (loaded.signatures[name](dna=tf.constant(dna)),
                 session.run(name, {'dna': np.array(dna, dtype=object)})):
    assert set(result) == set(from_one_hot)
    for key in from_one_hot:
      np.testing.assert_array_equal(np.asarray(result[key]),
                                    from_one_hot[key].numpy())
  # And both equal the Keras model on the same one-hot input.
  for key, value in expected_outputs(model, one_hot(codes), name).items():
    np.testing.assert_allclose(from_one_hot[key].numpy(), value, atol=1e-5,
                               rtol=0)


def test_saved_model_cli_run_matches_keras(model, export_path, tmp_path):
  x = one_hot(random_codes(2, seed=4))
  np.save(tmp_path / 'x.npy', x)
  outdir = tmp_path / 'out'
  stdout = run_cli('run', '--dir', export_path, '--tag_set', 'serve',
                   '--signature_def', 'serving_default',
                   '--inputs', f'sequence={tmp_path / "x.npy"}',
                   '--outdir', str(outdir))
  for head in HEADS:
    assert f'Output {head} is saved to {outdir / head}.npy' in stdout
  expected = model(x, training=False)
  for head in HEADS:
    output = np.load(outdir / f'{head}.npy')
    assert output.dtype == np.float32 and output.shape == (2, BINS,
                                                           HEADS[head])
    np.testing.assert_allclose(output, expected[head].numpy(), atol=1e-5,
                               rtol=0)


# -- Bad inputs ----------------------------------------------------------------

# Every bad one-hot and DNA input, through TF Serving's C++ session and the
# loaded functions, of every signature of this same export: the catalogue in
# tests/reliability/test_signature_bad_input.py. Its cases hold each case this
# module had (wrong length, rank, width, empty batch, 0.25 for N, two ones,
# NaN, int32, float64; letters X, U, r, '-', ' ' at a position, short, long
# and non-ASCII strings, empty batch, scalar, rank 2, float) with the whole
# message rather than a fragment, for all 8 signatures rather than 6, so the
# cases were merged there: each test re-optimises the loaded signatures it
# calls (~1 s).

GOOD_DNA = dna_strings(random_codes(1, seed=5))[0]


def test_hub_predict_on_batch_checks_the_shape(loaded):
  # A restored tf.function checks its input signature in Python first. It
  # takes the hub length H = 2 L, not the model's own L.
  with pytest.raises(TypeError, match=re.escape(f'(None, {H}, 4)')):
    loaded.model.predict_on_batch(tf.zeros([1, L, 4]))
  with pytest.raises(tf.errors.InvalidArgumentError, match='empty batch'):
    loaded.model.predict_on_batch(tf.zeros([0, H, 4]))


def test_saved_model_cli_run_reports_bad_dna_and_wrong_length(export_path,
                                                              tmp_path):
  bad = GOOD_DNA[:9] + 'Z' + GOOD_DNA[10:]
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'only the letters A, C, G, T and N.*\[1\] \[9\] '
                     r'\[Z\]'):
    run_cli('run', '--dir', export_path, '--tag_set', 'serve',
            '--signature_def', 'human_dna',
            '--input_exprs', f'dna=["{GOOD_DNA}", "{bad}"]')
  # saved_model_cli's own Python session does check fed shapes.
  np.save(tmp_path / 'short.npy', one_hot(random_codes(1))[:, :512])
  with pytest.raises(ValueError, match=r'\(1, 512, 4\).*\(None, 1024, 4\)'):
    run_cli('run', '--dir', export_path, '--tag_set', 'serve',
            '--signature_def', 'human', '--inputs',
            f'sequence={tmp_path / "short.npy"}')


# -- Warm-up requests ----------------------------------------------------------


def test_warmup_requests_parse_and_run(export_path, loaded, session):
  from tensorflow_serving.apis import prediction_log_pb2
  path = os.path.join(export_path, warmup.WARMUP_FILE)
  logs = [prediction_log_pb2.PredictionLog.FromString(record.numpy())
          for record in tf.data.TFRecordDataset(path)]
  names = [log.predict_log.request.model_spec.signature_name for log in logs]
  assert sorted(names) == sorted(SEQUENCE_SIGNATURES + DNA_SIGNATURES)
  expected = _expected_signature_shapes()
  for log in logs:
    request = log.predict_log.request
    assert log.WhichOneof('log_type') == 'predict_log'
    assert request.model_spec.name == 'enformer'
    name = request.model_spec.signature_name
    inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
    assert set(inputs) == set(expected[name][0])
    assert all(v.shape[0] == 1 for v in inputs.values())
    for result in (session.run(name, inputs),
                   loaded.signatures[name](**{k: tf.constant(v)
                                              for k, v in inputs.items()})):
      assert {k: (1,) + expected[name][1][k][1][1:] for k in result} == {
          k: tuple(np.asarray(v).shape) for k, v in result.items()}


# -- TF Hub compatibility ------------------------------------------------------


def hub_input(x, seed=0):
  """`[B, L, 4]` -> `[B, H, 4]`: random one-hot flanks around `x`."""
  flank = (H - L) // 2
  rng = np.random.RandomState(seed)
  left, right = (one_hot(rng.randint(0, 4, (len(x), flank)))
                 for _ in range(2))
  return np.concatenate([left, x, right], axis=1)


def test_hub_predict_on_batch_returns_every_head(model, loaded):
  signature = loaded.model.predict_on_batch.input_signature
  assert signature[0].shape[1] == H
  assert signature[0].shape.as_list() == [None, H, 4]
  centre = one_hot(random_codes(2, seed=6))
  x = tf.constant(hub_input(centre))
  predictions = loaded.model.predict_on_batch(x)
  expected = model(centre, training=False)
  assert set(predictions) == set(HEADS)
  for head in HEADS:
    np.testing.assert_allclose(predictions[head].numpy(),
                               expected[head].numpy(), atol=1e-5, rtol=0)
  # Differentiable after loading, as gradient tools expect.
  with tf.GradientTape() as tape:
    tape.watch(x)
    total = tf.reduce_sum(loaded.model.predict_on_batch(x)['mouse'])
  centre = tf.constant(centre)
  with tf.GradientTape() as reference_tape:
    reference_tape.watch(centre)
    reference = tf.reduce_sum(model(centre, training=False)['mouse'])
  gradient = tape.gradient(total, x).numpy()  # [2, H, 4]
  flank = (H - L) // 2
  np.testing.assert_allclose(gradient[:, flank:flank + L],
                             reference_tape.gradient(reference,
                                                     centre).numpy(),
                             rtol=1e-4, atol=1e-6)
  assert np.all(gradient[:, :flank] == 0)  # The cropped flanks.
  assert np.all(gradient[:, flank + L:] == 0)


@pytest.mark.parametrize('head', list(HEADS))
def test_contribution_input_grad_equals_a_direct_gradient(model, loaded, head):
  rng = np.random.RandomState(7)
  sequence = one_hot(random_codes(1, seed=8))[0]  # [L, 4]
  sequence[300:310] = 0  # Some N.
  mask = (rng.rand(BINS, HEADS[head]) < 0.4).astype(np.float32)
  mask[BINS // 2, 0] = 1.0
  # [H]: the function takes the hub length, zero on the cropped flanks.
  hub_scores = loaded.contribution_input_grad(
      hub_input(sequence[np.newaxis])[0], mask, head).numpy()
  flank = (H - L) // 2
  assert hub_scores.shape == (H,)
  assert np.all(hub_scores[:flank] == 0)
  assert np.all(hub_scores[flank + L:] == 0)
  scores = hub_scores[flank:flank + L]

  x = tf.constant(sequence[np.newaxis])
  with tf.GradientTape() as tape:
    tape.watch(x)
    prediction = model(x, training=False)[head]
    score = tf.reduce_sum(mask * prediction) / tf.reduce_sum(mask)
  expected = tf.reduce_sum(tape.gradient(score, x) * x, axis=-1)[0].numpy()
  np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-7)
  assert np.all(scores[300:310] == 0)  # Gradient x input at N is 0.


def test_contribution_input_grad_rejects_other_heads_and_shapes(loaded):
  sequence = hub_input(one_hot(random_codes(1)))[0]  # [H, 4]
  with pytest.raises((ValueError, TypeError)):  # The model's L, not H.
    loaded.contribution_input_grad(sequence[:L], np.ones([BINS, 5],
                                                         np.float32), 'human')
  with pytest.raises((ValueError, TypeError)):
    loaded.contribution_input_grad(sequence, np.ones([BINS, 5], np.float32),
                                   'zebrafish')
  with pytest.raises((ValueError, TypeError)):  # The mouse head has 3.
    loaded.contribution_input_grad(sequence, np.ones([BINS, 5], np.float32),
                                   'mouse')
