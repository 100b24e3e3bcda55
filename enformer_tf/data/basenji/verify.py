"""Diagnosing a data directory: every record of every file read
(`verify_tfrecords`), or just the counts (`describe`).
"""
import re
from typing import Any, Dict, NamedTuple, Optional, Sequence

import tensorflow as tf

from enformer_tf.constants import SPLITS
from enformer_tf.data.basenji.files import (COMPRESSION, check_split,
                                            numbered_files)
from enformer_tf.data.basenji.statistics import read_statistics


def _clean_message(message: str) -> str:
  """TensorFlow's error message without its function-node decorations."""
  message = re.sub(r'\{\{function_node [^}]*\}\}\s*', '', message)
  return re.sub(r'\s*\[Op:[^\]]*\].*$', '', message, flags=re.S).strip()


class FileCheck(NamedTuple):
  """Result of reading one TFRecord file: records read, error or None."""
  records: int
  error: Optional[str]


def verify_tfrecords(data_dir: str,
                     splits: Sequence[str] = SPLITS) -> Dict[str, FileCheck]:
  """Reads every record of every file; slow, for diagnosing bad files.

  Args:
    data_dir: organism directory.
    splits: splits to check; splits without files are left out.

  Returns:
    path -> `FileCheck(records, error)`: `error` is TensorFlow's message
    (e.g. 'truncated record at ...', 'inflate() failed ...') or None.
  """
  results = {}
  for split in splits:
    check_split(split)
    for _, path in numbered_files(data_dir, split):
      count, error = 0, None
      dataset = tf.data.TFRecordDataset(path, COMPRESSION).map(
          tf.strings.length)
      try:
        for _ in dataset:
          count += 1
      except tf.errors.OpError as e:
        error = f'{type(e).__name__}: {_clean_message(e.message)}'
      results[path] = FileCheck(count, error)
  return results


def describe(data_dir: str) -> Dict[str, Any]:
  """Statistics and per-split file counts, without reading any record.

  Returns:
    `{'statistics': dict, 'splits': {split: {'files': int, 'sequences':
    int}}}` where `sequences` is the count from statistics.json.
  """
  statistics = read_statistics(data_dir)
  splits = {split: {'files': len(numbered_files(data_dir, split)),
                    'sequences': statistics[f'{split}_seqs']}
            for split in SPLITS}
  return {'statistics': statistics, 'splits': splits}
