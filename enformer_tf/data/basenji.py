"""Basenji2 / Enformer training data: `statistics.json` and ZLIB TFRecords.

One directory per organism (REFERENCE.md section 4)::

  statistics.json          num_targets, {train,valid,test}_seqs, seq_length,
                           pool_width, crop_bp, target_length[, seq_1hot]
  tfrecords/{split}-{i}.tfr   ZLIB-compressed tf.train.Examples, ~256 each,
                           read in the numeric order of i (train-10 after
                           train-9)
  sequences.bed, targets.txt

Each example has two bytes features: `sequence`, a bool one-hot
`[seq_length, 4]` (or, with `seq_1hot: true`, uint8 base indices
`[seq_length]`, 4 = N), and `target`, float16 `[target_length, num_targets]`.
The reader follows calico/baskerville `dataset.SeqDataset`; the writer makes
files it can read.

Corrupt and truncated files. TensorFlow's reader fails with a `DataLossError`
that does not say which file. `load_dataset` reads each file inside the
`tf.data` graph as: a one-byte probe (so that a missing or unreadable file
fails at once, naming the path), then the records zipped with a counter and
followed by an end marker, all under `ignore_errors`. A read error consumes a
counter value and makes the reader give up the rest of that file, so at the
end marker the counter is ahead of the number of records delivered exactly
when the file was cut short. The pipeline then either fails with an
`InvalidArgumentError` whose message names the file and how many of its
records were good, or (`skip_corrupt=True`) logs a warning, counts the file in
a `ReadReport` and goes on. It all happens inside the dataset (graph ops, plus
one `tf.py_function` per file for the report), so it works wherever the
dataset is iterated: eager loops, `Model.fit`, `tf.function` loops and
`strategy.experimental_distribute_dataset`. With ZLIB compression
nothing after the first bad byte of a file can be recovered; `skip_corrupt`
keeps the records before it. `verify_tfrecords` reads files one by one and
returns TensorFlow's own error message for each bad one.
"""
import json
import logging
import os
import re
import threading
import uuid
from typing import (Any, Dict, Iterable, List, Mapping, NamedTuple, Optional,
                    Sequence, Tuple, Union)

import numpy as np
import tensorflow as tf

from enformer_tf.data import encoding

SPLITS = ('train', 'valid', 'test')
STATISTICS_FILE = 'statistics.json'
TFRECORDS_DIR = 'tfrecords'
COMPRESSION = 'ZLIB'
SEQUENCE_FEATURE = 'sequence'
TARGET_FEATURE = 'target'
FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504

_POSITIVE_KEYS = ('num_targets', 'seq_length', 'pool_width', 'target_length')
_NON_NEGATIVE_KEYS = ('train_seqs', 'valid_seqs', 'test_seqs', 'crop_bp')
REQUIRED_KEYS = ('num_targets', 'train_seqs', 'valid_seqs', 'test_seqs',
                 'seq_length', 'pool_width', 'crop_bp', 'target_length')

# Kinds of element in the per-file stream of `_file_stream`.
_RECORD, _END_OK, _END_ERROR, _END_EMPTY = 0, 1, 2, 3
# interleave block_length that keeps every file's records together.
_WHOLE_FILE = 1 << 40

_log = logging.getLogger(__name__)


# -- statistics.json ----------------------------------------------------------


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


def _atomic_write(path: str, data: Union[str, bytes]) -> None:
  """Writes `path` through a temporary name in the same directory."""
  temp = _temp_name(path)
  try:
    with tf.io.gfile.GFile(temp, 'wb') as f:
      f.write(data.encode('utf-8') if isinstance(data, str) else data)
    tf.io.gfile.rename(temp, path, overwrite=True)
  except BaseException:
    _remove_quietly(temp)
    raise


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
  _atomic_write(path, json.dumps(statistics, indent=4) + '\n')
  return path


# -- TFRecord files -----------------------------------------------------------


def _check_split(split: str) -> None:
  if split not in SPLITS:
    raise ValueError(f'split must be one of {SPLITS}; got {split!r}.')


def _numbered_files(data_dir: str, split: str) -> List[Tuple[int, str]]:
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
  _check_split(split)
  numbered = _numbered_files(data_dir, split)
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


def _where(where: Union[str, tf.Tensor]) -> tf.Tensor:
  return tf.convert_to_tensor(where, tf.string)


def _parse(serialized: tf.Tensor, statistics: Mapping[str, Any],
           where: Union[str, tf.Tensor] = '') -> Dict[str, tf.Tensor]:
  """`parse_example` with `where` (e.g. 'file: record 3: ') on errors."""
  seq_length = statistics['seq_length']
  target_length = statistics['target_length']
  num_targets = statistics['num_targets']
  seq_1hot = statistics['seq_1hot']
  features = tf.io.parse_single_example(serialized, {
      SEQUENCE_FEATURE: tf.io.FixedLenFeature([], tf.string),
      TARGET_FEATURE: tf.io.FixedLenFeature([], tf.string),
  })
  sequence_bytes = features[SEQUENCE_FEATURE]
  target_bytes = features[TARGET_FEATURE]

  if seq_1hot:
    expected_sequence = seq_length
    sequence_layout = (f'uint8 base indices [seq_length] = [{seq_length}] '
                       f'(statistics.json has seq_1hot: true)')
  else:
    expected_sequence = 4 * seq_length
    sequence_layout = (f'bool one-hot [seq_length, 4] = [{seq_length}, 4] '
                       f'(statistics.json has no seq_1hot: true)')
  expected_target = 2 * target_length * num_targets
  target_layout = (f'float16 [target_length, num_targets] = '
                   f'[{target_length}, {num_targets}]')
  where = _where(where)
  sequence_size = tf.strings.length(sequence_bytes)
  target_size = tf.strings.length(target_bytes)
  checks = [
      tf.debugging.Assert(
          tf.equal(sequence_size, expected_sequence),
          [tf.strings.join([
              where, 'sequence has ', tf.strings.as_string(sequence_size),
              f' bytes; expected {expected_sequence} bytes for '
              f'{sequence_layout}'])]),
      tf.debugging.Assert(
          tf.equal(target_size, expected_target),
          [tf.strings.join([
              where, 'target has ', tf.strings.as_string(target_size),
              f' bytes; expected {expected_target} bytes for {target_layout}'
          ])]),
  ]
  with tf.control_dependencies(checks):
    sequence = tf.io.decode_raw(sequence_bytes, tf.uint8)
    target = tf.io.decode_raw(target_bytes, tf.float16)
  if seq_1hot:
    sequence = encoding.tf_indices_to_one_hot(
        tf.reshape(sequence, [seq_length]))  # [L, 4]
  else:
    sequence = tf.cast(tf.reshape(sequence, [seq_length, 4]),
                       tf.float32)  # [L, 4]
  target = tf.cast(tf.reshape(target, [target_length, num_targets]),
                   tf.float32)  # [T, N]
  return {'sequence': sequence, 'target': target}


def parse_example(serialized: tf.Tensor,
                  statistics: Mapping[str, Any]) -> Dict[str, tf.Tensor]:
  """Parses one serialized Basenji example (usable in `tf.data` maps).

  Args:
    serialized: scalar `tf.string`, one `tf.train.Example`.
    statistics: the dataset's statistics (`read_statistics`).

  Returns:
    `{'sequence': float32 [seq_length, 4], 'target': float32
    [target_length, num_targets]}`.

  Raises:
    tf.errors.InvalidArgumentError: at run time, if a feature's byte length
      does not match the statistics; the message gives the expected shape.
  """
  statistics = validate_statistics(statistics)
  return _parse(serialized, statistics)


class ReadReport:
  """What `load_dataset` met while the dataset was iterated (thread-safe).

  Filled in only with `skip_corrupt=True` (otherwise a corrupt file is an
  error). Counts accumulate over epochs.

  Attributes:
    expected_records: records per pass according to statistics.json.
    num_files: files per pass (set by `load_dataset`).
    files_read: files finished, corrupt ones included.
    records_read: records delivered.
    num_skipped: corrupt files skipped (a file counts once per pass).
    corrupt_files: path -> records delivered from it before the error (the
      rest of the file is lost: ZLIB streams cannot be resynchronised).
  """

  def __init__(self, expected_records: Optional[int] = None,
               num_files: Optional[int] = None):
    self.expected_records = expected_records
    self.num_files = num_files
    self.files_read = 0
    self.records_read = 0
    self.num_skipped = 0
    self.corrupt_files: Dict[str, int] = {}
    self._records_per_file: Dict[str, int] = {}
    self._lock = threading.Lock()

  @property
  def records_lost(self) -> Optional[int]:
    """Records per pass lost to corrupt files, once every file was read.

    `expected_records` minus what one pass delivers (every pass delivers
    the same); None until each of the `num_files` files has been read once,
    or if either count is unknown.
    """
    with self._lock:
      if (self.expected_records is None or self.num_files is None
          or len(self._records_per_file) < self.num_files):
        return None
      return max(0, self.expected_records - sum(
          self._records_per_file.values()))

  def summary(self) -> str:
    """One line: the corrupt files skipped and the records lost per pass."""
    with self._lock:
      files = dict(self.corrupt_files)
    kept = ', '.join(f'{path} (kept its first {_count(records, "record")})'
                     for path, records in sorted(files.items()))
    lost = self.records_lost
    lost = ('records lost per pass: not known until every file has been '
            'read' if lost is None else
            f'{lost} of {_count(self.expected_records, "record")} lost per '
            'pass')
    return (f'skipped {_count(len(files), "corrupt TFRecord file")}: {kept}; '
            f'{lost}')

  def add_file(self, path: str, records: int,
               problem: Optional[str] = None) -> None:
    """Counts a finished file; `problem` (e.g. 'is empty') marks it bad."""
    with self._lock:
      self.files_read += 1
      self.records_read += records
      self._records_per_file[path] = records
      if problem is None:
        return
      self.num_skipped += 1
      self.corrupt_files[path] = records
      num_skipped = self.num_skipped
    _log.warning('skipping TFRecord file %s: it %s (%d corrupt files '
                 'skipped so far)', path, problem, num_skipped)

  def __repr__(self):
    return (f'ReadReport(files_read={self.files_read}, '
            f'records_read={self.records_read}, '
            f'expected_records={self.expected_records}, '
            f'num_skipped={self.num_skipped}, '
            f'corrupt_files={self.corrupt_files})')


def _count(number: int, noun: str) -> str:
  return f'{number} {noun}' + ('' if number == 1 else 's')


def _file_stream(path: tf.Tensor) -> tf.data.Dataset:
  """`(record, position, kind)`: a file's records, then one end marker.

  `kind` is `_RECORD` for records; the last element has `_END_OK`,
  `_END_ERROR` (the reader failed and gave up the rest of the file) or
  `_END_EMPTY` (0 bytes), and `position` = number of records delivered.
  """
  # Opens the file outside ignore_errors, in a map so that a failure is
  # reported once (a reader dataset would fail again on every call, which
  # keeps a parallel interleave busy forever), and before TFRecordDataset,
  # which under ignore_errors retries opening a missing or unreadable file
  # forever. A 0-byte file (no ZLIB header) yields no probe byte.
  nonempty = tf.data.Dataset.from_tensors(path).map(
      lambda p: tf.data.FixedLengthRecordDataset(p, 1, buffer_size=1).take(
          1).reduce(tf.constant(False), lambda state, _: tf.constant(True)))

  def guarded(is_nonempty):
    # An empty file is not opened again.
    records = tf.data.TFRecordDataset(path, COMPRESSION).take(
        tf.where(is_nonempty, tf.constant(-1, tf.int64), 0)).map(
            lambda record: (record, tf.constant(_RECORD)))
    end_kind = tf.where(is_nonempty, _END_OK, _END_EMPTY)
    end = tf.data.Dataset.from_tensors((tf.constant(b''), end_kind))
    # zip advances the counter also for an element lost to an error, and
    # the reader moves past the file after a DataLossError (so that
    # ignore_errors works): a gap between counter and position at the end
    # marker means the file was cut short.
    counted = tf.data.Dataset.zip(
        (tf.data.Dataset.range(1 << 62), records.concatenate(end)))
    counted = counted.ignore_errors(log_warning=True).enumerate()

    def classify(position, item):
      counter, (record, kind) = item
      failed = tf.logical_and(tf.equal(kind, _END_OK),
                              tf.not_equal(position, counter))
      return record, position, tf.where(failed, _END_ERROR, kind)

    return counted.map(classify)

  return nonempty.flat_map(guarded)


def _read_file(path: tf.Tensor, statistics: Mapping[str, Any],
               report: Optional[ReadReport]) -> tf.data.Dataset:
  """Parsed examples of one file; corrupt files raise or go to `report`."""
  stream = _file_stream(path)
  if report is None:
    def check(record, position, kind):
      message = tf.strings.join([
          'TFRecord file ', path,
          tf.gather(tf.constant([
              '', '', ' is corrupt or truncated: reading failed after ',
              ' is empty (0 bytes; even a file without records has a ZLIB '
              'header): ']), kind),
          tf.strings.as_string(position),
          ' good records. TensorFlow\'s reader error is logged as a warning '
          'and returned by enformer_tf.data.basenji.verify_tfrecords; '
          'load_dataset(skip_corrupt=True) skips the rest of such files.'])
      ok = tf.debugging.Assert(kind <= _END_OK, [message])
      with tf.control_dependencies([ok]):
        return tf.equal(kind, _RECORD)
  else:
    def on_end(path_value, position, kind):
      records, kind = int(position), int(kind)
      problem = {
          _END_OK: None,
          _END_EMPTY: 'is empty (0 bytes)',
          _END_ERROR: f'is corrupt or truncated; kept its first {records} '
                      f'records',
      }[kind]
      report.add_file(path_value.numpy().decode('utf-8'), records, problem)
      return False

    def check(record, position, kind):
      del record
      is_record = tf.equal(kind, _RECORD)
      reported = tf.cond(
          is_record, lambda: tf.constant(False),
          lambda: tf.py_function(on_end, [path, position, kind], tf.bool))
      return tf.logical_or(is_record, reported)

  stream = stream.filter(check)
  return stream.map(lambda record, position, kind: _parse(
      record, statistics,
      tf.strings.join([path, ': record ', tf.strings.as_string(position),
                       ': '])))


def load_dataset(data_dir: str, split: str, *,
                 shuffle_buffer: int = 0,
                 repeat: bool = False,
                 num_parallel_reads: Optional[int] = tf.data.AUTOTUNE,
                 skip_corrupt: bool = False,
                 seed: Optional[int] = None,
                 report: Optional[ReadReport] = None) -> tf.data.Dataset:
  """Unbatched `{'sequence': [L, 4], 'target': [T, N]}` float32 examples.

  Without shuffling the examples come in file order (`{split}-0.tfr`,
  `{split}-1.tfr`, ... numerically), each file's records in order, i.e. the
  order of the split's rows in `sequences.bed`; files are still read
  `num_parallel_reads` at a time. With `shuffle_buffer > 0` the file order
  is shuffled every pass, records of `num_parallel_reads` files are
  interleaved one by one, then shuffled in a buffer. Batching and prefetching
  are left to the caller.

  Args:
    data_dir: organism directory (local path or `tf.io.gfile` URL).
    split: `'train'`, `'valid'` or `'test'`.
    shuffle_buffer: examples in the shuffle buffer; 0 keeps file order.
    repeat: repeat forever (files reshuffled every pass).
    num_parallel_reads: files read concurrently; `tf.data.AUTOTUNE`, an
      int >= 1, or None (one at a time).
    skip_corrupt: if False, a corrupt, truncated or empty file raises
      `tf.errors.InvalidArgumentError` naming the file, after its good
      records. If True its remaining records are skipped, a warning is
      logged and `report` is updated (by a `tf.py_function` once per file,
      so the pipeline must run in this process, e.g. not in the tf.data
      service). Missing or unreadable files and
      examples whose sizes do not match statistics.json are errors either
      way (they mean a wrong path or wrong statistics, not a bad file).
    seed: seed for the file and example shuffles; with a seed the order is
      reproducible (and interleaving deterministic).
    report: receives counts with `skip_corrupt=True`; one is made (and only
      logged) if None.

  Returns:
    A `tf.data.Dataset` of dicts with `sequence` float32 `[seq_length, 4]`
    and `target` float32 `[target_length, num_targets]`.

  Raises:
    ValueError, FileNotFoundError: bad arguments, statistics or no files.
  """
  statistics = read_statistics(data_dir)
  paths = tfrecord_paths(data_dir, split)
  if isinstance(shuffle_buffer, bool) or not isinstance(shuffle_buffer, int) \
      or shuffle_buffer < 0:
    raise ValueError(f'shuffle_buffer must be an int >= 0; got '
                     f'{shuffle_buffer!r}.')
  if num_parallel_reads is None:
    num_parallel_reads = 1
  if num_parallel_reads != tf.data.AUTOTUNE and (
      isinstance(num_parallel_reads, bool)
      or not isinstance(num_parallel_reads, int) or num_parallel_reads < 1):
    raise ValueError(f'num_parallel_reads must be tf.data.AUTOTUNE, None or '
                     f'an int >= 1; got {num_parallel_reads!r}.')
  if skip_corrupt and report is None:
    report = ReadReport()
  if report is not None:
    if not skip_corrupt:
      raise ValueError('report is filled in only with skip_corrupt=True.')
    report.expected_records = statistics[f'{split}_seqs']
    report.num_files = len(paths)

  shuffle = shuffle_buffer > 0
  files = tf.data.Dataset.from_tensor_slices(paths)
  if shuffle:
    files = files.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
  if repeat:
    files = files.repeat()
  parallel = num_parallel_reads != 1
  dataset = files.interleave(
      lambda path: _read_file(path, statistics, report),
      cycle_length=num_parallel_reads,
      block_length=1 if shuffle else _WHOLE_FILE,
      num_parallel_calls=num_parallel_reads if parallel else None,
      deterministic=((not shuffle) or seed is not None) if parallel else None)
  if shuffle:
    dataset = dataset.shuffle(shuffle_buffer, seed=seed,
                              reshuffle_each_iteration=True)
  return dataset


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
    _check_split(split)
    for _, path in _numbered_files(data_dir, split):
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
  splits = {split: {'files': len(_numbered_files(data_dir, split)),
                    'sequences': statistics[f'{split}_seqs']}
            for split in SPLITS}
  return {'statistics': statistics, 'splits': splits}


# -- Writer -------------------------------------------------------------------


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
  _check_split(split)
  if isinstance(seqs_per_file, bool) or not isinstance(seqs_per_file, int) \
      or seqs_per_file < 1:
    raise ValueError(f'seqs_per_file must be an int >= 1; got '
                     f'{seqs_per_file!r}.')
  out_dir = os.path.join(data_dir, TFRECORDS_DIR)
  existing = [path for _, path in _numbered_files(data_dir, split)]
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
