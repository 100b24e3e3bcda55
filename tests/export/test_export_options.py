"""Export options and the versioned, atomic write.

Track selection, float16 and mixed bfloat16 use a real tiny Enformer,
exported once per run by `enformer-export` (`exported_models`: the same
exports tests/cli/test_export.py checks; the CLI passes the options to
`export_saved_model`); version numbering, overwrite and failure handling use
a one-variable stand-in module (the write logic does not depend on the model,
and it keeps these tests fast); the SIGKILL test kills a real export of a
smaller Enformer in a subprocess.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import exported_models
from reliability import tiny_serving
from enformer_tf import Enformer
from enformer_tf.export import (ServingModule, export_saved_model,
                                next_version, saved_model, versions, warmup)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
L = 1024
BINS = 4
TINY = dict(channels=48, num_transformer_layers=1, num_heads=2,
            heads={'human': 5, 'mouse': 3}, target_length=BINS,
            sequence_length=L, conv_tower_divisible_by=8)


def visible_versions(export_dir):
  return sorted(n for n in os.listdir(export_dir) if not n.startswith('.'))


# -- Track selection and float16 -----------------------------------------------


@pytest.fixture(scope='module')
def model():
  """The tiny Enformer the shared exports were made of (same weights)."""
  assert tiny_serving.TINY == TINY
  return exported_models.tiny_twin()  # Shared; only called.


def test_tracks_and_float16(model, tmp_path_factory):
  # export_saved_model(model, DIR, tracks={'human': [4, 0]},
  # output_dtype='float16', warmup_requests=False, version=5,
  # hub_sequence_length=H), through `enformer-export` (`exported_models`).
  path, code, _, err = exported_models.options_cli_export(tmp_path_factory)
  assert code == 0, err
  assert os.path.basename(path) == str(exported_models.OPTIONS_VERSION)
  assert not os.path.exists(os.path.join(path, warmup.WARMUP_FILE))
  loaded = tf.saved_model.load(path)
  rng = np.random.RandomState(1)
  codes = rng.randint(0, 4, (2, L))
  x = np.eye(4, dtype=np.float32)[codes]
  dna = [np.frombuffer(b'ACGT', np.uint8)[c].tobytes() for c in codes]
  expected = model(x, training=False)
  embedding = model.embed(x, training=False).numpy()

  for name, feed in (('serving_default', {'sequence': x}),
                     ('dna', {'dna': dna})):
    result = loaded.signatures[name](**{k: tf.constant(v)
                                        for k, v in feed.items()})
    assert {k: (v.dtype, tuple(v.shape)) for k, v in result.items()} == {
        'human': (tf.float16, (2, BINS, 2)), 'mouse': (tf.float16,
                                                       (2, BINS, 3))}
    np.testing.assert_allclose(result['human'].numpy().astype(np.float32),
                               expected['human'].numpy()[..., [4, 0]],
                               rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(result['mouse'].numpy().astype(np.float32),
                               expected['mouse'].numpy(), rtol=1e-3,
                               atol=1e-3)
  human = loaded.signatures['human_dna'](dna=tf.constant(dna))['human']
  assert human.dtype == tf.float16 and human.shape == (2, BINS, 2)
  embeddings = loaded.signatures['embeddings'](sequence=tf.constant(x))
  assert embeddings['embeddings'].dtype == tf.float16
  np.testing.assert_allclose(
      embeddings['embeddings'].numpy().astype(np.float32), embedding,
      rtol=1e-3, atol=1e-3)
  # The TF Hub-style function keeps every track in float32; it takes H bp
  # (zero flanks here) and predicts from the centre L.
  flanks = np.zeros([2, (exported_models.OPTIONS_HUB_LENGTH - L) // 2, 4],
                    np.float32)
  hub = loaded.model.predict_on_batch(np.concatenate([flanks, x, flanks], 1))
  assert hub['human'].dtype == tf.float32 and hub['human'].shape[-1] == 5
  np.testing.assert_allclose(hub['human'].numpy(), expected['human'].numpy(),
                             atol=1e-5, rtol=0)

  with open(os.path.join(path, saved_model.METADATA_FILE)) as f:
    metadata = json.load(f)
  assert metadata['track_indices'] == {'human': [4, 0], 'mouse': [0, 1, 2]}
  assert metadata['heads'] == {'human': 2, 'mouse': 3}
  assert metadata['output_dtype'] == 'float16'
  assert metadata['signatures']['human']['outputs'] == {
      'human': {'dtype': 'float16', 'shape': [-1, BINS, 2]}}


def test_mixed_bfloat16_export_serves_the_same_model_in_bfloat16(
    model, tmp_path_factory, tmp_path, monkeypatch):
  # export_saved_model(model, DIR, mixed_bfloat16=True,
  # warmup_requests=False), through `enformer-export` (`exported_models`).
  path, code, _, err = exported_models.mixed_bfloat16_cli_export(
      tmp_path_factory)
  assert code == 0, err
  with open(os.path.join(path, saved_model.METADATA_FILE)) as f:
    assert json.load(f)['model_config']['mixed_bfloat16'] is True
  loaded = tf.saved_model.load(path)
  x = np.eye(4, dtype=np.float32)[np.random.RandomState(2).randint(0, 4,
                                                                   (2, L))]
  expected = model(x, training=False)
  result = loaded.signatures['serving_default'](sequence=tf.constant(x))
  for head in expected:
    got, want = result[head].numpy(), expected[head].numpy()
    assert result[head].dtype == tf.float32
    assert not np.array_equal(got, want)  # It did compute in bfloat16...
    np.testing.assert_allclose(got, want, rtol=5e-2,  # ...with its rounding.
                               atol=5e-2 * np.abs(want).max())
  graph = loaded.signatures['serving_default'].graph.as_graph_def()
  dtypes = {attr.type for f in graph.library.function for node in f.node_def
            for attr in node.attr.values()}
  assert tf.bfloat16.as_datatype_enum in dtypes
  with pytest.raises(ValueError, match='needs an Enformer'):
    saved_model.in_mixed_bfloat16(keras.Sequential([keras.layers.Dense(1)]))

  # export_saved_model itself: the module it serves is a bfloat16 copy with
  # the caller's weights, and the caller's model is unchanged. (A stand-in
  # module records what it is given; the real export is the one above.)
  served = []

  class Recorder(StubModule):

    def __init__(self, served_model, **options):
      super().__init__(served_model, **options)
      served.append(served_model)

  monkeypatch.setattr(saved_model.signatures_lib, 'ServingModule', Recorder)
  export_saved_model(model, str(tmp_path), mixed_bfloat16=True,
                     warmup_requests=False)
  assert model.compute_dtype == 'float32'  # The caller's model is unchanged.
  (copy,) = served
  assert copy is not model and copy.compute_dtype == 'bfloat16'
  assert copy.get_config()['mixed_bfloat16'] is True
  for served_weight, weight in zip(copy.get_weights(), model.get_weights(),
                                   strict=True):
    np.testing.assert_array_equal(served_weight, weight)


@pytest.mark.parametrize('tracks, message', [
    ({'zebrafish': [0]}, "head 'zebrafish'.*heads are \\['human', 'mouse'\\]"),
    ({'human': [5]}, r'index 5, outside .* 0\.\.4'),
    ({'human': [-1]}, r'index -1'),
    ({'human': []}, r'empty'),
    ({'human': [1, 1]}, r'repeats the indices \[1\]'),
    ({'human': [0.5]}, r'integer track indices'),
])
def test_bad_tracks_are_rejected_before_writing(model, tmp_path, tracks,
                                                message):
  with pytest.raises(ValueError, match=message):
    export_saved_model(model, str(tmp_path / 'out'), tracks=tracks)
  assert not os.path.exists(tmp_path / 'out')


def test_bad_options_are_rejected(model, tmp_path):
  with pytest.raises(ValueError, match='output_dtype'):
    ServingModule(model, output_dtype='bfloat16')
  with pytest.raises(ValueError, match='non-negative integer'):
    export_saved_model(model, str(tmp_path), version='2')
  with pytest.raises(ValueError, match='not a local path'):
    export_saved_model(model, 'gs://bucket/models')
  unfixed = Enformer(**dict(TINY, sequence_length=None))
  with pytest.raises(ValueError, match='sequence_length=None'):
    ServingModule(unfixed)
  clash = Enformer(**dict(TINY, heads={'human': 2, 'human_dna': 2}))
  with pytest.raises(ValueError,
                     match=r"clashing signature names \['human_dna'\]"):
    ServingModule(clash)


# -- Versions, overwrite, failures (with a stand-in module) --------------------


class StubModule(tf.Module):
  """What `export_saved_model` needs of a `ServingModule`, tiny."""

  sequence_length = 8

  def __init__(self, model, tracks=None, output_dtype='float32',
               hub_sequence_length=None):
    super().__init__()
    del model, tracks, output_dtype, hub_sequence_length
    self.scale = tf.Variable(2.0)

  def signatures(self):
    serve = tf.function(
        lambda sequence: {'y': sequence * self.scale},
        input_signature=[tf.TensorSpec([None, 8, 4], tf.float32,
                                       name='sequence')])
    return {'serving_default': serve.get_concrete_function()}

  def metadata(self):
    return {'stub': True}


@pytest.fixture
def stub(monkeypatch):
  monkeypatch.setattr(saved_model.signatures_lib, 'ServingModule',
                      StubModule)


def test_versions_count_up_past_other_names(stub, tmp_path):
  for name in ['3', '.tmp-9-1', 'notes', '10.bak']:
    (tmp_path / name).mkdir()
  (tmp_path / '12').write_text('a file, not a version')
  assert next_version(str(tmp_path)) == 4
  assert export_saved_model(None, str(tmp_path)) == str(tmp_path / '4')
  assert export_saved_model(None, str(tmp_path), version=7) == str(
      tmp_path / '7')
  assert next_version(str(tmp_path)) == 8
  assert next_version(str(tmp_path / 'missing')) == 1
  loaded = tf.saved_model.load(str(tmp_path / '7'))
  np.testing.assert_array_equal(
      loaded.signatures['serving_default'](sequence=tf.ones([1, 8, 4]))['y'],
      2 * np.ones([1, 8, 4]))


def test_refuses_to_overwrite_unless_asked(stub, tmp_path):
  first = export_saved_model(None, str(tmp_path), version=1)
  (tmp_path / '1' / 'marker').write_text('from the first export')
  with pytest.raises(FileExistsError,
                     match=r'Version 1 already exists.*overwrite=True.*next '
                     r'version, 2'):
    export_saved_model(None, str(tmp_path), version=1)
  assert (tmp_path / '1' / 'marker').exists()
  assert export_saved_model(None, str(tmp_path), version=1,
                            overwrite=True) == first
  assert not (tmp_path / '1' / 'marker').exists()
  assert os.listdir(tmp_path) == ['1']  # Nothing hidden left behind.


# The steps after tf.saved_model.save, in order.
STEPS = {'_write_metadata': (saved_model, '_write_metadata'),
         'write_warmup_requests': (warmup, 'write_warmup_requests'),
         'publish': (versions, 'publish')}


@pytest.mark.parametrize('step', list(STEPS))
def test_a_failure_mid_export_leaves_no_version(stub, tmp_path, monkeypatch,
                                                step):
  written = []

  def fail(directory, *args):
    written.extend(os.listdir(directory))
    raise RuntimeError('disk full')

  monkeypatch.setattr(*STEPS[step], fail)
  with pytest.raises(RuntimeError, match='disk full'):
    export_saved_model(None, str(tmp_path))
  assert 'saved_model.pb' in written  # It failed part-way through.
  assert os.listdir(tmp_path) == []


def test_a_failed_overwrite_keeps_the_old_version(stub, tmp_path,
                                                  monkeypatch):
  export_saved_model(None, str(tmp_path), version=1)
  (tmp_path / '1' / 'marker').write_text('old')

  def fail(*args):
    raise RuntimeError('interrupted')

  monkeypatch.setattr(warmup, 'write_warmup_requests', fail)
  with pytest.raises(RuntimeError, match='interrupted'):
    export_saved_model(None, str(tmp_path), version=1, overwrite=True)
  assert (tmp_path / '1' / 'marker').read_text() == 'old'
  assert os.listdir(tmp_path) == ['1']


_KILLED_EXPORT = textwrap.dedent('''
    import os, sys, time
    os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'
    sys.path.insert(0, {repo!r})
    from enformer_tf import Enformer
    from enformer_tf.export import saved_model, warmup

    write_warmup = warmup.write_warmup_requests

    def write_then_hang(directory, *args):
      write_warmup(directory, *args)
      print('WRITTEN', directory, flush=True)  # Everything but the rename.
      time.sleep(600)

    warmup.write_warmup_requests = write_then_hang
    model = Enformer(**{tiny!r})
    model.build((None, {length}, 4))
    saved_model.export_saved_model(model, sys.argv[1])
''')


def test_an_export_killed_part_way_leaves_no_version(tmp_path):
  export_dir = tmp_path / 'models'
  script = tmp_path / 'export.py'
  # The smallest Enformer that still has every kind of signature (one head,
  # no transformer): where the export dies does not depend on the model,
  # and its tracing takes half the tiny model's.
  smaller = dict(TINY, num_transformer_layers=0, heads={'human': 1})
  script.write_text(_KILLED_EXPORT.format(repo=REPO, tiny=smaller, length=L))
  process = subprocess.Popen(
      [sys.executable, str(script), str(export_dir)], stdout=subprocess.PIPE,
      stderr=subprocess.DEVNULL, text=True)
  try:
    line = process.stdout.readline()
    assert line.startswith('WRITTEN'), f'the export did not start: {line!r}'
    tmp_dir = line.split()[1]
    assert os.path.basename(tmp_dir).startswith('.tmp-1-')
    assert os.path.exists(os.path.join(tmp_dir, 'saved_model.pb'))
    assert os.path.exists(os.path.join(tmp_dir, warmup.WARMUP_FILE))
  finally:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
  assert process.returncode == -signal.SIGKILL
  assert visible_versions(export_dir) == []
  assert next_version(str(export_dir)) == 1
