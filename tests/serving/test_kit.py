"""The TF Serving kit in `serving/`: configs parse, documented sizes are the
computed ones, the client's sequence handling is right."""
import json
import os
import re
import sys

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

import enformer_tf
from enformer_tf.export import signatures
from reliability.tiny_serving import KIT, load_client


def read(name):
  with open(os.path.join(KIT, name), encoding='utf-8') as f:
    return f.read()


def test_models_config_parses():
  from tensorflow_serving.config import model_server_config_pb2
  config = text_format.Parse(read('models.config'),
                             model_server_config_pb2.ModelServerConfig())
  (model,) = config.model_config_list.config
  assert model.name == 'enformer'
  assert os.path.isabs(model.base_path)
  assert model.model_platform == 'tensorflow'
  assert model.model_version_policy.latest.num_versions == 1


# The fields of TF Serving's BatchingParameters (session_bundle_config.proto,
# not shipped in tensorflow-serving-api).
BATCHING_FIELDS = {'max_batch_size', 'batch_timeout_micros',
                   'max_enqueued_batches', 'num_batch_threads',
                   'thread_pool_name', 'allowed_batch_sizes',
                   'pad_variable_length_inputs',
                   'enable_large_batch_splitting',
                   'max_execution_batch_size'}


def test_batching_parameters_are_valid():
  values = {}
  for line in read('batching_parameters.txt').splitlines():
    line = line.split('#')[0].strip()
    if not line:
      continue
    match = re.fullmatch(r'(\w+) \{ value: (\d+) \}', line)
    assert match, f'not a BatchingParameters line: {line!r}'
    assert match.group(1) in BATCHING_FIELDS
    values.setdefault(match.group(1), []).append(int(match.group(2)))
  allowed = values['allowed_batch_sizes']
  assert allowed == sorted(allowed)
  assert allowed[-1] == values['max_batch_size'][0]  # TF Serving requires it.
  assert values['batch_timeout_micros'][0] > 0


def test_documented_payload_sizes_are_the_computed_ones():
  from tensorflow_serving.apis import predict_pb2
  text = read('SIGNATURES.md')
  length, bins = enformer_tf.SEQUENCE_LENGTH, enformer_tf.TARGET_LENGTH
  human, mouse = (enformer_tf.DEFAULT_HEADS[h] for h in ('human', 'mouse'))
  embedding = 2 * 1536

  def grpc_request(key, value):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = 'enformer'
    request.model_spec.signature_name = (
        'human_dna' if key == 'dna' else 'human')
    request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request.ByteSize()

  sizes = [
      grpc_request('dna', np.array([b'A' * length], dtype=object)),
      grpc_request('sequence', np.zeros([1, length, 4], np.float32)),
      bins * human * 4, bins * human * 2, bins * mouse * 4, bins * mouse * 2,
      bins * (human + mouse) * 4, bins * (human + mouse) * 2,
      bins * embedding * 4, bins * embedding * 2]
  for size in sizes:
    assert f'{size:,} B' in text, size
  client = load_client()
  dna_body = client.rest_body('human_dna', ['A' * length])
  assert f'{len(dna_body):,} B' in text
  one_hot_body = client.rest_body('human', ['ACGT' * (length // 4)])
  assert f'{len(one_hot_body):,} B' in text
  assert '19,041,792 B (18.2 MiB)' in text
  for name in signatures.signature_names(['human', 'mouse']):
    assert f'`{name}`' in text


def test_rest_request_example_is_small_and_well_formed():
  body = json.loads(read('rest_request_example.json'))
  assert len(read('rest_request_example.json')) < 4096
  assert body['signature_name'] == 'human_dna'
  (instance,) = body['instances']
  assert len(instance['dna']) == 1024
  assert set(instance['dna']) <= set('ACGTN')


def test_readme_runs_the_server_with_the_kit():
  readme = read('README.md')
  for text in ('--model_config_file=serving/models.config', '--enable_batching',
               '--batching_parameters_file=serving/batching_parameters.txt',
               'rest_request_example.json', 'client.py', 'curl'):
    assert text in readme


# -- Client sequence handling --------------------------------------------------


def test_parse_region_and_window():
  client = load_client()
  assert client.parse_region('chr11:5,248,001-5,249,000') == (
      'chr11', 5_248_000, 5_249_000)
  assert client.parse_region('chrX:100') == ('chrX', 99, 100)
  for bad in ('chr1', 'chr1:0-5', 'chr1:9-3', 'chr1:a-b'):
    with pytest.raises(ValueError, match='region'):
      client.parse_region(bad)
  assert client.centred_window(100, 200, 50) == (125, 175)
  assert client.centred_window(10, 11, 4) == (8, 12)


@pytest.mark.parametrize('use_pyfaidx', [True, False])
def test_fasta_window_pads_with_n(tmp_path, monkeypatch, use_pyfaidx):
  if not use_pyfaidx:
    monkeypatch.setitem(sys.modules, 'pyfaidx', None)  # ImportError.
  client = load_client()
  chrom = 'ACGTacgtRY' * 5  # 50 bp, with IUPAC codes.
  fasta = tmp_path / 'g.fa'
  fasta.write_text('>chrA desc\n' + chrom[:30] + '\n' + chrom[30:] + '\n'
                   '>chrB\nGGGG\n')
  # Centre of 1-based 5..6 is 0-based 5; a 20-bp window is -5..15.
  window = client.fasta_window(str(fasta), 'chrA:5-6', 20)
  assert window == 'NNNNN' + 'ACGTacgtNNACGTa'
  # Off the right end.
  assert client.fasta_window(str(fasta), 'chrB:4', 8) == 'NGGGGNNN'
  assert len(client.fasta_window(str(fasta), 'chrA:25', 1024)) == 1024
  with pytest.raises(ValueError, match="no sequence named 'chrC'"):
    client.fasta_window(str(fasta), 'chrC:1', 8)


def test_one_hot_and_rest_outputs():
  client = load_client()
  np.testing.assert_array_equal(
      client.one_hot('ACgtN-'),
      [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0] * 4,
       [0] * 4])
  single = client.rest_outputs({'predictions': [[[1.0, 2.0]]]}, ['human'])
  assert single['human'].shape == (1, 1, 2)
  several = client.rest_outputs(
      {'predictions': [{'human': [[1.0]], 'mouse': [[2.0, 3.0]]}] * 2},
      ['human', 'mouse'])
  assert several['human'].shape == (2, 1, 1)
  assert several['mouse'].shape == (2, 1, 2)
