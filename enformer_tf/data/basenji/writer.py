"""Writing Basenji2 TFRecords (`write_tfrecords`): examples encoded as
calico's readers expect, shards renamed into place only when all are
written.
"""
import logging
import os
import uuid
from typing import Any, Dict, Iterable, List, Tuple

import numpy as np
import tensorflow as tf

from enformer_tf.data import encoding
from enformer_tf.data.basenji.files import (COMPRESSION, FLOAT16_MAX,
                                            SEQUENCE_FEATURE, TARGET_FEATURE,
                                            TFRECORDS_DIR, check_split,
                                            numbered_files)

_log = logging.getLogger(__name__)


def _bytes_feature(value: bytes) -> tf.train.Feature:
  return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _encode_example(number: int, sequence, target, seq_1hot: bool,
                    shapes: Dict[str, Tuple[int, ...]]) -> bytes:
  """One serialized example; `shapes` holds example 0's shapes."""
  try:
    if isinstance(sequence, (str, bytes, bytearray)):
      indices = encoding.sequence_to_indices(sequence)  # [L]
    else:
      sequence = np.asarray(sequence)
      if sequence.ndim != 2 or sequence.shape[-1] != 4:
        raise ValueError(f'sequence must be one-hot [L, 4] or a str; got '
                         f'shape {sequence.shape}.')
      indices = encoding.one_hot_to_indices(sequence)  # [L]
  except ValueError as e:
    raise ValueError(f'example {number}: {e}') from None
  target = np.asarray(target)
  if target.ndim != 2 or not (np.issubdtype(target.dtype, np.number)
                              or target.dtype == np.bool_):
    raise ValueError(f'example {number}: target must be a numeric '
                     f'[target_length, num_targets] array; got shape '
                     f'{target.shape}, dtype {target.dtype}.')
  current = {'sequence': (indices.shape[0],), 'target': target.shape}
  for name, shape in current.items():
    shapes.setdefault(name, shape)
    if shapes[name] != shape:
      raise ValueError(f'example {number}: {name} has shape {shape}; '
                       f'example 0 had {shapes[name]} (length for sequences)')
  with np.errstate(over='ignore', invalid='ignore'):
    target16 = target.astype(np.float16)  # [T, N]
  finite = np.isfinite(target16)
  if not finite.all():
    bad = np.argwhere(~finite)[0]
    raise ValueError(
        f'example {number}: target[{bad[0]}, {bad[1]}] = '
        f'{float(target[tuple(bad)])!r} is not a finite float16 (NaN, inf or '
        f'|x| > {FLOAT16_MAX:g}); {int((~finite).sum())} such values. '
        f'Targets are stored as float16: rescale or clip them first.')
  if seq_1hot:
    sequence_bytes = indices.astype(np.uint8).tobytes()
  else:
    sequence_bytes = encoding.indices_to_one_hot(
        indices, dtype=np.bool_).tobytes()
  example = tf.train.Example(features=tf.train.Features(feature={
      SEQUENCE_FEATURE: _bytes_feature(sequence_bytes),
      TARGET_FEATURE: _bytes_feature(target16.tobytes()),
  }))
  return example.SerializeToString()


def write_tfrecords(data_dir: str, split: str,
                    examples: Iterable[Tuple[Any, Any]], *,
                    seqs_per_file: int = 256,
                    seq_1hot: bool = False,
                    overwrite: bool = False) -> int:
  """Writes examples as `data_dir/tfrecords/{split}-{i}.tfr` (ZLIB).

  Every file is written under a hidden temporary name; only when all
  examples are written are they renamed to `{split}-{i}.tfr` (and, with
  `overwrite`, the split's remaining old files removed). A crash or an
  invalid example before that point leaves the split as it was.

  Args:
    data_dir: organism directory; created if missing.
    split: `'train'`, `'valid'` or `'test'`.
    examples: `(sequence, target)` pairs, streamed. `sequence`: one-hot
      `[L, 4]` (rows one-hot or all zero) or a DNA string; `target`: numeric
      `[T, N]`, stored as float16. All examples must share `L`, `T`, `N`.
    seqs_per_file: examples per file (the last may hold fewer).
    seq_1hot: store uint8 base indices (4 = N) instead of bool one-hot;
      set `seq_1hot=True` in statistics.json to match.
    overwrite: replace the split's existing files; otherwise they are an
      error.

  Returns:
    The number of examples written.

  Raises:
    ValueError: bad arguments; an example's sequence is not one-hot, shapes
      differ from example 0's, or a target value is NaN, infinite or beyond
      the float16 range (|x| > 65504): values are never clipped silently.
    FileExistsError: the split already has files and `overwrite` is False.
  """
  check_split(split)
  if isinstance(seqs_per_file, bool) or not isinstance(seqs_per_file, int) \
      or seqs_per_file < 1:
    raise ValueError(f'seqs_per_file must be an int >= 1; got '
                     f'{seqs_per_file!r}.')
  out_dir = os.path.join(data_dir, TFRECORDS_DIR)
  existing = [path for _, path in numbered_files(data_dir, split)]
  if existing and not overwrite:
    raise FileExistsError(
        f'{out_dir}: split {split!r} already has {len(existing)} files '
        f'({os.path.basename(existing[0])}, ...); pass overwrite=True to '
        f'replace them.')
  tf.io.gfile.makedirs(out_dir)

  options = tf.io.TFRecordOptions(compression_type=COMPRESSION)
  pending: List[Tuple[str, str]] = []  # (temporary, final) paths.
  writer = None
  shapes: Dict[str, Tuple[int, ...]] = {}
  count = 0
  try:
    for item in examples:
      try:
        sequence, target = item
      except (TypeError, ValueError):
        raise ValueError(f'example {count}: expected a (sequence, target) '
                         f'pair; got {type(item).__name__}.') from None
      record = _encode_example(count, sequence, target, seq_1hot, shapes)
      if count % seqs_per_file == 0:
        if writer is not None:
          writer.close()
        final = os.path.join(out_dir, f'{split}-{len(pending)}.tfr')
        pending.append((_temp_name(final), final))
        writer = tf.io.TFRecordWriter(pending[-1][0], options)
      writer.write(record)
      count += 1
    if writer is not None:
      writer.close()
      writer = None
    for temp, final in pending:
      tf.io.gfile.rename(temp, final, overwrite=True)
    # Old files beyond the new last one (only with overwrite).
    written = {os.path.basename(final) for _, final in pending}
    for path in existing:
      if os.path.basename(path) not in written:
        tf.io.gfile.remove(path)
  except BaseException:
    if writer is not None:
      writer.close()
    for temp, _ in pending:
      _remove_quietly(temp)
    raise
  _log.info('wrote %d examples to %d %s files in %s', count, len(pending),
            split, out_dir)
  return count


# Not `atomic.temporary_sibling`: the shards may be on gs:// (tf.io.gfile,
# no os.path.abspath) and are renamed together only when all are written.
def _temp_name(path: str) -> str:
  """A hidden name next to `path` that no `{split}-*.tfr` glob matches."""
  directory, name = os.path.split(path)
  return os.path.join(directory, f'.{name}.{uuid.uuid4().hex[:12]}.tmp')


def _remove_quietly(path: str) -> None:
  try:
    if tf.io.gfile.exists(path):
      tf.io.gfile.remove(path)
  except tf.errors.OpError:
    _log.warning('could not remove temporary file %s', path)
