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

Modules: `files.py` (names, format constants, a split's files),
`statistics.py` (statistics.json), `reader.py` (`load_dataset`,
`parse_example`, `ReadReport`), `verify.py` (`verify_tfrecords`,
`describe`), `writer.py` (`write_tfrecords`).
"""
from enformer_tf.data.basenji.files import (COMPRESSION, FLOAT16_MAX,
                                            SEQUENCE_FEATURE, STATISTICS_FILE,
                                            TARGET_FEATURE, TFRECORDS_DIR,
                                            tfrecord_paths)
from enformer_tf.data.basenji.reader import (ReadReport, load_dataset,
                                             parse_example)
from enformer_tf.data.basenji.statistics import (REQUIRED_KEYS,
                                                 read_statistics,
                                                 validate_statistics,
                                                 write_statistics)
from enformer_tf.data.basenji.verify import (FileCheck, describe,
                                             verify_tfrecords)
from enformer_tf.data.basenji.writer import write_tfrecords

__all__ = ['COMPRESSION', 'FLOAT16_MAX', 'FileCheck', 'REQUIRED_KEYS',
           'ReadReport', 'SEQUENCE_FEATURE', 'STATISTICS_FILE',
           'TARGET_FEATURE', 'TFRECORDS_DIR', 'describe', 'load_dataset',
           'parse_example', 'read_statistics', 'tfrecord_paths',
           'validate_statistics', 'verify_tfrecords', 'write_statistics',
           'write_tfrecords']
