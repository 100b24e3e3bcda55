"""The serving kit's request example and client against the tiny export.

`rest_request_example.json` runs on the loaded SavedModel; `client.py`
talks to stand-ins for tensorflow_model_server's gRPC and REST APIs that run
the export through TensorFlow's C++ session, as TF Serving does.
"""
import http.server
import json
import os
import threading
from concurrent import futures

import numpy as np
import pytest
import tensorflow as tf

import exported_models
from reliability import tiny_serving
from reliability.tiny_serving import (BINS, HEADS, KIT, L, load_client,
                                      one_hot, random_codes)


def dna_strings(codes):
  return [s.decode() for s in tiny_serving.dna_bytes(codes)]


def expected_outputs(model, x, name):
  """What signature `name` must return for one-hot `x`."""
  base = name[:-len('_dna')] if name.endswith('_dna') else name
  if base in ('serving_default', 'dna'):
    return {k: v.numpy() for k, v in model(x, training=False).items()}
  if base == 'embeddings':
    return {'embeddings': model.embed(x, training=False).numpy()}
  return {base: model.predict_head(x, base, training=False).numpy()}


@pytest.fixture(scope='module')
def model():
  return exported_models.tiny_twin()  # Shared; only called.


# The run's shared tiny export (tiny_serving.tiny_model() with every export
# default), one load and one session of it per process.
@pytest.fixture(scope='module')
def loaded(tmp_path_factory):
  return exported_models.tiny_loaded(tmp_path_factory)


@pytest.fixture(scope='module')
def session(tmp_path_factory):
  return exported_models.tiny_session(tmp_path_factory)


def test_rest_request_example_runs(loaded):
  with open(os.path.join(KIT, 'rest_request_example.json')) as f:
    body = json.load(f)
  name = body['signature_name']
  dna = [instance['dna'] for instance in body['instances']]
  assert all(len(s) == L for s in dna)
  result = loaded.signatures[name](dna=tf.constant(dna))
  assert {k: v.shape for k, v in result.items()} == {
      'human': (len(dna), BINS, HEADS['human'])}


def _session_outputs(session, request):
  inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
  return session.run(request.model_spec.signature_name, inputs)


@pytest.fixture(scope='module')
def grpc_server(session):
  """A stand-in for tensorflow_model_server's gRPC API on the export."""
  import grpc
  from tensorflow_serving.apis import (get_model_metadata_pb2, predict_pb2,
                                       prediction_service_pb2_grpc)

  class Service(prediction_service_pb2_grpc.PredictionServiceServicer):

    def Predict(self, request, context):
      try:
        outputs = _session_outputs(session, request)
      except tf.errors.InvalidArgumentError as e:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, e.message)
      response = predict_pb2.PredictResponse()
      for key, value in outputs.items():
        response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
      return response

    def GetModelMetadata(self, request, context):
      signature_map = get_model_metadata_pb2.SignatureDefMap()
      for key, value in session.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(value)
      response = get_model_metadata_pb2.GetModelMetadataResponse()
      response.model_spec.CopyFrom(request.model_spec)
      response.metadata['signature_def'].Pack(signature_map)
      return response

  server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
      Service(), server)
  port = server.add_insecure_port('localhost:0')
  server.start()
  yield f'localhost:{port}'
  server.stop(None)


@pytest.fixture(scope='module')
def rest_server(session):
  """A stand-in for tensorflow_model_server's REST API (row format)."""
  from google.protobuf import json_format
  from tensorflow_serving.apis import get_model_metadata_pb2

  class Handler(http.server.BaseHTTPRequestHandler):

    def _reply(self, code, body):
      data = json.dumps(body).encode()
      self.send_response(code)
      self.send_header('Content-Type', 'application/json')
      self.send_header('Content-Length', str(len(data)))
      self.end_headers()
      self.wfile.write(data)

    def do_GET(self):  # .../metadata
      signature_map = get_model_metadata_pb2.SignatureDefMap()
      for key, value in session.signature_defs.items():
        signature_map.signature_def[key].CopyFrom(value)
      self._reply(200, {'metadata': {
          'signature_def': json_format.MessageToDict(
              signature_map, preserving_proto_field_name=True)}})

    def do_POST(self):  # ...:predict
      body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
      name = body['signature_name']
      inputs = {}
      for key in body['instances'][0]:
        values = [instance[key] for instance in body['instances']]
        inputs[key] = (np.array(values, dtype=object) if key == 'dna'
                       else np.array(values, np.float32))
      try:
        outputs = session.run(name, inputs)
      except tf.errors.InvalidArgumentError as e:
        return self._reply(400, {'error': e.message})
      if len(outputs) == 1:
        predictions = next(iter(outputs.values())).tolist()
      else:
        predictions = [{k: v[i].tolist() for k, v in outputs.items()}
                       for i in range(len(body['instances']))]
      self._reply(200, {'predictions': predictions})

    def log_message(self, *args):
      pass

  server = http.server.ThreadingHTTPServer(('localhost', 0), Handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield f'http://localhost:{server.server_address[1]}'
  server.shutdown()


def test_client_grpc_request_equals_the_model(model, grpc_server):
  client = load_client()
  channel = client.grpc_channel(grpc_server)
  definitions = client.grpc_signature_defs(channel, 'enformer')
  assert client.sequence_length_from(definitions) == L
  codes = random_codes(2, seed=9)
  for name in ('human_dna', 'serving_default', 'embeddings'):
    outputs = client.predict_grpc(channel, name, dna_strings(codes))
    for key, value in expected_outputs(model, one_hot(codes), name).items():
      np.testing.assert_allclose(outputs[key], value, atol=1e-5, rtol=0)


def test_client_rest_request_equals_the_model(model, rest_server):
  client = load_client()
  definitions = client.rest_signature_defs(rest_server, 'enformer')
  assert client.sequence_length_from(definitions) == L
  codes = random_codes(2, seed=10)
  for name in ('dna', 'mouse_dna', 'human'):
    names = client.output_names_from(definitions, name)
    outputs = client.predict_rest(rest_server, name, dna_strings(codes),
                                  names)
    for key, value in expected_outputs(model, one_hot(codes), name).items():
      np.testing.assert_allclose(outputs[key], value, atol=1e-5, rtol=0)
  with pytest.raises(RuntimeError, match='exactly 1024 letters'):
    client.predict_rest(rest_server, 'dna', ['ACGT'], ['human', 'mouse'])


def test_client_main_with_a_fasta_region(grpc_server, rest_server, tmp_path,
                                         capsys):
  client = load_client()
  fasta = tmp_path / 'genome.fa'
  chrom = dna_strings(random_codes(1, seed=11))[0][:700].lower()
  fasta.write_text('>chrT test\n' + '\n'.join(
      chrom[i:i + 60] for i in range(0, len(chrom), 60)) + '\n')
  assert client.main(['--grpc', grpc_server, '--signature', 'human_dna',
                      '--fasta', str(fasta), '--region', 'chrT:300-400']) == 0
  assert client.main(['--rest', rest_server, '--signature', 'dna',
                      '--random', '--batch', '2']) == 0
  out = capsys.readouterr().out
  assert 'human: shape [1, 4, 5] float32' in out
  assert 'mouse: shape [2, 4, 3] float32' in out
  assert client.main(['--grpc', grpc_server, '--signature', 'zebrafish',
                      '--random']) == 1
  assert 'no signature' in capsys.readouterr().err
