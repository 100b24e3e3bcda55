"""Reading a Basenji2 data directory as a `tf.data.Dataset`
(`load_dataset`, `parse_example`), with corrupt files named or skipped and
counted (`ReadReport`); see the package docstring for how.
"""
import logging
import threading
from typing import Any, Dict, Mapping, Optional, Union

import tensorflow as tf

from enformer_tf.data import encoding
from enformer_tf.data.basenji.files import (COMPRESSION, SEQUENCE_FEATURE,
                                            TARGET_FEATURE, tfrecord_paths)
from enformer_tf.data.basenji.statistics import (read_statistics,
                                                 validate_statistics)

# Kinds of element in the per-file stream of `_file_stream`.
_RECORD, _END_OK, _END_ERROR, _END_EMPTY = 0, 1, 2, 3
# interleave block_length that keeps every file's records together.
_WHOLE_FILE = 1 << 40

_log = logging.getLogger(__name__)


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
