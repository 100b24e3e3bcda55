"""The files of a Basenji2 data directory: their names, the TFRecord
format constants, and which `{split}-{i}.tfr` files a split has.
"""
import logging
import os
import re
from typing import List, Tuple

import numpy as np
import tensorflow as tf

from enformer_tf.constants import SPLITS

STATISTICS_FILE = 'statistics.json'
TFRECORDS_DIR = 'tfrecords'
COMPRESSION = 'ZLIB'
SEQUENCE_FEATURE = 'sequence'
TARGET_FEATURE = 'target'
FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504

_log = logging.getLogger(__name__)


def check_split(split: str) -> None:
  """Raises ValueError unless `split` is one of `SPLITS`."""
  if split not in SPLITS:
    raise ValueError(f'split must be one of {SPLITS}; got {split!r}.')


def numbered_files(data_dir: str, split: str) -> List[Tuple[int, str]]:
  """`(i, path)` of `data_dir/tfrecords/{split}-{i}.tfr`, sorted by `i`."""
  pattern = os.path.join(data_dir, TFRECORDS_DIR, f'{split}-*.tfr')
  name = re.compile(rf'{re.escape(split)}-(\d+)\.tfr')
  numbered = []
  for path in tf.io.gfile.glob(pattern):
    match = name.fullmatch(os.path.basename(path))
    if match is None:
      _log.warning('ignoring %s: not named %s-<number>.tfr', path, split)
      continue
    numbered.append((int(match.group(1)), path))
  return sorted(numbered)


def tfrecord_paths(data_dir: str, split: str) -> List[str]:
  """The TFRecord files of a split, in numeric order.

  Args:
    data_dir: organism directory.
    split: `'train'`, `'valid'` or `'test'`.

  Returns:
    Paths `data_dir/tfrecords/{split}-{i}.tfr` sorted by the integer `i`.

  Raises:
    ValueError: `split` is not one of `SPLITS`.
    FileNotFoundError: the split has no files.
  """
  check_split(split)
  numbered = numbered_files(data_dir, split)
  if not numbered:
    pattern = os.path.join(data_dir, TFRECORDS_DIR, f'{split}-*.tfr')
    raise FileNotFoundError(f'{pattern}: no TFRecord files for split '
                            f'{split!r}')
  numbers = [i for i, _ in numbered]
  if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
    missing = sorted(set(range(numbers[0], numbers[-1])) - set(numbers))
    _log.warning('%s split %r: file numbers are not contiguous (missing %s)',
                 data_dir, split, missing[:10])
  return [path for _, path in numbered]
