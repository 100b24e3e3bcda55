"""One tiny exported Enformer shared by the reliability tests.

Exporting even a tiny Enformer traces every signature (about 20 s on a busy
CPU), so the first test module that needs it exports it into the session's
temporary directory and the others reuse it. Tests that change files in the
export copy it first (`private_copy`).
"""
import os
import shutil

import numpy as np

from session_runner import SessionRunner

L = 1024  # Sequence length in bp.
BINS = 4
HEADS = {'human': 5, 'mouse': 3}
TINY = dict(channels=48, num_transformer_layers=1, num_heads=2, heads=HEADS,
            target_length=BINS, sequence_length=L, conv_tower_divisible_by=8)
EMBEDDING_SIZE = 2 * TINY['channels']
SEQUENCE_SIGNATURES = ('serving_default', 'human', 'mouse', 'embeddings')
DNA_SIGNATURES = ('dna', 'human_dna', 'mouse_dna', 'embeddings_dna')
# The one-hot signature computing the same outputs as each DNA signature.
ONE_HOT_TWIN = {'dna': 'serving_default', 'human_dna': 'human',
                'mouse_dna': 'mouse', 'embeddings_dna': 'embeddings'}
_SHARED_DIR = 'reliability_tiny_export'


def tiny_model(seed: int = 0):
  """The tiny Enformer, built, every weight random (see random_weights)."""
  from enformer_tf import Enformer
  from random_weights import randomise_weights
  model = Enformer(**TINY)
  model.build((None, L, 4))
  randomise_weights(model, seed)
  return model


def shared_export(tmp_path_factory) -> str:
  """The version directory of the session's tiny export; exports it once.

  Do not modify it: use `private_copy` for tests that plant files.
  """
  from enformer_tf.export import export_saved_model
  export_dir = os.path.join(str(tmp_path_factory.getbasetemp()), _SHARED_DIR)
  version_dir = os.path.join(export_dir, '1')
  if not os.path.exists(os.path.join(version_dir, 'saved_model.pb')):
    export_saved_model(tiny_model(), export_dir, version=1, overwrite=True,
                       warmup_requests=False)
  return version_dir


def private_copy(version_dir: str, destination: str) -> str:
  """A copy of an export that a test may change; returns its path."""
  shutil.copytree(version_dir, destination)
  return destination


def random_codes(batch: int, seed: int = 0) -> np.ndarray:
  """int `[batch, L]`: random base codes 0..3 (A, C, G, T)."""
  return np.random.RandomState(seed).randint(0, 4, (batch, L))


def one_hot(codes: np.ndarray) -> np.ndarray:
  """`[..., L]` codes 0..3 (A, C, G, T), 4 = N -> `[..., L, 4]` float32."""
  return np.eye(5, 4, dtype=np.float32)[codes]


def dna_bytes(codes: np.ndarray) -> list:
  """`[B, L]` codes -> B DNA strings as bytes (upper case ACGTN)."""
  letters = np.frombuffer(b'ACGTN', np.uint8)
  return [letters[row].tobytes() for row in codes]


_LOADED = {}


def shared_loaded(tmp_path_factory):
  """`tf.saved_model.load` of the shared export, loaded once per session."""
  import tensorflow as tf
  path = shared_export(tmp_path_factory)
  if path not in _LOADED:
    _LOADED[path] = tf.saved_model.load(path)
  return _LOADED[path]


def shared_session(tmp_path_factory) -> SessionRunner:
  """A `SessionRunner` on the shared export, opened once per session."""
  path = shared_export(tmp_path_factory)
  key = ('session', path)
  if key not in _LOADED:
    _LOADED[key] = SessionRunner(path)
  return _LOADED[key]
