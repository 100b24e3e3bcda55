"""TF Serving warm-up requests: one batch-1 request per signature.

TF Serving runs `<version>/assets.extra/tf_serving_warmup_requests` (a
TFRecord of `PredictionLog`s) before it serves a new version, so the first
real request does not pay for tracing and memory allocation.
"""
import os
from typing import Dict, List, Sequence

import numpy as np
import tensorflow as tf

from enformer_tf.export import signatures as signatures_lib

WARMUP_FILE = os.path.join('assets.extra', 'tf_serving_warmup_requests')
DEFAULT_MODEL_NAME = 'enformer'


def warmup_inputs(name: str, sequence_length: int,
                  seed: int = 0) -> Dict[str, np.ndarray]:
  """One batch-1 input for signature `name`: random ACGT DNA."""
  rng = np.random.RandomState(seed)
  codes = rng.randint(0, 4, sequence_length)  # [L]
  if name == signatures_lib.DNA_INPUT or name.endswith(
      signatures_lib.DNA_SUFFIX):
    dna = np.frombuffer(b'ACGT', np.uint8)[codes].tobytes()
    return {signatures_lib.DNA_INPUT: np.array([dna], dtype=object)}
  one_hot = np.eye(4, dtype=np.float32)[codes][np.newaxis]  # [1, L, 4]
  return {signatures_lib.SEQUENCE_INPUT: one_hot}


def warmup_records(signature_names: Sequence[str], sequence_length: int,
                   model_name: str = DEFAULT_MODEL_NAME) -> List[bytes]:
  """Serialized `PredictionLog`s, one `PredictRequest` per signature."""
  # Imported here: only exporting needs the serving protos.
  from tensorflow_serving.apis import (model_pb2, predict_pb2,
                                       prediction_log_pb2)
  records = []
  for name in signature_names:
    request = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(name=model_name, signature_name=name))
    for key, value in warmup_inputs(name, sequence_length).items():
      request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    log = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request))
    records.append(log.SerializeToString())
  return records


def write_warmup_requests(directory: str, signature_names: Sequence[str],
                          sequence_length: int,
                          model_name: str = DEFAULT_MODEL_NAME) -> None:
  """Writes `directory/WARMUP_FILE` for the SavedModel in `directory`.

  `directory` is the unpublished version directory, so the file needs no
  atomic write of its own.
  """
  path = os.path.join(directory, WARMUP_FILE)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with tf.io.TFRecordWriter(path) as writer:
    for record in warmup_records(signature_names, sequence_length,
                                 model_name):
      writer.write(record)
