"""`statistics.json`: the sizes and counts of a data directory, checked
(`validate_statistics`), read (`read_statistics`) and written
(`write_statistics`).
"""
import json
import os
from typing import Any, Dict, Mapping

import tensorflow as tf

from enformer_tf import atomic
from enformer_tf.data.basenji.files import STATISTICS_FILE

_POSITIVE_KEYS = ('num_targets', 'seq_length', 'pool_width', 'target_length')
_NON_NEGATIVE_KEYS = ('train_seqs', 'valid_seqs', 'test_seqs', 'crop_bp')
REQUIRED_KEYS = ('num_targets', 'train_seqs', 'valid_seqs', 'test_seqs',
                 'seq_length', 'pool_width', 'crop_bp', 'target_length')


def validate_statistics(statistics: Mapping[str, Any],
                        source: str = 'statistics') -> Dict[str, Any]:
  """Checks a statistics dict; returns a copy with `seq_1hot` filled in.

  Args:
    statistics: the parsed `statistics.json`.
    source: named at the start of every error message (the file path).

  Returns:
    A new dict with the same entries and `seq_1hot` (default False).

  Raises:
    ValueError: a required key is missing, not an int (bools are not ints
      here), not positive (`num_targets, seq_length, pool_width,
      target_length`) or negative (`*_seqs, crop_bp`); `seq_1hot` is not a
      bool; `seq_depth`, if present, is not 4; or `target_length` differs
      from `(seq_length - 2 * crop_bp) // pool_width`, the relation the
      Basenji writers use (131072 - 2 * 8192 = 896 * 128 for Enformer).
  """
  if not isinstance(statistics, Mapping):
    raise ValueError(f'{source}: expected a JSON object; got '
                     f'{type(statistics).__name__}.')
  for key in REQUIRED_KEYS:
    if key not in statistics:
      raise ValueError(f'{source}: missing key {key!r}')
    value = statistics[key]
    if isinstance(value, bool) or not isinstance(value, int):
      raise ValueError(f'{source}: key {key!r} must be an integer; got '
                       f'{type(value).__name__} {value!r}')
    if key in _POSITIVE_KEYS and value <= 0:
      raise ValueError(f'{source}: key {key!r} must be positive; got {value}')
    if key in _NON_NEGATIVE_KEYS and value < 0:
      raise ValueError(f'{source}: key {key!r} must be >= 0; got {value}')
  seq_1hot = statistics.get('seq_1hot', False)
  if not isinstance(seq_1hot, bool):
    raise ValueError(f'{source}: key \'seq_1hot\' must be true or false; got '
                     f'{type(seq_1hot).__name__} {seq_1hot!r}')
  if 'seq_depth' in statistics and statistics['seq_depth'] != 4:
    raise ValueError(f'{source}: key \'seq_depth\' must be 4 (A, C, G, T); '
                     f'got {statistics["seq_depth"]!r}')
  seq_length = statistics['seq_length']
  crop_bp = statistics['crop_bp']
  pool_width = statistics['pool_width']
  target_length = statistics['target_length']
  if 2 * crop_bp >= seq_length:
    raise ValueError(f'{source}: crop_bp={crop_bp} leaves nothing of '
                     f'seq_length={seq_length}; expected 2 * crop_bp < '
                     f'seq_length')
  expected = (seq_length - 2 * crop_bp) // pool_width
  if target_length != expected:
    raise ValueError(
        f'{source}: target_length={target_length} is inconsistent with '
        f'(seq_length - 2 * crop_bp) // pool_width = ({seq_length} - 2 * '
        f'{crop_bp}) // {pool_width} = {expected}')
  result = dict(statistics)
  result['seq_1hot'] = seq_1hot
  return result


def read_statistics(data_dir: str) -> Dict[str, Any]:
  """Reads and validates `data_dir/statistics.json`.

  Args:
    data_dir: organism directory (local path or any `tf.io.gfile` URL, e.g.
      `gs://`).

  Returns:
    The statistics dict, `seq_1hot` filled in (default False).

  Raises:
    FileNotFoundError: there is no statistics.json.
    ValueError: it is not JSON or fails `validate_statistics`; the message
      starts with the file path and names the key.
  """
  path = os.path.join(data_dir, STATISTICS_FILE)
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(f'{path}: no such file; expected the dataset\'s '
                            f'statistics.json')
  with tf.io.gfile.GFile(path, 'rb') as f:
    data = f.read()
  try:
    statistics = json.loads(data.decode('utf-8'))
  except (json.JSONDecodeError, UnicodeDecodeError) as e:
    raise ValueError(f'{path}: not valid JSON ({e})') from None
  return validate_statistics(statistics, path)


def write_statistics(data_dir: str, **statistics) -> str:
  """Validates and writes `data_dir/statistics.json` atomically.

  Args:
    data_dir: organism directory; created if missing.
    **statistics: the keys of `REQUIRED_KEYS`, optionally `seq_1hot` and
      any others (written as given).

  Returns:
    The path written.

  Raises:
    ValueError: as `validate_statistics`, naming the file.
  """
  path = os.path.join(data_dir, STATISTICS_FILE)
  validate_statistics(statistics, path)
  tf.io.gfile.makedirs(data_dir)
  atomic.write_atomically(path, json.dumps(statistics, indent=4) + '\n')
  return path
