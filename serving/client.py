#!/usr/bin/env python3
"""A small TF Serving client for an exported Enformer: gRPC and REST.

Sends DNA (a FASTA region centred in the model's window, or a random
sequence) to a running `tensorflow_model_server` and prints each output's
shape, dtype and a few values.

    # gRPC (port 8500), the human head, a region of a genome FASTA:
    python serving/client.py --grpc localhost:8500 --signature human_dna \\
        --fasta hg38.fa --region chr11:5,248,000-5,249,000

    # REST (port 8501), all heads, a random sequence:
    python serving/client.py --rest http://localhost:8501 --signature dna \\
        --random

The sequence length is read from the model's metadata (the `sequence` input
of `serving_default` is `[-1, L, 4]`) unless `--sequence_length` is given.
A region is centred in an `L`-bp window; positions beyond the chromosome ends
are `N`. Signatures whose name ends in `_dna` (and `dna`) take strings;
the others take one-hot float32, which this client encodes (N = zeros).

Needs numpy and tensorflow-serving-api (which brings grpcio and TensorFlow);
pyfaidx is used for FASTA files when installed, otherwise a plain reader.
This file is standalone: it does not import enformer_tf.
"""
import argparse
import json
import re
import sys
import urllib.error
import urllib.request
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

DNA_INPUT = 'dna'
SEQUENCE_INPUT = 'sequence'
# gRPC's default limit on a received message is 4 MiB; one full-size human
# response is 19 MB in float32.
GRPC_MAX_MESSAGE_BYTES = 1 << 30
DEFAULT_TIMEOUT_S = 600.0


def is_dna_signature(signature: str) -> bool:
  return signature == DNA_INPUT or signature.endswith('_dna')


# -- Sequences -----------------------------------------------------------------


def random_dna(length: int, seed: int = 0) -> str:
  """A random ACGT string."""
  codes = np.random.RandomState(seed).randint(0, 4, length)
  return np.frombuffer(b'ACGT', np.uint8)[codes].tobytes().decode('ascii')


def parse_region(region: str) -> Tuple[str, int, int]:
  """`chr1:1,000-2,000` (1-based, inclusive) or `chr1:1500` -> 0-based [s, e).

  Raises:
    ValueError: not `CHROM:START-END` or `CHROM:POSITION`.
  """
  match = re.fullmatch(r'\s*([^:\s]+):([\d,]+)(?:-([\d,]+))?\s*', region)
  if not match:
    raise ValueError(f'region {region!r} is not CHROM:START-END or '
                     'CHROM:POSITION (1-based), e.g. '
                     'chr11:5,248,000-5,249,000.')
  chrom = match.group(1)
  start = int(match.group(2).replace(',', ''))
  end = int((match.group(3) or match.group(2)).replace(',', ''))
  if start < 1 or end < start:
    raise ValueError(f'region {region!r}: expected 1 <= START <= END.')
  return chrom, start - 1, end


def centred_window(start: int, end: int, length: int) -> Tuple[int, int]:
  """The `length`-bp window centred on `[start, end)` (0-based, half-open)."""
  centre = (start + end) // 2
  window_start = centre - length // 2
  return window_start, window_start + length


def _fasta_reader(path: str):
  """`chrom -> (length, fetch(start, end))`, with pyfaidx when available."""
  try:
    import pyfaidx
  except ImportError:
    pyfaidx = None
  if pyfaidx is not None:
    fasta = pyfaidx.Fasta(path, as_raw=True, sequence_always_upper=False)

    def lookup(chrom):
      if chrom not in fasta:
        return None
      record = fasta[chrom]
      return len(record), lambda s, e: str(record[s:e])
    return lookup

  records: Dict[str, List[str]] = {}
  name = None
  with open(path, encoding='ascii') as f:
    for line in f:
      line = line.strip()
      if line.startswith('>'):
        name = line[1:].split()[0]
        records[name] = []
      elif name is not None:
        records[name].append(line)
  joined = {k: ''.join(v) for k, v in records.items()}

  def lookup(chrom):
    if chrom not in joined:
      return None
    sequence = joined[chrom]
    return len(sequence), lambda s, e: sequence[s:e]
  return lookup


def fasta_window(path: str, region: str, length: int) -> str:
  """The `length`-bp sequence centred on `region`; `N` beyond the ends.

  Letters other than A, C, G, T (IUPAC ambiguity codes) become `N`.

  Raises:
    ValueError: a malformed region or a chromosome not in the FASTA.
  """
  chrom, start, end = parse_region(region)
  found = _fasta_reader(path)(chrom)
  if found is None:
    raise ValueError(f'{path} has no sequence named {chrom!r}.')
  chrom_length, fetch = found
  window_start, window_end = centred_window(start, end, length)
  left = max(0, -window_start)
  right = max(0, window_end - chrom_length)
  inside = fetch(max(window_start, 0), min(window_end, chrom_length))
  # IUPAC codes (R, Y, ...) occur in some assemblies; the DNA signatures
  # accept only A, C, G, T, N.
  inside = re.sub('[^ACGTNacgtn]', 'N', inside)
  return 'N' * left + inside + 'N' * right


def one_hot(dna: str) -> np.ndarray:
  """`[L, 4]` float32, columns A, C, G, T; any other letter is zeros."""
  table = np.zeros((256, 4), np.float32)
  for i, base in enumerate('ACGT'):
    table[ord(base), i] = table[ord(base.lower()), i] = 1.0
  return table[np.frombuffer(dna.encode('ascii'), np.uint8)]


# -- Requests ------------------------------------------------------------------


def predict_request(signature: str, sequences: Sequence[str],
                    model_name: str = 'enformer'):
  """A gRPC `PredictRequest` for `signature` with a batch of sequences."""
  import tensorflow as tf
  from tensorflow_serving.apis import predict_pb2

  request = predict_pb2.PredictRequest()
  request.model_spec.name = model_name
  request.model_spec.signature_name = signature
  if is_dna_signature(signature):
    value = np.array([s.encode('ascii') for s in sequences], dtype=object)
    request.inputs[DNA_INPUT].CopyFrom(tf.make_tensor_proto(value))
  else:
    value = np.stack([one_hot(s) for s in sequences])  # [B, L, 4]
    request.inputs[SEQUENCE_INPUT].CopyFrom(tf.make_tensor_proto(value))
  return request


def rest_body(signature: str, sequences: Sequence[str]) -> str:
  """A REST `:predict` body in the row ("instances") format.

  The row format's response is written one line per instance, the columnar
  ("inputs") format's one value per line, several times larger.
  """
  if is_dna_signature(signature):
    instances = [{DNA_INPUT: s} for s in sequences]
  else:
    instances = [{SEQUENCE_INPUT: one_hot(s).astype(np.int8).tolist()}
                 for s in sequences]
  return json.dumps({'signature_name': signature, 'instances': instances},
                    separators=(',', ':'))


def rest_outputs(response: dict, signature_outputs: Sequence[str]
                 ) -> Dict[str, np.ndarray]:
  """Arrays from a row-format REST response.

  TF Serving leaves the output names out when a signature has one output
  (`predictions` is then a list of bare values).
  """
  predictions = response['predictions']
  if predictions and isinstance(predictions[0], dict):
    return {k: np.array([p[k] for p in predictions], np.float32)
            for k in predictions[0]}
  if len(signature_outputs) != 1:
    raise ValueError('A response without output names for a signature with '
                     f'outputs {list(signature_outputs)}.')
  return {signature_outputs[0]: np.array(predictions, np.float32)}


# -- Talking to the server -----------------------------------------------------


def grpc_channel(address: str):
  import grpc
  return grpc.insecure_channel(address, options=[
      ('grpc.max_receive_message_length', GRPC_MAX_MESSAGE_BYTES),
      ('grpc.max_send_message_length', GRPC_MAX_MESSAGE_BYTES)])


def grpc_signature_defs(channel, model_name: str):
  """The model's `SignatureDef`s (gRPC `GetModelMetadata`)."""
  from tensorflow_serving.apis import (get_model_metadata_pb2,
                                       prediction_service_pb2_grpc)
  request = get_model_metadata_pb2.GetModelMetadataRequest()
  request.model_spec.name = model_name
  request.metadata_field.append('signature_def')
  stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
  response = stub.GetModelMetadata(request, timeout=60)
  signature_map = get_model_metadata_pb2.SignatureDefMap()
  response.metadata['signature_def'].Unpack(signature_map)
  return signature_map.signature_def


def predict_grpc(channel, signature: str, sequences: Sequence[str],
                 model_name: str = 'enformer',
                 timeout: float = DEFAULT_TIMEOUT_S) -> Dict[str, np.ndarray]:
  import tensorflow as tf
  from tensorflow_serving.apis import prediction_service_pb2_grpc
  stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
  response = stub.Predict(predict_request(signature, sequences, model_name),
                          timeout=timeout)
  return {k: tf.make_ndarray(v) for k, v in response.outputs.items()}


def _rest_call(url: str, body: Optional[bytes], timeout: float) -> dict:
  request = urllib.request.Request(
      url, data=body, headers={'Content-Type': 'application/json'})
  try:
    with urllib.request.urlopen(request, timeout=timeout) as response:
      return json.loads(response.read())
  except urllib.error.HTTPError as e:
    detail = e.read().decode('utf-8', 'replace')
    try:
      detail = json.loads(detail)['error']
    except (ValueError, KeyError):
      pass
    raise RuntimeError(f'{url}: HTTP {e.code}: {detail}') from None


def rest_signature_defs(base_url: str, model_name: str) -> dict:
  """The model's signature defs as JSON (REST `.../metadata`)."""
  metadata = _rest_call(f'{base_url}/v1/models/{model_name}/metadata', None,
                        60)
  return metadata['metadata']['signature_def']['signature_def']


def predict_rest(base_url: str, signature: str, sequences: Sequence[str],
                 output_names: Sequence[str], model_name: str = 'enformer',
                 timeout: float = DEFAULT_TIMEOUT_S) -> Dict[str, np.ndarray]:
  body = rest_body(signature, sequences).encode('ascii')
  response = _rest_call(f'{base_url}/v1/models/{model_name}:predict', body,
                        timeout)
  return rest_outputs(response, output_names)


def _dim_sizes(tensor_info) -> List[int]:
  """Dimension sizes from a TensorInfo proto or its JSON form."""
  if isinstance(tensor_info, dict):
    return [int(d['size']) for d in tensor_info['tensor_shape']['dim']]
  return [d.size for d in tensor_info.tensor_shape.dim]


def sequence_length_from(signature_defs) -> int:
  """`L` from the `sequence` input `[-1, L, 4]` of `serving_default`."""
  default = signature_defs['serving_default']
  inputs = default['inputs'] if isinstance(default, dict) else default.inputs
  return _dim_sizes(inputs[SEQUENCE_INPUT])[1]


def output_names_from(signature_defs, signature: str) -> List[str]:
  if signature not in signature_defs:
    raise ValueError(f'The model has no signature {signature!r}; it has '
                     f'{sorted(signature_defs)}.')
  definition = signature_defs[signature]
  outputs = (definition['outputs'] if isinstance(definition, dict)
             else definition.outputs)
  return sorted(outputs)


# -- Command line --------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      description='Send DNA to an Enformer on TF Serving; print the outputs.')
  server = parser.add_mutually_exclusive_group(required=True)
  server.add_argument('--grpc', metavar='HOST:PORT',
                      help='gRPC address, e.g. localhost:8500')
  server.add_argument('--rest', metavar='URL',
                      help='REST base URL, e.g. http://localhost:8501')
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument('--random', action='store_true',
                      help='send random ACGT sequences')
  source.add_argument('--region', help='CHROM:START-END or CHROM:POS '
                      '(1-based), centred in the window; needs --fasta')
  parser.add_argument('--fasta', help='genome FASTA for --region')
  parser.add_argument('--model_name', default='enformer')
  parser.add_argument('--signature', default='dna',
                      help='e.g. dna, human_dna, serving_default, human, '
                      'embeddings_dna (default dna)')
  parser.add_argument('--sequence_length', type=int, default=None,
                      help='default: read from the model metadata')
  parser.add_argument('--batch', type=int, default=1,
                      help='copies of the sequence to send (random: '
                      'different sequences)')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--timeout', type=float, default=DEFAULT_TIMEOUT_S,
                      help='seconds (a full-size CPU prediction takes ~12 s '
                      'per sequence)')
  parser.add_argument('--show', type=int, default=5,
                      help='values to print per output (centre bin)')
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  if args.region and not args.fasta:
    print('client.py: error: --region needs --fasta', file=sys.stderr)
    return 2
  try:
    if args.grpc:
      channel = grpc_channel(args.grpc)
      definitions = grpc_signature_defs(channel, args.model_name)
    else:
      base_url = args.rest.rstrip('/')
      definitions = rest_signature_defs(base_url, args.model_name)
    output_names = output_names_from(definitions, args.signature)
    length = args.sequence_length or sequence_length_from(definitions)
    if args.random:
      sequences = [random_dna(length, args.seed + i)
                   for i in range(args.batch)]
    else:
      sequences = [fasta_window(args.fasta, args.region, length)] * args.batch
    if args.grpc:
      outputs = predict_grpc(channel, args.signature, sequences,
                             args.model_name, args.timeout)
    else:
      outputs = predict_rest(base_url, args.signature, sequences,
                             output_names, args.model_name, args.timeout)
  except Exception as e:  # pylint: disable=broad-except
    message = str(e).strip().splitlines()
    print(f'client.py: error: {type(e).__name__}: '
          f'{message[0] if message else ""}', file=sys.stderr)
    return 1
  print(f'{args.signature}: {len(sequences)} sequence(s) of {length:,} bp')
  for name, value in sorted(outputs.items()):
    centre = value[0, value.shape[1] // 2, :args.show]
    print(f'  {name}: shape {list(value.shape)} {value.dtype}, mean '
          f'{float(np.mean(value)):.4g}; centre bin, first {len(centre)}: '
          f'{np.round(centre.astype(np.float64), 4).tolist()}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
