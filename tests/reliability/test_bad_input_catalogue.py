"""The bad input catalogue: one table of bad inputs for every entry point.

Each row is one bad input, made for real in `tmp_path`, given to one entry
point, and what must happen then:

- Python API rows (`API_ROWS`): the exception type, and a regex its message
  matches (the message names the file or argument and what was expected).
- CLI rows (`CLIS[prog].rows`, run in-process through `main(argv)`): the
  exit status (2 for usage errors argparse reports, 1 for the rest) and a
  regex the single stderr line `PROG: error: ...` matches; nothing else on
  stderr, no traceback, nothing on stdout. Each row changes one thing in a
  command that works (`test_base_command_works`), so its failure is that
  input's.
- Every row: no partial output. `tmp_path`, holding the bad inputs and the
  output location, is the same afterwards, byte for byte, apart from the
  `.fai` indexes pyfaidx writes beside a FASTA it reads. Rows marked
  `existing=True` start with an output already there (and pass
  `--overwrite` where they say so); it must survive the failed run.

`test_cli_end_to_end` runs three rows as real processes (`python -m`) to
check the exit status and stderr of the installed entry points.

A row the code does not pass yet is `xfail(strict=True)`, its reason the
fix (in a file another change owns); strict, so that it is noticed and
turned into a plain row once fixed.

The SavedModel signatures' bad inputs are in tests/export. The rows of
`enformer-score-variants` and `enformer-contrib` go in `SCORE_VARIANTS_ROWS`
and `CONTRIB_ROWS` below (the CLIs are registered in `CLIS`).
"""
import dataclasses
import gzip
import importlib
import json
import math
import os
import pathlib
import re
import subprocess
import sys
import zipfile
from typing import Any, Callable, Dict, List, NamedTuple, Optional

import numpy as np
import pyBigWig
import pytest
import tensorflow as tf
import tf_keras as keras

from enformer_tf import Enformer
from enformer_tf.data import basenji, encoding, genome, targets
from enformer_tf.data.bigwig import SUM_STATS
from enformer_tf.export import saved_model
from enformer_tf.genomics import intervals
from enformer_tf import io as models
from enformer_tf.io import keras_file

CHROMS = {'chr1': 2048, 'chr2': 1024}
BAD_BASE_AT = ('chr1', 300)  # Where the corrupt FASTA has a '7'.
STATISTICS = dict(num_targets=2, train_seqs=1, valid_seqs=1, test_seqs=1,
                  seq_length=1024, pool_width=128, crop_bp=0, target_length=8)
TARGETS_HEADER = 'index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n'
# TensorFlow's native start-up logging, printed at import before absl
# logging is initialised (TF_CPP_MIN_LOG_LEVEL does not silence it).
TF_NATIVE_LOG = re.compile(
    r'WARNING: All log messages before absl::InitializeLog\(\) is called'
    r'|[IWEF]\d{4} [\d:. ]+\d+ [\w.]+:\d+\] '
    r'|To enable the following instructions: ')


class Interval(NamedTuple):
  chrom: Any
  start: Any
  end: Any


# -- The world: good inputs every row starts from ------------------------------


class World:
  """A genome, a bigWig, targets files, regions and a tiny saved model."""

  def __init__(self, root: pathlib.Path):
    rng = np.random.default_rng(0)
    self.root = root
    self.sequences = {name: ''.join(rng.choice(list('ACGT'), size))
                      for name, size in CHROMS.items()}
    self.fasta = write_fasta(root / 'genome.fa', self.sequences)
    (root / 'tracks').mkdir()
    bigwig = pyBigWig.open(str(root / 'tracks' / 'signal.bw'), 'w')
    bigwig.addHeader(list(CHROMS.items()))
    for chrom, size in CHROMS.items():
      bigwig.addEntries(chrom, 0, values=rng.gamma(1.0, 2.0, size).tolist(),
                        span=1, step=1)
    bigwig.close()
    self.targets = write(root / 'tracks', 'targets.txt', TARGETS_HEADER +
                         '0\tsignal\tsignal.bw\t32\t1\tsum\tsignal\n')
    self.head_targets = write(root, 'head_targets.txt',
                              'index\tidentifier\tdescription\n'
                              '0\tcage\tCAGE\n1\tdnase\tDNASE\n')
    self.bed = write(root, 'regions.bed', 'chr1\t0\t512\ttrain\n'
                     'chr1\t1024\t1536\tvalid\nchr2\t0\t512\ttest\n')
    self.model = Enformer(channels=48, num_transformer_layers=1, num_heads=2,
                          conv_tower_divisible_by=8, sequence_length=1024,
                          target_length=4, heads={'human': 2})
    self.model.build((None, 1024, 4))
    self.model_path = str(root / 'model.keras')
    self.model.save(self.model_path)
    self.loaded = None  # The saved model, once loaded (see loaded_once).
    # A real TensorFlow checkpoint that holds no Enformer.
    self.foreign_checkpoint = tf.train.Checkpoint(
        v=tf.Variable([1.0, 2.0])).write(str(root / 'foreign' / 'ckpt'))


@pytest.fixture(scope='module')
def world(tmp_path_factory):
  return World(tmp_path_factory.mktemp('catalogue'))


@pytest.fixture
def loaded_once(world, monkeypatch):
  """The CLIs load the module's saved model from disk once, not per row."""
  real = keras_file.load_keras_model

  def load_keras_model(path):
    if os.fspath(path) != world.model_path:
      return real(path)
    if world.loaded is None:
      world.loaded = real(path)
    return world.loaded

  monkeypatch.setattr(keras_file, 'load_keras_model', load_keras_model)


def write(directory, name: str, content) -> str:
  """Writes `content` (str: exactly, no newline translation; bytes) there."""
  path = pathlib.Path(directory) / name
  path.parent.mkdir(parents=True, exist_ok=True)
  if isinstance(content, bytes):
    path.write_bytes(content)
  else:
    with open(path, 'w', encoding='utf-8', newline='') as f:
      f.write(content)
  return str(path)


def write_fasta(path, sequences: Dict[str, str]) -> str:
  with open(path, 'w') as f:
    for name, sequence in sequences.items():
      f.write(f'>{name}\n')
      f.writelines(sequence[i:i + 60] + '\n'
                   for i in range(0, len(sequence), 60))
  return str(path)


def corrupt_fasta(w: World, tmp) -> str:
  """The genome with one base replaced by a digit (at `BAD_BASE_AT`)."""
  chrom, position = BAD_BASE_AT
  sequences = dict(w.sequences)
  sequence = sequences[chrom]
  sequences[chrom] = sequence[:position] + '7' + sequence[position + 1:]
  return write_fasta(pathlib.Path(tmp) / 'corrupt.fa', sequences)


def mkdir(directory, name: str) -> str:
  path = pathlib.Path(directory) / name
  path.mkdir(parents=True)
  return str(path)


def statistics_dir(tmp, content, name='data') -> str:
  """A data directory whose statistics.json holds `content`."""
  if isinstance(content, dict):
    content = json.dumps(content)
  write(pathlib.Path(tmp) / name, 'statistics.json', content)
  return str(pathlib.Path(tmp) / name)


def zip_without_config(tmp, name='model.keras') -> str:
  """A zip archive named .keras without the .keras layout."""
  path = pathlib.Path(tmp) / name
  with zipfile.ZipFile(path, 'w') as archive:
    archive.writestr('notes.txt', 'not a model')
  return str(path)


def training_dir_without_config(tmp) -> str:
  """An enformer-train-like directory: a checkpoint, no operative config."""
  directory = pathlib.Path(tmp) / 'run'
  checkpoint = tf.train.Checkpoint(v=tf.Variable(1.0))
  tf.train.CheckpointManager(checkpoint, str(directory), 1).save()
  return str(directory)


def snapshot(root) -> Dict[str, Optional[bytes]]:
  """Relative path -> bytes (None for a directory) of everything under root.

  FASTA indexes are left out: pyfaidx writes one beside a FASTA it reads.
  """
  root = pathlib.Path(root)
  return {str(path.relative_to(root)): None if path.is_dir() else
          path.read_bytes()
          for path in sorted(root.rglob('*')) if path.suffix != '.fai'}


def deferred(function, *args, **kwargs) -> Callable[[], Any]:
  """The call `function(*args, **kwargs)`, its arguments made now."""
  return lambda: function(*args, **kwargs)


def xfail(reason: str):
  return pytest.mark.xfail(strict=True, reason=reason)


# -- Python API rows -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ApiRow:
  """One bad input to one Python function.

  Attributes:
    entry: the function or method, e.g. `Enformer.__call__`.
    name: what is wrong with the input.
    call: `(world, tmp_path) -> thunk`; makes the bad input in tmp_path and
      returns the call to make.
    error: the exception type the call must raise.
    message: regex (re.search) the exception's message must match.
    fix: if set, the row fails today; the fix it needs (an xfail reason).
  """
  entry: str
  name: str
  call: Callable[[World, pathlib.Path], Callable[[], Any]]
  error: type
  message: str
  fix: Optional[str] = None


def model_rows() -> List[ApiRow]:
  zeros = lambda *shape, dtype=np.float32: np.zeros(shape, dtype)
  call = lambda x: lambda w, _: lambda: w.model(x)
  return [
      ApiRow('Enformer.__call__', 'length_not_a_multiple_of_128',
             call(zeros(1, 1000, 4)), ValueError,
             r'input length 1,000 bp is not valid: expected a multiple of '
             r'128 bp of at least 512 bp'),
      ApiRow('Enformer.__call__', 'length_below_target_length',
             call(zeros(1, 256, 4)), ValueError,
             r'input length 256 bp is not valid: .* at least 512 bp'),
      ApiRow('Enformer.__call__', 'empty_sequence', call(zeros(1, 0, 4)),
             ValueError, r'input length 0 bp is not valid'),
      ApiRow('Enformer.__call__', 'empty_batch', call(zeros(0, 1024, 4)),
             ValueError, r'(?i)empty batch'),
      ApiRow('Enformer.__call__', 'rank_2_one_hot', call(zeros(1024, 4)),
             ValueError, r'one-hot DNA of shape \[batch, length, 4\], got '
             r'shape \(1024, 4\)'),
      ApiRow('Enformer.__call__', 'five_columns', call(zeros(1, 1024, 5)),
             ValueError, r'shape \[batch, length, 4\], got shape '
             r'\(1, 1024, 5\)'),
      ApiRow('Enformer.__call__', 'dna_text_instead_of_one_hot',
             call('ACGT' * 256), ValueError,
             r'shape \[batch, length, 4\], got shape \(\)'),
      ApiRow('Enformer.__call__', 'string_dtype',
             call(np.full((1, 1024, 4), 'A')), ValueError,
             r'(?i)dtype.*string|string.*dtype'),
      ApiRow('Enformer.__call__', 'complex_dtype',
             call(zeros(1, 1024, 4, dtype=np.complex64)), ValueError,
             r'(?i)dtype.*complex'),
      ApiRow('Enformer.predict_head', 'unknown_head',
             lambda w, _: lambda: w.model.predict_head(
                 zeros(1, 1024, 4), 'zebrafish'), ValueError,
             r"Unknown head 'zebrafish'; this model has heads \['human'\]"),
      ApiRow('Enformer.predict_head', 'length_not_a_multiple_of_128',
             lambda w, _: lambda: w.model.predict_head(zeros(1, 1000, 4),
                                                       'human'),
             ValueError, r'input length 1,000 bp is not valid'),
      ApiRow('Enformer.embed', 'rank_2_one_hot',
             lambda w, _: lambda: w.model.embed(zeros(1024, 4)), ValueError,
             r'shape \[batch, length, 4\], got shape \(1024, 4\)'),
  ]


def encoding_rows() -> List[ApiRow]:
  def row(entry, name, function, argument, error, message):
    return ApiRow(f'encoding.{entry}', name,
                  lambda w, _: lambda: function(argument), error, message)
  return [
      row('one_hot_encode', 'non_ascii_character', encoding.one_hot_encode,
          'ACéT', ValueError, r"non-ASCII character 'é' at position 2"),
      row('one_hot_encode', 'non_ascii_byte', encoding.one_hot_encode,
          b'AC\xff', ValueError, r'non-ASCII byte 255 at position 2'),
      row('one_hot_encode', 'not_text', encoding.one_hot_encode, 42,
          TypeError, r'sequence must be a str or bytes; got int'),
      row('one_hot_encode', 'none', encoding.one_hot_encode, None, TypeError,
          r'got NoneType'),
      row('sequence_to_indices', 'list_of_letters',
          encoding.sequence_to_indices, ['A', 'C'], TypeError,
          r'must be a str or bytes; got list'),
      row('one_hot_to_indices', 'uniform_n_rows',
          encoding.one_hot_to_indices, np.full((3, 4), 0.25), ValueError,
          r'one_hot row at position 0 is \[0\.25, .*expected a one-hot row'),
      row('one_hot_to_indices', 'rank_1', encoding.one_hot_to_indices,
          np.zeros(3), ValueError, r'shape \[\.\.\., L, 4\]; got \(3,\)'),
      row('one_hot_decode', 'batched', encoding.one_hot_decode,
          np.zeros((1, 3, 4)), ValueError,
          r'shape \[L, 4\]; got \(1, 3, 4\)'),
      row('indices_to_one_hot', 'index_out_of_range',
          encoding.indices_to_one_hot, np.array([0, 7]), ValueError,
          r'indices has 7 at position 1; expected 0\.\.3'),
      row('indices_to_one_hot', 'float_indices',
          encoding.indices_to_one_hot, np.array([0.5]), ValueError,
          r'integer array; got dtype float64'),
      row('reverse_complement', 'rna_base', encoding.reverse_complement,
          'ACGU', ValueError, r"'U' at position 3, which has no complement"),
      row('reverse_complement', 'bytes', encoding.reverse_complement,
          b'ACGT', TypeError, r'sequence must be a str; got bytes'),
      row('reverse_complement_one_hot', 'three_columns',
          encoding.reverse_complement_one_hot, np.zeros((4, 3)), ValueError,
          r'shape \[\.\.\., L, 4\]; got \(4, 3\)'),
      row('tf_one_hot_encode', 'rank_2', encoding.tf_one_hot_encode,
          tf.constant([['ACGT']]), ValueError,
          r'scalar or \[B\] vector; got shape \(1, 1\)'),
      row('tf_one_hot_encode', 'non_ascii_byte', encoding.tf_one_hot_encode,
          tf.constant(b'AC\xe9'), tf.errors.InvalidArgumentError,
          r'dna must be ASCII'),
  ]


def fasta_rows() -> List[ApiRow]:
  def opening(name, content, error, message):
    def call(w, tmp):
      path = (write(tmp, 'g.fa', content) if content is not None
              else str(tmp / 'g.fa'))
      return lambda: genome.FastaExtractor(path)
    return ApiRow('genome.FastaExtractor', name, call, error, message)

  def extracting(name, make_args, error, message, fasta=None):
    def call(w, tmp):
      path = fasta(w, tmp) if fasta else w.fasta
      def thunk():
        with genome.FastaExtractor(path) as extractor:
          extractor.extract(*make_args)
      return thunk
    return ApiRow('genome.FastaExtractor.extract', name, call, error,
                  message)

  return [
      opening('missing_file', None, FileNotFoundError,
              r"FASTA file '.*g\.fa' not found"),
      ApiRow('genome.FastaExtractor', 'a_directory',
             lambda w, tmp: deferred(genome.FastaExtractor,
                                     mkdir(tmp, 'g.fa')),
             IsADirectoryError, r"FASTA file '.*g\.fa' is a directory"),
      opening('empty_file', '', ValueError,
              r"Cannot read FASTA file '.*g\.fa': .*does not contain a "
              r'valid sequence'),
      opening('no_header_line', 'ACGTACGT\nACGT\n', ValueError,
              r"Cannot read FASTA file '.*g\.fa': Unexpected text before "
              r'the first sequence'),
      opening('binary_file', bytes(range(256)), ValueError,
              r"Cannot read FASTA file '.*g\.fa'"),
      opening('ragged_lines', '>chr1\nACGTACGT\nACG\nACGTACGT\n', ValueError,
              r"Cannot read FASTA file '.*g\.fa': Line length of fasta file "
              r'is not consistent'),
      opening('duplicated_name', '>chr1\nACGT\n>chr1\nACGT\n', ValueError,
              r"Cannot read FASTA file '.*g\.fa': Duplicate key \"chr1\""),
      extracting('character_outside_iupac', ('chr1', 0, 1024), ValueError,
                 r"FASTA '.*corrupt\.fa' has '7' at chr1:300 \(0-based\), "
                 r'which is no nucleotide code', fasta=corrupt_fasta),
      extracting('unknown_chromosome', ('chr9', 0, 10), ValueError,
                 r"FASTA '.*genome\.fa' has no chromosome 'chr9' \(it has "
                 r"'chr1', 'chr2'\)"),
      extracting('end_before_start', ('chr1', 10, 5), ValueError,
                 r'Interval chr1:10-5 has end < start'),
      extracting('chromosome_without_end', ('chr1', 10), ValueError,
                 r'needs start and end'),
  ]


def statistics_rows() -> List[ApiRow]:
  def reading(name, content, error, message, fix=None):
    def call(w, tmp):
      directory = (statistics_dir(tmp, content) if content is not None
                   else mkdir(tmp, 'data'))
      return lambda: basenji.read_statistics(directory)
    return ApiRow('basenji.read_statistics', name, call, error, message, fix)

  changed = lambda **kw: {**STATISTICS, **kw}
  without = lambda key: {k: v for k, v in STATISTICS.items() if k != key}
  return [
      reading('missing', None, FileNotFoundError,
              r'data/statistics\.json: no such file'),
      reading('empty', '', ValueError,
              r'data/statistics\.json: not valid JSON'),
      reading('truncated', '{"num_targets": 2,', ValueError,
              r'statistics\.json: not valid JSON'),
      reading('a_list', '[1, 2]', ValueError,
              r'statistics\.json: expected a JSON object; got list'),
      reading('missing_key', without('target_length'), ValueError,
              r"statistics\.json: missing key 'target_length'"),
      reading('string_value', changed(seq_length='1024'), ValueError,
              r"statistics\.json: key 'seq_length' must be an integer; got "
              r"str '1024'"),
      reading('float_value', changed(pool_width=128.0), ValueError,
              r"key 'pool_width' must be an integer; got float"),
      reading('bool_value', changed(num_targets=True), ValueError,
              r"key 'num_targets' must be an integer; got bool"),
      reading('negative_count', changed(train_seqs=-1), ValueError,
              r"key 'train_seqs' must be >= 0; got -1"),
      reading('zero_targets', changed(num_targets=0), ValueError,
              r"key 'num_targets' must be positive; got 0"),
      reading('seq_1hot_not_bool', changed(seq_1hot='yes'), ValueError,
              r"key 'seq_1hot' must be true or false; got str"),
      reading('inconsistent_target_length', changed(target_length=5),
              ValueError, r'target_length=5 is inconsistent with '
              r'\(seq_length - 2 \* crop_bp\) // pool_width'),
      reading('not_utf8', b'{"num_targets": "\xff"}', ValueError,
              r'statistics\.json.*(UTF-8|JSON)'),
      ApiRow('basenji.load_dataset', 'unknown_split',
             lambda w, tmp: deferred(basenji.load_dataset,
                                     statistics_dir(tmp, STATISTICS),
                                     'training'),
             ValueError, r"split must be one of .*; got 'training'"),
      ApiRow('basenji.load_dataset', 'no_tfrecords',
             lambda w, tmp: deferred(basenji.load_dataset,
                                     statistics_dir(tmp, STATISTICS),
                                     'train'),
             FileNotFoundError, r"no TFRecord files for split 'train'"),
      ApiRow('basenji.load_dataset', 'malformed_statistics',
             lambda w, tmp: deferred(basenji.load_dataset,
                                     statistics_dir(tmp, without('crop_bp')),
                                     'train'),
             ValueError, r"statistics\.json: missing key 'crop_bp'"),
  ]


def targets_rows() -> List[ApiRow]:
  def reading(name, content, error, message, **kwargs):
    def call(w, tmp):
      path = (write(tmp, 'targets.txt', content) if content is not None
              else str(tmp / 'targets.txt'))
      return lambda: targets.read_targets(path, **kwargs)
    return ApiRow('targets.read_targets', name, call, error, message)

  row = lambda *fields: '\t'.join(map(str, fields)) + '\n'
  good = row(0, 'a', 'a.bw', 32, 1, 'sum', 'A')
  return [
      reading('missing', None, FileNotFoundError,
              r"targets file '.*targets\.txt' not found"),
      ApiRow('targets.read_targets', 'a_directory',
             lambda w, tmp: deferred(targets.read_targets,
                                     mkdir(tmp, 'targets.txt')),
             IsADirectoryError, r"targets file '.*' is a directory"),
      reading('empty', '', ValueError,
              r'targets\.txt is empty; expected a tab-separated header'),
      reading('header_only', TARGETS_HEADER, ValueError,
              r'targets\.txt has a header but no targets'),
      reading('spaces_not_tabs', TARGETS_HEADER.replace('\t', ' ') +
              good.replace('\t', ' '), ValueError,
              r"targets\.txt line 1: missing columns \['identifier', 'file', "
              r"'clip', 'scale', 'sum_stat', 'description'\]"),
      reading('duplicated_column', 'index\tidentifier\tidentifier\n', ValueError,
              r"targets\.txt line 1: duplicated columns \['identifier'\]"),
      reading('short_row', TARGETS_HEADER + row(0, 'a', 'a.bw', 32, 1),
              ValueError, r'targets\.txt line 2: expected 7 tab-separated '
              r'columns .*got 5'),
      reading('clip_not_a_number', TARGETS_HEADER +
              row(0, 'a', 'a.bw', 'high', 1, 'sum', 'A'), ValueError,
              r"targets\.txt line 2, column 'clip': expected a number, got "
              r"'high'"),
      reading('clip_negative', TARGETS_HEADER +
              row(0, 'a', 'a.bw', -1, 1, 'sum', 'A'), ValueError,
              r"column 'clip': expected a positive number, got '-1'"),
      reading('scale_nan', TARGETS_HEADER +
              row(0, 'a', 'a.bw', 32, 'nan', 'sum', 'A'), ValueError,
              r"column 'scale': expected a finite number, got 'nan'"),
      reading('unknown_sum_stat', TARGETS_HEADER +
              row(0, 'a', 'a.bw', 32, 1, 'median', 'A'), ValueError,
              r"column 'sum_stat': expected one of \['sum', .*got 'median'",
              sum_stats=SUM_STATS),
      reading('empty_identifier', TARGETS_HEADER +
              row(0, '', 'a.bw', 32, 1, 'sum', 'A'), ValueError,
              r"line 2, column 'identifier': is empty"),
      reading('empty_file_column', TARGETS_HEADER +
              row(0, 'a', '', 32, 1, 'sum', 'A'), ValueError,
              r"line 2, column 'file': is empty"),
      reading('index_not_an_integer', TARGETS_HEADER +
              row('first', 'a', 'a.bw', 32, 1, 'sum', 'A'), ValueError,
              r"line 2, column 'index': expected an integer, got 'first'"),
      reading('duplicated_identifier', TARGETS_HEADER + good +
              row(1, 'a', 'b.bw', 32, 1, 'sum', 'B'), ValueError,
              r"identifier 'a' is used twice"),
      reading('duplicated_index', TARGETS_HEADER + good +
              row(0, 'b', 'b.bw', 32, 1, 'sum', 'B'), ValueError,
              r"index 0 is used twice \('a' and 'b'\)"),
      reading('strand_pair_names_no_target',
              'index\tidentifier\tstrand_pair\n0\ta\t5\n', ValueError,
              r"target 'a' has strand_pair 5, which is no target index",
              required_columns=('identifier',)),
      reading('strand_pairs_not_mutual',
              'index\tidentifier\tstrand_pair\n0\ta\t1\n1\tb\t1\n',
              ValueError, r'strand pairs must be mutual',
              required_columns=('identifier',)),
      reading('not_utf8', TARGETS_HEADER.encode() +
              b'0\t\xff\ta.bw\t32\t1\tsum\tA\n', ValueError,
              r'targets\.txt line 2: not UTF-8 text \(byte 0xff\)'),
  ]


def region_rows() -> List[ApiRow]:
  def parsing(name, text, message):
    return ApiRow('intervals.parse_region', name,
                  lambda w, _: lambda: intervals.parse_region(text),
                  ValueError, message)

  def converting(name, value, error, message):
    return ApiRow('intervals.as_region', name,
                  lambda w, _: lambda: intervals.as_region(value), error,
                  message)

  def reading(name, content, error, message):
    def call(w, tmp):
      path = (write(tmp, 'regions.bed', content) if content is not None
              else str(tmp / 'regions.bed'))
      return lambda: intervals.read_regions(path)
    return ApiRow('intervals.read_regions', name, call, error, message)

  return [
      parsing('empty', '', r"Region '' is not CHROM:START-END"),
      parsing('chromosome_only', 'chr1', r"Region 'chr1' is not CHROM:"),
      parsing('negative_start', 'chr1:-5-10', r"Region 'chr1:-5-10' is not"),
      parsing('end_before_start', 'chr1:200-100',
              r"Region 'chr1:200-100' has end <= start"),
      parsing('empty_interval', 'chr1:5-5', r"Region 'chr1:5-5' has end <="),
      parsing('space_in_name', 'chr 1:0-10', r"Region 'chr 1:0-10' is not"),
      parsing('coordinate_too_long', 'chr1:0-' + '9' * 80,
              r"Region 'chr1:0-9+'\.\.\. has a coordinate of more than 18 "
              r'digits'),
      converting('a_number', 42, TypeError,
                 r'Expected a region string CHROM:START-END or an interval '
                 r'with chrom, start and end; got int'),
      converting('nan_start', Interval('chr1', math.nan, 10), ValueError,
                 r'Interval chr1:nan-10: expected integers with 0 <= start '
                 r'< end'),
      converting('infinite_end', Interval('chr1', 0, math.inf), ValueError,
                 r'Interval chr1:0-inf: expected integers'),
      converting('none_start', Interval('chr1', None, 10), ValueError,
                 r'Interval chr1:None-10: expected integers'),
      converting('fractional_start', Interval('chr1', 1.5, 10), ValueError,
                 r'Interval chr1:1\.5-10: expected integers'),
      converting('text_start', Interval('chr1', '1', 10), ValueError,
                 r"Interval chr1:'1'-10: expected integers"),
      converting('empty_chromosome', Interval('', 0, 10), ValueError,
                 r"chromosome must be a non-empty name without spaces, got "
                 r"''"),
      reading('missing', None, FileNotFoundError,
              r"BED file '.*regions\.bed' not found"),
      ApiRow('intervals.read_regions', 'a_directory',
             lambda w, tmp: deferred(intervals.read_regions,
                                     mkdir(tmp, 'regions.bed')),
             IsADirectoryError, r"BED file '.*regions\.bed' is a directory"),
      reading('empty', '', ValueError, r"BED file '.*' has no regions"),
      reading('headers_only', 'track name=x\n# comment\n\n', ValueError,
              r"BED file '.*' has no regions"),
      reading('two_columns', 'chr1\t0\t10\nchr1\t5\n', ValueError,
              r"regions\.bed line 2: expected at least 3 columns \(chrom, "
              r"start, end\), got 2: 'chr1\\t5'"),
      reading('start_not_an_integer', 'chr1\t1e3\t2000\n', ValueError,
              r'regions\.bed line 1: start and end \(columns 2 and 3\) must '
              r"be integers, got '1e3' and '2000'"),
      reading('non_ascii_digits', 'chr1\t\u0661\u0662\t20\n', ValueError,
              r'line 1: start and end \(columns 2 and 3\) must be integers'),
      reading('end_before_start', 'chr1\t500\t100\n', ValueError,
              r'line 1: expected 0 <= start < end, got start=500, end=100'),
      reading('negative_start', 'chr1\t-5\t100\n', ValueError,
              r'line 1: expected 0 <= start < end, got start=-5'),
      reading('empty_chromosome', '\t0\t10\n', ValueError,
              r"line 1: the chromosome \(column 1\) must be a non-empty name "
              r"without spaces, got ''"),
      reading('not_utf8', b'chr1\t0\t10\n\xff\t1\t2\n', ValueError,
              r'regions\.bed line 2: not UTF-8 text \(byte 0xff\)'),
  ]


def predict_interval_rows() -> List[ApiRow]:
  def predicting(name, error, message, region='chr1:512-1024', head='human',
                 fasta=None, **kwargs):
    def call(w, tmp):
      path = fasta(w, tmp) if fasta else w.fasta
      return lambda: intervals.predict_interval(w.model, path, region, head,
                                                **kwargs)
    return ApiRow('intervals.predict_interval', name, call, error, message)

  return [
      predicting('unknown_head', ValueError,
                 r"Unknown head 'zebrafish'; this model has heads "
                 r"\['human'\]", head='zebrafish'),
      predicting('unknown_chromosome', ValueError,
                 r"FASTA '.*genome\.fa' has no chromosome 'chr9'",
                 region='chr9:0-100'),
      predicting('region_past_chromosome_end', ValueError,
                 r'chr2:0-5000 runs past the end of chr2 \(1,024 bp',
                 region='chr2:0-5000'),
      predicting('malformed_region', ValueError,
                 r"Region 'chr1:100' is not CHROM:START-END",
                 region='chr1:100'),
      predicting('missing_fasta', FileNotFoundError,
                 r"FASTA file '.*none\.fa' not found",
                 fasta=lambda w, tmp: str(tmp / 'none.fa')),
      predicting('corrupt_fasta', ValueError,
                 r"has '7' at chr1:300 \(0-based\), which is no nucleotide "
                 r'code', fasta=corrupt_fasta),
      predicting('batch_size_zero', ValueError,
                 r'batch_size must be a positive integer, got 0',
                 batch_size=0),
      predicting('track_out_of_range', ValueError,
                 r'Track 5 is out of range: the head has 2 tracks',
                 tracks=[5]),
      predicting('track_names_wrong_length', ValueError,
                 r'Got 1 track names for a head with 2 tracks',
                 track_names=['cage']),
      predicting('strand_pairs_not_a_permutation', ValueError,
                 r"strand_pairs must be a permutation of the head's 2 track",
                 average_reverse_complement=True, strand_pairs=[0, 0]),
      predicting('sequence_length_differs', ValueError,
                 r"sequence_length=2048 differs from the model's "
                 r'sequence_length=1024', sequence_length=2048),
  ]


def load_model_rows() -> List[ApiRow]:
  def loading(name, make_path, error, message):
    return ApiRow('models.load_model', name,
                  lambda w, tmp: deferred(models.load_model, make_path(tmp)),
                  error, message)

  def sequential(tmp):
    model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
    model.save(tmp / 'dense.keras')
    return str(tmp / 'dense.keras')

  return [
      loading('missing', lambda tmp: str(tmp / 'none'), FileNotFoundError,
              r'No model at .*none: expected a \.keras file, a training '
              r'directory or a checkpoint prefix'),
      loading('garbage_keras_file',
              lambda tmp: write(tmp, 'model.keras', b'not a model'),
              ValueError, r'model\.keras is not a \.keras archive \(a zip file\)'),
      loading('empty_keras_file', lambda tmp: write(tmp, 'model.keras', b''),
              ValueError, r'model\.keras is not a \.keras archive \(a zip file\)'),
      loading('zip_without_keras_layout', zip_without_config, ValueError,
              r'model\.keras has no readable config\.json'),
      loading('keras_named_directory',
              lambda tmp: mkdir(tmp, 'model.keras'), ValueError,
              r'model\.keras is not a \.keras file'),
      loading('not_an_enformer', sequential, ValueError,
              r'dense\.keras holds a Sequential of module .*, not an Enformer'),
      loading('plain_file', lambda tmp: write(tmp, 'model.txt', 'x'),
              ValueError, r'model\.txt is not a model: expected a \.keras '
              r'file'),
      loading('empty_directory', lambda tmp: mkdir(tmp, 'run'),
              FileNotFoundError, r'No checkpoint in .*run'),
      loading('checkpoint_without_operative_config',
              training_dir_without_config, FileNotFoundError,
              r'No model_config\.json or operative_config\.gin in .*run'),
  ]


API_ROWS = (model_rows() + encoding_rows() + fasta_rows() + statistics_rows()
            + targets_rows() + region_rows() + predict_interval_rows()
            + load_model_rows())


def api_params():
  return [pytest.param(row, id=f'{row.entry}:{row.name}',
                       marks=[xfail(row.fix)] if row.fix else [])
          for row in API_ROWS]


@pytest.mark.parametrize('row', api_params())
def test_api_bad_input(world, tmp_path, row):
  thunk = row.call(world, tmp_path)
  before = snapshot(tmp_path)
  with pytest.raises(row.error, match=row.message):
    thunk()
  assert snapshot(tmp_path) == before


# -- CLI rows --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CliRow:
  """One bad input to one CLI: a change to its working base command.

  Attributes:
    name: what is wrong with the input.
    change: `(world, tmp_path) -> {flag: value}`, made in tmp_path and
      merged into the base options (`None` drops a flag, `True` is a bare
      flag, a list repeats it).
    code: the exit status.
    message: regex (re.search) the one stderr line must match.
    existing: an output is already there and must survive.
    fix: if set, the row fails today; the fix it needs (an xfail reason).
  """
  name: str
  change: Callable[[World, pathlib.Path], Dict[str, Any]]
  code: int
  message: str
  existing: bool = False
  fix: Optional[str] = None


def existing_directory(out: pathlib.Path) -> None:
  out.mkdir()
  (out / 'keep.txt').write_text('an earlier output\n')


def existing_file(out: pathlib.Path) -> None:
  out.write_bytes(b'an earlier output')


def existing_version(out: pathlib.Path) -> None:
  (out / '1').mkdir(parents=True)
  (out / '1' / 'keep.txt').write_text('an earlier export\n')


@dataclasses.dataclass(frozen=True)
class Cli:
  """A command-line entry point and its rows.

  Attributes:
    module: the module whose `main(argv)` is the CLI.
    base: `(world, out) -> {flag: value}`, a command that works.
    rows: its bad inputs.
    output: the output's name in tmp_path.
    make_existing: puts an earlier output at `tmp_path / output`.
  """
  module: str
  base: Callable[[World, str], Dict[str, Any]]
  rows: List[CliRow]
  output: str = 'out'
  make_existing: Callable[[pathlib.Path], None] = existing_directory

  def main(self):
    return importlib.import_module(self.module).main


def flags(options: Dict[str, Any]) -> List[str]:
  argv = []
  for name, value in options.items():
    if value is None or value is False:
      continue
    values = value if isinstance(value, list) else [value]
    for item in values:
      argv.append(f'--{name}')
      if item is not True:
        argv.append(str(item))
  return argv


MAKE_DATA_ROWS = [
    CliRow('no_fasta_flag', lambda w, tmp: dict(fasta=None), 2,
           r'the following arguments are required: --fasta'),
    CliRow('seq_length_not_an_integer', lambda w, tmp: dict(seq_length='1k'),
           2, r"argument --seq_length: invalid int value: '1k'"),
    CliRow('bed_and_tile', lambda w, tmp: dict(tile=True), 2,
           r'argument --tile: not allowed with argument --bed'),
    CliRow('missing_fasta', lambda w, tmp: dict(fasta=tmp / 'none.fa'), 1,
           r"FASTA file '.*none\.fa' not found"),
    CliRow('fasta_without_header',
           lambda w, tmp: dict(fasta=write(tmp, 'g.fa', 'ACGT\nACGT\n')), 1,
           r"Cannot read FASTA file '.*g\.fa': Unexpected text before the "
           r'first sequence'),
    CliRow('fasta_character_outside_iupac',
           lambda w, tmp: dict(fasta=corrupt_fasta(w, tmp), overwrite=True),
           1, r"FASTA '.*corrupt\.fa' has '7' at chr1:300 \(0-based\), which "
           r'is no nucleotide code', existing=True),
    CliRow('missing_targets',
           lambda w, tmp: dict(targets=tmp / 'targets.txt'), 1,
           r"targets file '.*targets\.txt' not found"),
    CliRow('targets_missing_columns',
           lambda w, tmp: dict(targets=write(tmp, 'targets.txt',
                                             'identifier\tfile\ns\ts.bw\n')),
           1, r"targets\.txt line 1: missing columns \['clip', 'scale', "
           r"'sum_stat', 'description'\]"),
    CliRow('targets_unknown_sum_stat',
           lambda w, tmp: dict(targets=write(
               tmp, 'targets.txt', TARGETS_HEADER +
               f'0\ts\t{w.root}/tracks/signal.bw\t32\t1\tmedian\ts\n')), 1,
           r"targets\.txt line 2, column 'sum_stat': expected one of "
           r"\['sum', .*got 'median'"),
    CliRow('targets_not_utf8',
           lambda w, tmp: dict(targets=write(
               tmp, 'targets.txt', TARGETS_HEADER.encode() +
               b'0\t\xff\ts.bw\t32\t1\tsum\ts\n')), 1,
           r'targets\.txt line 2: not UTF-8 text \(byte 0xff\)'),
    CliRow('targets_missing_bigwig',
           lambda w, tmp: dict(targets=write(
               tmp, 'targets.txt',
               TARGETS_HEADER + '0\ts\tgone.bw\t32\t1\tsum\ts\n')), 1,
           r"targets\.txt: target 's': bigWig 'gone\.bw' not found"),
    CliRow('targets_file_not_a_bigwig',
           lambda w, tmp: dict(targets=write(
               tmp, 'targets.txt',
               TARGETS_HEADER + '0\ts\ttargets.txt\t32\t1\tsum\ts\n')), 1,
           r"bigWig 'targets\.txt' is not a readable bigWig file"),
    CliRow('missing_bed', lambda w, tmp: dict(bed=tmp / 'none.bed'), 1,
           r"BED file '.*none\.bed' not found"),
    CliRow('bed_empty', lambda w, tmp: dict(bed=write(tmp, 'r.bed', '')), 1,
           r"BED file '.*r\.bed' has no regions"),
    CliRow('bed_two_columns',
           lambda w, tmp: dict(bed=write(tmp, 'r.bed', 'chr1\t0\t512\n'
                                         'chr1\t512\n')), 1,
           r'r\.bed line 2: expected at least 3 columns'),
    CliRow('bed_end_before_start',
           lambda w, tmp: dict(bed=write(tmp, 'r.bed', 'chr1\t500\t100\n')),
           1, r'r\.bed line 1: expected 0 <= start < end, got start=500, '
           r'end=100'),
    CliRow('bed_not_utf8',
           lambda w, tmp: dict(bed=write(tmp, 'r.bed',
                                         b'chr1\t0\t512\n\xfe\t0\t5\n')), 1,
           r'r\.bed line 2: not UTF-8 text \(byte 0xfe\)'),
    CliRow('bed_unknown_chromosome',
           lambda w, tmp: dict(bed=write(tmp, 'r.bed', 'chr9\t0\t512\n')), 1,
           r"r\.bed line 1 \(chr9:0-512\): FASTA .* has no chromosome "
           r"'chr9'"),
    CliRow('bed_past_chromosome_end',
           lambda w, tmp: dict(bed=write(tmp, 'r.bed', 'chr2\t0\t4000\n')),
           1, r'r\.bed line 1 \(chr2:0-4000\): ends past chr2 \(1,024 bp'),
    CliRow('bed_unknown_split',
           lambda w, tmp: dict(bed=write(tmp, 'r.bed',
                                         'chr1\t0\t512\ttraining\n')), 1,
           r"column 4 must name the split, one of \['train', 'valid', "
           r"'test'\], got 'training'"),
    CliRow('target_length_does_not_fit',
           lambda w, tmp: dict(target_length=100), 1,
           r'target_length=100 bins of pool_width=128 bp must fit in '
           r'seq_length=512'),
    CliRow('max_n_fraction_above_one',
           lambda w, tmp: dict(max_n_fraction=2), 1,
           r'max_n_fraction must be in \[0, 1\], got 2\.0'),
    CliRow('valid_chromosome_unknown',
           lambda w, tmp: dict(valid_chroms='chr9'), 1,
           r"valid_chroms/test_chroms: FASTA .* has no chromosome 'chr9'"),
    CliRow('out_dir_not_empty', lambda w, tmp: {}, 1,
           r"Output directory '.*out' already exists; pass --overwrite",
           existing=True),
]

SYNTHETIC_ROWS = [
    CliRow('no_out_dir', lambda w, tmp: dict(out_dir=None), 2,
           r'the following arguments are required: --out_dir'),
    CliRow('chrom_sizes_not_integers',
           lambda w, tmp: dict(chrom_sizes='50000,4e4'), 2,
           r"argument --chrom_sizes: expected comma-separated integers, got "
           r"'50000,4e4'"),
    CliRow('enhancer_distance_one_value',
           lambda w, tmp: dict(enhancer_distance='5000'), 2,
           r'argument --enhancer_distance: expected two integers "MIN,MAX", '
           r"got '5000'"),
    CliRow('chromosome_too_small', lambda w, tmp: dict(chrom_sizes='100'), 1,
           r'chrom_sizes must be a non-empty list of integers >= \d+ .*got '
           r'\(100,\)'),
    CliRow('unknown_organism',
           lambda w, tmp: dict(organisms='human,zebrafish'), 1,
           r"organisms \['zebrafish'\] are not in the spec"),
    CliRow('no_organism', lambda w, tmp: dict(organisms=','), 1,
           r'organisms must be distinct names, at least one, got \(\)'),
    CliRow('genome_size_negative',
           lambda w, tmp: dict(chrom_sizes=None, genome_size_mb=-1), 1,
           r'--genome_size_mb must be a positive number, got -1\.0'),
    CliRow('genome_size_infinite',
           lambda w, tmp: dict(chrom_sizes=None, genome_size_mb='inf'), 1,
           r'--genome_size_mb must be a positive number, got inf'),
    CliRow('genome_size_nan',
           lambda w, tmp: dict(chrom_sizes=None, genome_size_mb='nan'), 1,
           r'--genome_size_mb must be a positive number, got nan'),
    CliRow('probability_above_one',
           lambda w, tmp: dict(paired_probability=1.5), 1,
           r'paired_probability must be in \[0, 1\], got 1\.5'),
    CliRow('density_infinite',
           lambda w, tmp: dict(promoters_per_mb='inf'), 1,
           r'promoters_per_mb must be a finite number >= 0, got inf'),
    CliRow('enhancer_distance_reversed',
           lambda w, tmp: dict(enhancer_distance='40000,10000'), 1,
           r'enhancer_distance must be \(dmin, dmax\) with distance_margin < '
           r'dmin <= dmax'),
    CliRow('negative_seed', lambda w, tmp: dict(seed=-1), 1,
           r'seed must be a non-negative integer, got -1'),
    CliRow('out_dir_is_a_file',
           lambda w, tmp: (existing_file(tmp / 'out'), {})[1], 1,
           r"out_dir '.*out' exists and is not a directory"),
    CliRow('out_dir_not_empty', lambda w, tmp: {}, 1,
           r"out_dir '.*out' exists and is not empty; pass overwrite=True "
           r'\(--overwrite\)', existing=True),
]

EXPORT_ROWS = [
    CliRow('no_model_source', lambda w, tmp: dict(keras_model=None), 2,
           r'one of the arguments --keras_model --checkpoint_dir is '
           r'required'),
    CliRow('version_not_an_integer', lambda w, tmp: dict(version='one'), 2,
           r"argument --version: invalid int value: 'one'"),
    CliRow('missing_keras_file',
           lambda w, tmp: dict(keras_model=tmp / 'gone.keras'), 1,
           r'No \.keras model file at .*gone\.keras'),
    CliRow('garbage_keras_file',
           lambda w, tmp: dict(keras_model=write(tmp, 'm.keras', b'junk')), 1,
           r'm\.keras is not a \.keras archive \(a zip file\)'),
    CliRow('zip_without_keras_layout',
           lambda w, tmp: dict(keras_model=zip_without_config(tmp)), 1,
           r'model\.keras has no readable config\.json'),
    CliRow('not_a_keras_file',
           lambda w, tmp: dict(keras_model=write(tmp, 'm.h5', b'junk')), 1,
           r'm\.h5 is not a \.keras file'),
    CliRow('checkpoint_dir_without_checkpoint',
           lambda w, tmp: dict(keras_model=None,
                               checkpoint_dir=mkdir(tmp, 'run')), 1,
           r'No checkpoint in .*run'),
    CliRow('checkpoint_dir_without_config',
           lambda w, tmp: dict(keras_model=None,
                               checkpoint_dir=training_dir_without_config(
                                   tmp)), 1,
           r'No model_config\.json or operative_config\.gin in .*run'),
    CliRow('tracks_without_head', lambda w, tmp: dict(tracks='0,1'), 1,
           r"--tracks '0,1' is not HEAD=INDICES"),
    CliRow('tracks_not_integers', lambda w, tmp: dict(tracks='human=0,x'), 1,
           r"--tracks 'human=0,x': 'x' is not a track index"),
    CliRow('tracks_unknown_head', lambda w, tmp: dict(tracks='zebrafish=0'),
           1, r'zebrafish'),
    CliRow('tracks_out_of_range', lambda w, tmp: dict(tracks='human=5'), 1,
           r'human.*5'),
    CliRow('version_negative', lambda w, tmp: dict(version=-1), 1,
           r'version must be a non-negative integer, got -1'),
    CliRow('version_exists', lambda w, tmp: dict(version=1), 1,
           r'Version 1 already exists at .*out/1; pass overwrite=True',
           existing=True),
]

CONVERT_ROWS = [
    CliRow('no_output', lambda w, tmp: dict(output=None), 2,
           r'the following arguments are required: --output'),
    CliRow('missing_checkpoint',
           lambda w, tmp: dict(checkpoint=tmp / 'none'), 1,
           r'No checkpoint at .*none: .*none\.index does not exist'),
    CliRow('checkpoint_directory_empty',
           lambda w, tmp: dict(checkpoint=mkdir(tmp, 'ckpt')), 1,
           r'No checkpoint in directory .*ckpt: expected a `checkpoint` file '
           r'or exactly one \*\.index file, found 0'),
    CliRow('garbage_checkpoint',
           lambda w, tmp: dict(checkpoint=(
               write(tmp, 'c/ckpt.data-00000-of-00001', b'junk'),
               write(tmp, 'c/ckpt.index', b'junk'))[1]), 1,
           r'Cannot read checkpoint .*ckpt', existing=True),
    CliRow('checkpoint_of_something_else', lambda w, tmp: {}, 1,
           r'Checkpoint .*ckpt does not hold exactly one Enformer',
           existing=True),
    CliRow('output_not_keras',
           lambda w, tmp: dict(output=tmp / 'm.h5'), 1,
           r"output must be a \.keras file, got '.*m\.h5'"),
]

PREDICT_ROWS = [
    CliRow('no_head', lambda w, tmp: dict(head=None), 2,
           r'the following arguments are required: --head'),
    CliRow('unknown_format', lambda w, tmp: dict(format='wig'), 2,
           r"argument --format: invalid choice: 'wig'"),
    CliRow('region_and_bed', lambda w, tmp: dict(bed=w.bed), 2,
           r'argument --bed: not allowed with argument --region'),
    CliRow('region_not_a_region', lambda w, tmp: dict(region='chr1'), 1,
           r"Region 'chr1' is not CHROM:START-END"),
    CliRow('region_end_before_start',
           lambda w, tmp: dict(region='chr1:900-100'), 1,
           r"Region 'chr1:900-100' has end <= start"),
    CliRow('region_unknown_chromosome',
           lambda w, tmp: dict(region='chr9:0-100'), 1,
           r"FASTA '.*genome\.fa' has no chromosome 'chr9' \(it has 'chr1', "
           r"'chr2'\)"),
    CliRow('region_past_chromosome_end',
           lambda w, tmp: dict(region='chr2:0-5000'), 1,
           r'chr2:0-5000 runs past the end of chr2 \(1,024 bp'),
    CliRow('missing_bed',
           lambda w, tmp: dict(region=None, bed=tmp / 'none.bed'), 1,
           r"BED file '.*none\.bed' not found"),
    CliRow('bed_malformed',
           lambda w, tmp: dict(region=None, bed=write(tmp, 'r.bed',
                                                      'chr1 zero 10\n')), 1,
           r"r\.bed line 1: start and end \(columns 2 and 3\) must be "
           r"integers, got 'zero' and '10'"),
    CliRow('bed_not_utf8',
           lambda w, tmp: dict(region=None, bed=write(tmp, 'r.bed',
                                                      b'\xffchr1\t0\t10\n')),
           1, r'r\.bed line 1: not UTF-8 text \(byte 0xff\)'),
    CliRow('bed_unknown_chromosome',
           lambda w, tmp: dict(region=None, bed=write(tmp, 'r.bed',
                                                      'chrX\t0\t10\n')), 1,
           r"r\.bed: FASTA .* has no chromosome 'chrX'"),
    CliRow('missing_model', lambda w, tmp: dict(model=tmp / 'gone.keras'), 1,
           r'No \.keras model file at .*gone\.keras'),
    CliRow('garbage_model',
           lambda w, tmp: dict(model=write(tmp, 'm.keras', b'junk')), 1,
           r'm\.keras is not a \.keras archive \(a zip file\)'),
    CliRow('zip_model_without_keras_layout',
           lambda w, tmp: dict(model=zip_without_config(tmp)), 1,
           r'model\.keras has no readable config\.json'),
    CliRow('missing_fasta', lambda w, tmp: dict(fasta=tmp / 'none.fa'), 1,
           r"FASTA file '.*none\.fa' not found"),
    CliRow('fasta_character_outside_iupac',
           lambda w, tmp: dict(fasta=corrupt_fasta(w, tmp), overwrite=True),
           1, r"FASTA '.*corrupt\.fa' has '7' at chr1:300 \(0-based\), which "
           r'is no nucleotide code', existing=True),
    CliRow('unknown_head', lambda w, tmp: dict(head='zebrafish'), 1,
           r"Unknown head 'zebrafish'; the model has heads \['human'\]"),
    CliRow('targets_wrong_track_count',
           lambda w, tmp: dict(targets=write(tmp, 'targets.txt',
                                             'identifier\ncage\n')), 1,
           r"targets\.txt lists 1 tracks but head 'human' has 2"),
    CliRow('targets_without_identifier',
           lambda w, tmp: dict(targets=write(tmp, 'targets.txt',
                                             'index\tname\n0\tcage\n')), 1,
           r"targets\.txt line 1: missing columns \['identifier'\]"),
    CliRow('track_out_of_range', lambda w, tmp: dict(tracks='5'), 1,
           r'--tracks: track 5 is out of range; the head has 2 tracks'),
    CliRow('track_name_without_targets', lambda w, tmp: dict(tracks='cage'),
           1, r"--tracks: 'cage' is not a track index or range; give "
           r'--targets'),
    CliRow('track_name_unknown',
           lambda w, tmp: dict(targets=w.head_targets, tracks='h3k27ac'), 1,
           r"--tracks: no track 'h3k27ac' in the targets file \(it has "
           r"'cage', 'dnase'\)"),
    CliRow('observed_bigwig_missing',
           lambda w, tmp: dict(plot=True, observed=True, targets=write(
               tmp, 'targets.txt', 'identifier\tfile\ncage\tgone.bw\n'
               'dnase\tgone.bw\n')), 1,
           r"--observed: .*targets\.txt: bigWig 'gone\.bw' of 'cage' not "
           r'found'),
    CliRow('observed_file_not_a_bigwig',
           lambda w, tmp: dict(plot=True, observed=True, targets=write(
               tmp, 'targets.txt', 'identifier\tfile\ncage\ttargets.txt\n'
               'dnase\ttargets.txt\n')), 1,
           r"bigWig 'targets\.txt' of 'cage' is not a bigWig file"),
    CliRow('batch_size_zero', lambda w, tmp: dict(batch_size=0), 1,
           r'--batch_size must be positive, got 0'),
    CliRow('observed_without_plot', lambda w, tmp: dict(observed=True), 1,
           r'--observed needs --plot and --targets'),
    CliRow('sequence_length_differs',
           lambda w, tmp: dict(sequence_length=2048, overwrite=True), 1,
           r"sequence_length=2048 differs from the model's "
           r'sequence_length=1024', existing=True),
    CliRow('out_dir_not_empty', lambda w, tmp: {}, 1,
           r'--out_dir .*out exists and is not an empty directory; pass '
           r'--overwrite', existing=True),
]

def synthetic_data_params(tmp, human):
  return ['SYNTHETIC_HUMAN = ' + repr(str(human)),
          'SYNTHETIC_MOUSE = ' + repr(str(tmp / 'mouse')),
          'train.num_steps = 1']


TRAIN_ROWS = [
    CliRow('no_gin_file', lambda w, tmp: dict(gin_file=None), 2,
           r'the following arguments are required: --gin_file'),
    CliRow('missing_gin_file', lambda w, tmp: dict(gin_file=tmp / 'no.gin'),
           1, r"gin file '.*no\.gin' not found; looked in: .*no\.gin"),
    CliRow('gin_file_syntax_error',
           lambda w, tmp: dict(gin_file=[
               'experiments/smoke.gin',
               write(tmp, 'bad.gin', 'train.num_steps = \n')]), 1,
           r'bad\.gin.*line 1'),
    CliRow('gin_param_syntax_error',
           lambda w, tmp: dict(gin_param='train.num_steps = = 3'), 1,
           r'train\.num_steps = = 3|--gin_param'),
    CliRow('gin_param_unknown_configurable',
           lambda w, tmp: dict(gin_param='foo.bar = 1'), 1,
           r"No configurable matching 'foo'"),
    CliRow('gin_param_unknown_parameter',
           lambda w, tmp: dict(gin_param='enformer_tf.Enformer.chanels = 3'),
           1, r'Keyword argument not understood.*chanels'),
    CliRow('gin_param_bad_value',
           lambda w, tmp: dict(gin_param='enformer_tf.Enformer.channels = -48'),
           1, r'channels must be a positive integer, got -48'),
    CliRow('gin_include_missing',
           lambda w, tmp: dict(gin_file=write(
               tmp, 'inc.gin', "include 'model/nonexistent.gin'\n")), 1,
           r'nonexistent\.gin'),
    CliRow('data_dir_missing',
           lambda w, tmp: dict(gin_file='experiments/small_cpu_synthetic.gin',
                               gin_param=synthetic_data_params(
                                   tmp, tmp / 'human')), 1,
           r'human/statistics\.json: no such file'),
    CliRow('statistics_json_malformed',
           lambda w, tmp: dict(gin_file='experiments/small_cpu_synthetic.gin',
                               gin_param=synthetic_data_params(
                                   tmp, statistics_dir(tmp, '{"num_targets"',
                                                       'human'))), 1,
           r'human/statistics\.json: not valid JSON'),
    CliRow('statistics_json_missing_key',
           lambda w, tmp: dict(gin_file='experiments/small_cpu_synthetic.gin',
                               gin_param=synthetic_data_params(
                                   tmp, statistics_dir(
                                       tmp, {k: v for k, v in
                                             STATISTICS.items()
                                             if k != 'seq_length'},
                                       'human'))), 1,
           r"human/statistics\.json: missing key 'seq_length'"),
]

# Rows for the CLIs written alongside this catalogue: add CliRow(...)s here
# (the CLIs are registered in CLIS, with a base command to fill in).

VCF_HEADER = ('##fileformat=VCFv4.2\n'
              '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n')
VARIANTS = (('chr1', 1001), ('chr2', 500))  # 1-based, REF from the genome.
CONTRIB_REGION = 'chr1:1000-1010'  # Window chr1:493-1517, bins 1 and 2.


def vcf_text(w: World, extra: str = '') -> str:
  """A VCF of `VARIANTS` (REF as in the genome), then `extra` lines."""
  lines = []
  for chrom, pos in VARIANTS:
    ref = w.sequences[chrom][pos - 1]
    alt = next(base for base in 'ACGT' if base != ref)
    lines.append(f'{chrom}\t{pos}\trs{pos}\t{ref}\t{alt}\t.\tPASS\t.\n')
  return VCF_HEADER + ''.join(lines) + extra


def truncated_gzip(tmp, content: str, name='variants.vcf.gz') -> str:
  """`content` gzip-compressed and cut in the middle of the stream."""
  data = gzip.compress(content.encode())
  return write(tmp, name, data[:len(data) // 2])


def binary_garbage(size: int = 4096) -> bytes:
  """Random bytes with NULs among them, as in any binary file."""
  data = bytearray(np.random.default_rng(1).integers(0, 256, size,
                                                     dtype=np.uint8))
  data[10] = 0
  return bytes(data)


def score_variants_base(w: World, out: str) -> Dict[str, Any]:
  """A FASTA and a two-variant VCF beside `out`; scores them to `out`."""
  tmp = pathlib.Path(out).parent
  return dict(model=w.model_path,
              fasta=write_fasta(tmp / 'genome.fa', w.sequences),
              vcf=write(tmp, 'variants.vcf', vcf_text(w)), head='human',
              out=out, no_progress=True)


def contrib_base(w: World, out: str) -> Dict[str, Any]:
  """A FASTA beside `out`; gradient x input over `CONTRIB_REGION`."""
  tmp = pathlib.Path(out).parent
  return dict(model=w.model_path,
              fasta=write_fasta(tmp / 'genome.fa', w.sequences),
              region=CONTRIB_REGION, head='human', out_dir=out)


SCORE_VARIANTS_ROWS: List[CliRow] = [
    CliRow('no_vcf_flag', lambda w, tmp: dict(vcf=None), 2,
           r'the following arguments are required: --vcf'),
    CliRow('no_head_flag', lambda w, tmp: dict(head=None), 2,
           r'the following arguments are required: --head'),
    CliRow('batch_size_not_an_integer',
           lambda w, tmp: dict(batch_size='many'), 2,
           r"argument --batch_size: invalid int value: 'many'"),
    CliRow('missing_model', lambda w, tmp: dict(model=tmp / 'gone.keras'), 1,
           r'No \.keras model file at .*gone\.keras'),
    CliRow('garbage_model',
           lambda w, tmp: dict(model=write(tmp, 'm.keras', b'junk')), 1,
           r'm\.keras is not a \.keras archive \(a zip file\)'),
    CliRow('missing_fasta', lambda w, tmp: dict(fasta=tmp / 'none.fa'), 1,
           r'--fasta .*none\.fa not found'),
    CliRow('missing_vcf', lambda w, tmp: dict(vcf=tmp / 'none.vcf'), 1,
           r'--vcf .*none\.vcf not found'),
    CliRow('vcf_binary_garbage',
           lambda w, tmp: dict(vcf=write(tmp, 'bad.vcf', binary_garbage())),
           1, r"VCF '.*bad\.vcf' is not a text file \(a NUL byte at byte "
           r'10\); expected a VCF'),
    CliRow('vcf_gzip_of_binary_garbage',
           lambda w, tmp: dict(vcf=write(tmp, 'bad.vcf.gz', gzip.compress(
               binary_garbage()))), 1,
           r"VCF '.*bad\.vcf\.gz' is not a text file"),
    CliRow('vcf_header_without_id_column',
           lambda w, tmp: dict(vcf=write(
               tmp, 'bad.vcf', '##fileformat=VCFv4.2\n#CHROM\tPOS\tREF\tALT\n'
               'chr1\t1001\tA\tC\n')), 1,
           r"VCF '.*bad\.vcf' line 2: malformed header: expected columns "
           r"#CHROM POS ID REF ALT, got '#CHROM POS REF ALT'"),
    CliRow('vcf_header_of_a_bed_file',
           lambda w, tmp: dict(vcf=write(tmp, 'bad.vcf',
                                         '#chrom\tstart\tend\tname\tscore\n'
                                         'chr1\t0\t10\tx\t0\n')), 1,
           r"bad\.vcf' line 1: malformed header: .*got '#chrom start end "
           r"name score'"),
    CliRow('vcf_gzip_truncated',
           lambda w, tmp: dict(vcf=truncated_gzip(tmp, vcf_text(w) * 50)), 1,
           r"Cannot read VCF '.*variants\.vcf\.gz' after line \d+: "
           r'Compressed file ended before the end-of-stream marker'),
    CliRow('vcf_gzip_magic_then_garbage',
           lambda w, tmp: dict(vcf=write(tmp, 'bad.vcf.gz',
                                         b'\x1f\x8b' + b'junk' * 20)), 1,
           r"Cannot read VCF '.*bad\.vcf\.gz' after line 0: "),
    CliRow('unknown_head', lambda w, tmp: dict(head='zebrafish'), 1,
           r"Unknown head 'zebrafish'; the model has heads \['human'\]"),
    CliRow('unknown_head_keeps_earlier_scores',
           lambda w, tmp: dict(head='zebrafish'), 1,
           r"Unknown head 'zebrafish'", existing=True),
    CliRow('track_out_of_range', lambda w, tmp: dict(tracks='5'), 1,
           r'--tracks: track 5 is out of range; the head has 2 tracks'),
    CliRow('track_name_without_targets', lambda w, tmp: dict(tracks='cage'),
           1, r"--tracks: 'cage' is not a track index or range; give "
           r'--targets'),
    CliRow('track_name_unknown',
           lambda w, tmp: dict(targets=w.head_targets, tracks='h3k27ac'), 1,
           r"--tracks: no track 'h3k27ac' in the targets file \(it has "
           r"'cage', 'dnase'\)"),
    CliRow('targets_wrong_track_count',
           lambda w, tmp: dict(targets=write(tmp, 'targets.txt',
                                             'identifier\ncage\n')), 1,
           r"targets\.txt lists 1 tracks but head 'human' has 2"),
    CliRow('shifts_not_integers', lambda w, tmp: dict(shifts='-1,x'), 1,
           r"--shifts '-1,x': 'x' is not an integer; expected e\.g\. -1,0,1"),
    CliRow('shifts_empty', lambda w, tmp: dict(shifts=''), 1,
           r"--shifts '': '' is not an integer"),
    CliRow('shift_of_a_bin_or_more', lambda w, tmp: dict(shifts='-1,200'), 1,
           r'shift 200 must be an integer with \|shift\| < 128'),
    CliRow('shifts_repeated', lambda w, tmp: dict(shifts='0,1,0'), 1,
           r'shifts \[0, 1, 0\] repeats a shift'),
    CliRow('batch_size_zero', lambda w, tmp: dict(batch_size=0), 1,
           r'--batch_size must be positive, got 0'),
    CliRow('batch_size_negative', lambda w, tmp: dict(batch_size=-3), 1,
           r'--batch_size must be positive, got -3'),
    CliRow('sequence_length_differs',
           lambda w, tmp: dict(sequence_length=2048), 1,
           r"sequence_length=2048 differs from the model's "
           r'sequence_length=1024'),
    CliRow('out_in_missing_directory',
           lambda w, tmp: dict(out=tmp / 'nodir' / 'scores.tsv'), 1,
           r'The directory of TSV .*nodir/scores\.tsv does not exist'),
    CliRow('out_is_a_directory', lambda w, tmp: dict(out=mkdir(tmp, 'd')), 1,
           r'TSV .*/d is a directory; expected a file path'),
    CliRow('h5_in_missing_directory',
           lambda w, tmp: dict(h5=tmp / 'nodir' / 'scores.h5'), 1,
           r'The directory of HDF5 .*nodir/scores\.h5 does not exist'),
    CliRow('h5_same_as_out', lambda w, tmp: dict(h5=tmp / 'scores.tsv'), 1,
           r'The TSV and HDF5 outputs are the same file .*scores\.tsv'),
    CliRow('skipped_in_missing_directory',
           lambda w, tmp: dict(skipped=tmp / 'nodir' / 'skipped.tsv'), 1,
           r'The directory of --skipped .*nodir/skipped\.tsv does not exist'),
    CliRow('skipped_same_as_out',
           lambda w, tmp: dict(skipped=tmp / 'scores.tsv'), 1,
           r'--skipped .*scores\.tsv is also an output of the scores'),
]

CONTRIB_ROWS: List[CliRow] = [
    CliRow('no_region_flag', lambda w, tmp: dict(region=None), 2,
           r'the following arguments are required: --region'),
    CliRow('batch_size_not_an_integer', lambda w, tmp: dict(batch_size='1.5'),
           2, r"argument --batch_size: invalid int value: '1\.5'"),
    CliRow('missing_model', lambda w, tmp: dict(model=tmp / 'gone.keras'), 1,
           r'No \.keras model file at .*gone\.keras'),
    CliRow('garbage_model',
           lambda w, tmp: dict(model=write(tmp, 'm.keras', b'junk')), 1,
           r'm\.keras is not a \.keras archive \(a zip file\)'),
    CliRow('missing_fasta', lambda w, tmp: dict(fasta=tmp / 'none.fa'), 1,
           r"FASTA file '.*none\.fa' not found"),
    CliRow('unknown_head', lambda w, tmp: dict(head='zebrafish'), 1,
           r"Unknown head 'zebrafish'; this model has the heads \['human'\]"),
    CliRow('track_out_of_range', lambda w, tmp: dict(tracks='1-5'), 1,
           r'--tracks: track 5 is out of range; the head has 2 tracks'),
    CliRow('track_name_without_targets', lambda w, tmp: dict(tracks='cage'),
           1, r"--tracks: 'cage' is not a track index or range; give "
           r'--targets'),
    CliRow('track_name_unknown',
           lambda w, tmp: dict(targets=w.head_targets, tracks='h3k27ac'), 1,
           r"--tracks: no track 'h3k27ac' in the targets file \(it has "
           r"'cage', 'dnase'\)"),
    CliRow('targets_wrong_track_count',
           lambda w, tmp: dict(targets=write(tmp, 'targets.txt',
                                             'identifier\ncage\n')), 1,
           r"targets\.txt lists 1 tracks but head 'human' has 2"),
    CliRow('unknown_method', lambda w, tmp: dict(method=['grad', 'saliency']),
           1, r"--method 'saliency' is not one of grad, ism, attention or "
           r'all'),
    CliRow('batch_size_zero', lambda w, tmp: dict(batch_size=0), 1,
           r'--batch_size must be positive, got 0'),
    CliRow('region_without_end', lambda w, tmp: dict(region='chr1:1000'), 1,
           r"--region 'chr1:1000' is not CHR:START-END"),
    CliRow('region_negative_start', lambda w, tmp: dict(region='chr1:-5-10'),
           1, r"--region 'chr1:-5-10' is not CHR:START-END"),
    CliRow('region_end_before_start',
           lambda w, tmp: dict(region='chr1:1010-1000'), 1,
           r"--region 'chr1:1010-1000' has END <= START"),
    CliRow('region_unknown_chromosome', lambda w, tmp: dict(region='chr9:0-10'),
           1, r"FASTA .*genome\.fa.* has no chromosome 'chr9' \(it has "
           r"'chr1', 'chr2'\)"),
    CliRow('region_past_chromosome_end',
           lambda w, tmp: dict(region='chr2:5000-5010'), 1,
           r'--region chr2:5000-5010 starts past the end of chr2 '
           r'\(1,024 bp\)'),
    CliRow('bins_out_of_range', lambda w, tmp: dict(bins='2:9'), 1,
           r"--bins '2:9' is outside the model's 4 output bins: expected "
           r'0 <= A < B <= 4'),
    CliRow('bin_out_of_range', lambda w, tmp: dict(bins='4'), 1,
           r"--bins '4' is outside the model's 4 output bins"),
    CliRow('bins_reversed', lambda w, tmp: dict(bins='3:1'), 1,
           r"--bins '3:1' is outside the model's 4 output bins"),
    CliRow('bins_not_a_range', lambda w, tmp: dict(bins='one:two'), 1,
           r"--bins 'one:two' is not A:B or A"),
    CliRow('ism_window_offsets_outside_sequence',
           lambda w, tmp: dict(method='ism', ism_window='1000:1100'), 1,
           r"--ism_window '1000:1100' is not inside the input sequence: "
           r'expected offsets 0 <= A < B <= 1024'),
    CliRow('ism_window_genomic_outside_window',
           lambda w, tmp: dict(method='ism', ism_window='chr1:0-10'), 1,
           r'--ism_window chr1:0-10 is not inside the input window '
           r'chr1:493-1517'),
    CliRow('ism_window_other_chromosome',
           lambda w, tmp: dict(method='ism', ism_window='chr2:600-610'), 1,
           r'--ism_window chr2:600-610 is not inside the input window'),
    CliRow('ism_window_malformed',
           lambda w, tmp: dict(method='ism', ism_window='chr1:600'), 1,
           r"--ism_window 'chr1:600' is not CHR:START-END"),
    CliRow('ism_default_window_too_wide',
           lambda w, tmp: dict(method='ism', region='chr1:0-2000'), 1,
           r'--method ism: the region is 1,024 bp, .*choose the bases with '
           r'--ism_window'),
    CliRow('out_dir_not_empty', lambda w, tmp: {}, 1,
           r'--out_dir .*out exists and is not an empty directory; pass '
           r'--overwrite', existing=True),
    CliRow('out_dir_not_empty_and_bad_region',
           lambda w, tmp: dict(region='chr9:0-10', overwrite=True), 1,
           r"no chromosome 'chr9'", existing=True),
    CliRow('out_dir_is_a_file',
           lambda w, tmp: (existing_file(tmp / 'out'), {})[1], 1,
           r'--out_dir .*out exists and is not an empty directory'),
    CliRow('out_dir_under_a_file',
           lambda w, tmp: dict(out_dir=pathlib.Path(
               write(tmp, 'notes.txt', 'a file')) / 'out'), 1,
           r'--out_dir .*notes\.txt/out cannot be made: .*notes\.txt is a '
           r'file, not a directory'),
]


CLIS = {
    'enformer-make-data': Cli(
        'enformer_tf.cli.make_data',
        lambda w, out: dict(fasta=w.fasta, targets=w.targets, bed=w.bed,
                            out_dir=out, seq_length=512, pool_width=128,
                            quiet=True),
        MAKE_DATA_ROWS),
    'enformer-synthetic': Cli(
        'enformer_tf.cli.synthetic',
        lambda w, out: dict(out_dir=out, chrom_sizes='50000,40000',
                            organisms='human'),
        SYNTHETIC_ROWS),
    'enformer-export': Cli(
        'enformer_tf.cli.export',
        lambda w, out: dict(keras_model=w.model_path, export_dir=out,
                            no_warmup=True),
        EXPORT_ROWS, make_existing=existing_version),
    'enformer-convert': Cli(
        'enformer_tf.cli.convert',
        lambda w, out: dict(checkpoint=w.foreign_checkpoint, output=out),
        CONVERT_ROWS, output='out.keras', make_existing=existing_file),
    'enformer-predict': Cli(
        'enformer_tf.cli.predict',
        lambda w, out: dict(model=w.model_path, fasta=w.fasta,
                            region='chr1:512-1024', head='human',
                            out_dir=out, format='bedgraph'),
        PREDICT_ROWS),
    'enformer-train': Cli(
        'enformer_tf.cli.train',
        lambda w, out: dict(gin_file='experiments/smoke.gin', model_dir=out),
        TRAIN_ROWS),
    'enformer-score-variants': Cli(
        'enformer_tf.cli.score_variants', score_variants_base,
        SCORE_VARIANTS_ROWS, output='scores.tsv', make_existing=existing_file),
    'enformer-contrib': Cli(
        'enformer_tf.cli.contrib', contrib_base, CONTRIB_ROWS),
}


def cli_params():
  return [pytest.param(prog, row, id=f'{prog}:{row.name}',
                       marks=[xfail(row.fix)] if row.fix else [])
          for prog, cli in CLIS.items() for row in cli.rows]


def run_main(main, argv):
  """`main(argv)`'s exit status; argparse's SystemExit is one too."""
  try:
    return main(argv)
  except SystemExit as stop:
    return stop.code


def arrange(world, tmp_path, prog, row):
  """Makes the row's bad input; returns the argv."""
  cli = CLIS[prog]
  out = tmp_path / cli.output
  if row.existing:
    cli.make_existing(out)
  options = {**cli.base(world, str(out)), **row.change(world, tmp_path)}
  return flags(options)


def check_error_output(prog, row, code, out, err):
  """One `PROG: error: ...` line matching the row; TF's own log aside."""
  lines = [line for line in err.splitlines()
           if line.strip() and not TF_NATIVE_LOG.match(line)]
  assert 'Traceback' not in err, err
  assert len(lines) == 1, err
  assert lines[0].startswith(f'{prog}: error: '), lines[0]
  assert re.search(row.message, lines[0]), lines[0]
  assert code == row.code, (code, lines[0])
  assert out == ''


@pytest.mark.parametrize('prog, row', cli_params())
def test_cli_bad_input(world, tmp_path, capfd, loaded_once, prog, row):
  # capfd, not capsys: also what C libraries (libBigWig, TensorFlow) write
  # to the stderr file descriptor.
  argv = arrange(world, tmp_path, prog, row)
  before = snapshot(tmp_path)
  capfd.readouterr()
  code = run_main(CLIS[prog].main(), argv)
  check_error_output(prog, row, code, *capfd.readouterr())
  assert snapshot(tmp_path) == before


@pytest.mark.parametrize('prog', [
    'enformer-make-data', 'enformer-synthetic', 'enformer-predict',
    pytest.param('enformer-export', marks=pytest.mark.slow)])
def test_base_command_works(world, tmp_path, capsys, loaded_once, prog):
  """The command every row changes works: the rows fail for their input."""
  cli = CLIS[prog]
  out = tmp_path / cli.output
  assert run_main(cli.main(), flags(cli.base(world, str(out)))) == 0, (
      capsys.readouterr().err)
  assert out.is_dir() and os.listdir(out)


def test_base_command_works_for_enformer_train(world, smoke_training):
  """enformer-train's base command is the session's smoke training
  (tests/smoke_run.py: the same flags, in a fresh process), which works."""
  import smoke_run  # pylint: disable=g-import-not-at-top
  cli = CLIS['enformer-train']
  assert [cli.module, *flags(cli.base(world, smoke_training.model_dir))] == [
      *smoke_run.COMMAND, '--model_dir', smoke_training.model_dir]
  assert smoke_training.returncode == 0, smoke_training.stderr[-2000:]
  assert os.listdir(smoke_training.model_dir)


def test_score_variants_and_contrib_base_commands_work(
    world, tmp_path, capsys, loaded_once):
  """The base commands of the rows above work (outputs: a file, a dir)."""
  for prog in ('enformer-score-variants', 'enformer-contrib'):
    cli = CLIS[prog]
    out = tmp_path / prog / cli.output
    out.parent.mkdir()
    assert run_main(cli.main(), flags(cli.base(world, str(out)))) == 0, (
        capsys.readouterr().err)
    assert out.is_file() if cli.output == 'scores.tsv' else os.listdir(out)
  scores = (tmp_path / 'enformer-score-variants' / 'scores.tsv').read_text()
  assert len(scores.splitlines()) == 1 + len(VARIANTS)


def test_score_variants_skips_bad_records_and_finishes(
    world, tmp_path, capfd, loaded_once):
  """Bad VCF records are not errors: skipped, counted, and the run ends 0."""
  bad_records = ('chr1\t0\t.\tA\tC\t.\tPASS\t.\n'     # POS 0
                 'chr1\t10\t.\tA\n'                      # 4 columns
                 'chr1\t10\t.\tA\t<DEL>\t.\tPASS\t.\n'  # symbolic
                 'chr9\t10\t.\tA\tC\t.\tPASS\t.\n'     # no chr9
                 'chr1\tten\t.\tA\tC\t.\tPASS\t.\n')   # POS not a number
  out = tmp_path / 'scores.tsv'
  options = {**score_variants_base(world, str(out)),
             'vcf': write(tmp_path, 'variants.vcf',
                          vcf_text(world, bad_records)),
             'skipped': tmp_path / 'skipped.tsv'}
  capfd.readouterr()
  code = run_main(CLIS['enformer-score-variants'].main(), flags(options))
  stdout, stderr = capfd.readouterr()
  assert code == 0, stderr
  assert 'Traceback' not in stderr
  assert re.search(r'scored 2 variants, skipped 5 records \(3 malformed, 1 '
                   r'symbolic allele, 1 unknown chromosome\)', stdout), stdout
  skips = [line for line in stderr.splitlines() if 'skipped' in line]
  assert len(skips) == 5, stderr
  assert all(line.startswith('enformer-score-variants: ') and
             ': error:' not in line for line in skips), stderr
  assert len(out.read_text().splitlines()) == 3
  assert len((tmp_path / 'skipped.tsv').read_text().splitlines()) == 6
  assert not list(tmp_path.glob('*.partial'))


# -- Failures while writing ----------------------------------------------------------


def test_predict_failure_while_writing_keeps_the_old_output(
    world, tmp_path, capsys, loaded_once, monkeypatch):
  from enformer_tf.cli import predict as predict_cli
  from enformer_tf.genomics import track_writers
  out = tmp_path / 'out'
  existing_directory(out)
  before = snapshot(tmp_path)

  def disk_full(*args, **kwargs):
    raise OSError(28, 'No space left on device')

  monkeypatch.setattr(track_writers, 'write_npz', disk_full)
  argv = flags({**CLIS['enformer-predict'].base(world, str(out)),
                'overwrite': True})
  assert predict_cli.main(argv) == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and 'No space left on device' in err[0]
  assert snapshot(tmp_path) == before


def test_convert_failure_after_saving_leaves_no_keras_file(
    tmp_path, capsys, monkeypatch):
  """The .keras is saved before the export; a failed export removes it."""
  from enformer_tf.cli import convert as convert_cli
  from enformer_tf.io import deepmind_checkpoint as convert

  def small_model(path, **kwargs):
    return keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])

  def export_fails(model, export_dir, **kwargs):
    raise OSError(28, 'No space left on device')

  monkeypatch.setattr(convert, 'enformer_from_deepmind_checkpoint',
                      small_model)
  monkeypatch.setattr(saved_model, 'export_saved_model', export_fails)
  existing_file(tmp_path / 'out.keras')
  before = snapshot(tmp_path)
  assert convert_cli.main(['--checkpoint', 'any', '--output',
                           str(tmp_path / 'out.keras'), '--export_dir',
                           str(tmp_path / 'serving')]) == 1
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and 'No space left on device' in err[0]
  assert snapshot(tmp_path) == before


# -- End to end, as processes --------------------------------------------------------


END_TO_END = [
    ('enformer-make-data', 'bed_two_columns'),
    ('enformer-predict', 'no_head'),
    ('enformer-train', 'missing_gin_file'),
]


@pytest.mark.parametrize('prog, name', END_TO_END)
def test_cli_end_to_end(world, tmp_path, prog, name):
  """The installed entry point: exit status and stderr as a user sees them.

  TensorFlow's native start-up lines (printed at import, before absl
  logging is set up, whatever TF_CPP_MIN_LOG_LEVEL says) are the only other
  stderr lines allowed.
  """
  row = next(r for r in CLIS[prog].rows if r.name == name)
  argv = arrange(world, tmp_path, prog, row)
  before = snapshot(tmp_path)
  environment = {k: v for k, v in os.environ.items()
                 if k != 'TF_CPP_MIN_LOG_LEVEL'}
  # This checkout's package, whichever copy is installed.
  environment['PYTHONPATH'] = os.pathsep.join(
      [str(pathlib.Path(__file__).resolve().parents[2])] +
      [p for p in [os.environ.get('PYTHONPATH')] if p])
  result = subprocess.run(
      [sys.executable, '-m', CLIS[prog].module, *argv], capture_output=True,
      text=True, timeout=300, env=environment, cwd=tmp_path)
  check_error_output(prog, row, result.returncode, result.stdout,
                     result.stderr)
  assert snapshot(tmp_path) == before
