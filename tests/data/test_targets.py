"""Tests for enformer_tf.data.targets: header forms, errors, writing."""
import dataclasses
import os

import pytest

from enformer_tf.data import targets as targets_lib

# The first lines of calico/basenji manuscripts/cross2020/targets_human.txt
# (header with `index` and an extra `genome` column; file paths shortened).
CROSS2020 = (
    'index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n'
    '0\t0\tENCFF833POA\t/data/ENCSR000EIJ/coverage.w5\t32\t2\tmean\t'
    'DNASE:cerebellum male adult (27 years) and male adult (35 years)\n'
    '1\t0\tENCFF110QGM\t/data/ENCSR000EIK/coverage.w5\t32\t2\tmean\t'
    'DNASE:frontal cortex male adult (27 years) and male adult (35 years)\n')

# calico/baskerville tests/data/tiny/hg38/targets.txt style: unnamed index,
# clip_soft and strand_pair.
BASKERVILLE = (
    '\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tstrand_pair\t'
    'description\n'
    '0\tCNhs10752+\tcage/plus.bw\t384\t64\t1.0\tsum_sqrt\t1\tCAGE:Ca9-22\n'
    '1\tCNhs10752-\tcage/minus.bw\t384\t64\t1.0\tsum_sqrt\t0\tCAGE:Ca9-22\n'
    '2\tDNASE1\t/abs/dnase.bw\t32\t\t2\tmean\t2\tDNASE:x\n')

HEADER = 'index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n'


def write(tmp_path, text, name='targets.txt'):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def test_reads_cross2020_header(tmp_path):
  targets = targets_lib.read_targets(write(tmp_path, CROSS2020))
  assert [t.index for t in targets] == [0, 1]
  first = targets[0]
  assert first.identifier == 'ENCFF833POA'
  assert (first.clip, first.scale, first.sum_stat) == (32.0, 2.0, 'mean')
  assert first.clip_soft is None and first.strand_pair is None
  assert first.description.startswith('DNASE:cerebellum male adult')
  assert first.extra == {'genome': '0'}
  assert first.path == '/data/ENCSR000EIJ/coverage.w5'


def test_reads_unnamed_index_and_resolves_relative_paths(tmp_path):
  path = write(tmp_path, BASKERVILLE)
  targets = targets_lib.read_targets(path)
  assert [t.identifier for t in targets] == ['CNhs10752+', 'CNhs10752-',
                                             'DNASE1']
  assert [t.clip_soft for t in targets] == [64.0, 64.0, None]
  assert [t.strand_pair for t in targets] == [1, 0, 2]
  assert targets[0].file == 'cage/plus.bw'
  assert targets[0].path == os.path.join(str(tmp_path), 'cage/plus.bw')
  assert targets[2].path == '/abs/dnase.bw'


def test_reads_pandas_header_without_index_name(tmp_path):
  text = ('identifier\tfile\tclip\tscale\tsum_stat\tdescription\n'
          '5\ta\ta.bw\t10\t1\tsum\tA\n'
          '7\tb\tb.bw\t10\t1\tsum\tB\n')
  targets = targets_lib.read_targets(write(tmp_path, text))
  assert [(t.index, t.identifier) for t in targets] == [(5, 'a'), (7, 'b')]


def test_reads_file_without_index_column(tmp_path):
  text = ('identifier\tfile\tdescription\n'
          'a\ta.bw\tA\n'
          'b\tb.bw\tB\n')
  targets = targets_lib.read_targets(write(tmp_path, text),
                                     required_columns=('identifier',))
  assert [(t.index, t.identifier) for t in targets] == [(0, 'a'), (1, 'b')]
  assert (targets[0].clip, targets[0].scale, targets[0].sum_stat) == (
      None, 1.0, 'sum')


def test_write_read_round_trip_and_renumber(tmp_path):
  targets = targets_lib.read_targets(write(tmp_path, BASKERVILLE))
  subset = targets_lib.renumber_targets([targets[2], targets[1], targets[0]])
  assert [t.index for t in subset] == [0, 1, 2]
  assert [t.strand_pair for t in subset] == [0, 2, 1]
  out = tmp_path / 'out' / 'targets.txt'
  out.parent.mkdir()
  targets_lib.write_targets(str(out), subset)
  lines = out.read_text().splitlines()
  assert lines[0] == ('index\tidentifier\tfile\tclip\tclip_soft\tscale\t'
                      'sum_stat\tstrand_pair\tdescription')
  assert lines[1] == '0\tDNASE1\t/abs/dnase.bw\t32\t\t2\tmean\t0\tDNASE:x'
  reread = targets_lib.read_targets(str(out))
  for before, after in zip(subset, reread):
    assert after.file == before.file  # Written as given.
    assert after.path == os.path.join(str(out.parent), before.file)
    for field in ('index', 'identifier', 'clip', 'clip_soft', 'scale',
                  'sum_stat', 'strand_pair', 'description'):
      assert getattr(after, field) == getattr(before, field), field


def test_write_scaled_targets_changes_only_the_scale(tmp_path):
  path = write(tmp_path, BASKERVILLE)
  before = targets_lib.read_targets(path)
  scaled_path = targets_lib.write_scaled_targets(path, 0.02)
  assert scaled_path == str(tmp_path / 'targets_scaled.txt')
  after = targets_lib.read_targets(scaled_path)
  assert [t.scale for t in after] == [0.02] * len(before)
  assert [dataclasses.replace(t, scale=1.0) for t in after] == [
      dataclasses.replace(t, scale=1.0) for t in before]


def test_write_keeps_extra_columns(tmp_path):
  targets = targets_lib.read_targets(write(tmp_path, CROSS2020))
  out = str(tmp_path / 'copy.txt')
  targets_lib.write_targets(out, targets)
  reread = targets_lib.read_targets(out)
  assert [t.extra for t in reread] == [{'genome': '0'}] * 2
  assert [t.scale for t in reread] == [2.0, 2.0]


@pytest.mark.parametrize('text, message', [
    ('', r'is empty; expected a tab-separated header'),
    ('index\tidentifier\tfile\tclip\tsum_stat\tdescription\n0\ta\ta.bw\t1\t'
     'sum\tA\n', r"line 1: missing columns \['scale'\]"),
    (HEADER + '0\ta\ta.bw\t32\t1\tsum\tA\n1\tb\tb.bw\t32\n',
     r'line 3: expected 7 tab-separated columns .* got 4'),
    (HEADER + '0\ta\ta.bw\tbig\t1\tsum\tA\n',
     r"line 2, column 'clip': expected a number, got 'big'"),
    (HEADER + '0\ta\ta.bw\t-3\t1\tsum\tA\n',
     r"line 2, column 'clip': expected a positive number, got '-3'"),
    (HEADER + '0\ta\ta.bw\t32\tx2\tsum\tA\n',
     r"line 2, column 'scale': expected a number, got 'x2'"),
    (HEADER + 'zero\ta\ta.bw\t32\t1\tsum\tA\n',
     r"line 2, column 'index': expected an integer, got 'zero'"),
    (HEADER + '0\ta\ta.bw\t32\t1\tmedian\tA\n',
     r"line 2, column 'sum_stat': expected one of \['sum', 'mean'\], got "
     r"'median'"),
    (HEADER + '0\t\ta.bw\t32\t1\tsum\tA\n',
     r"line 2, column 'identifier': is empty"),
    (HEADER + '0\ta\t\t32\t1\tsum\tA\n', r"line 2, column 'file': is empty"),
    (HEADER + '0\ta\ta.bw\t32\t1\tsum\tA\n0\tb\tb.bw\t32\t1\tsum\tB\n',
     r"index 0 is used twice \('a' and 'b'\)"),
    (HEADER + '0\ta\ta.bw\t32\t1\tsum\tA\n1\ta\tb.bw\t32\t1\tsum\tB\n',
     r"identifier 'a' is used twice"),
    (HEADER, r'has a header but no targets'),
])
def test_malformed_files(tmp_path, text, message):
  path = write(tmp_path, text)
  with pytest.raises(ValueError, match=message) as info:
    targets_lib.read_targets(path, sum_stats=('sum', 'mean'))
  assert str(info.value).startswith(path)


@pytest.mark.parametrize('pairs, message', [
    ('1\t2\t2', r"strand pairs must be mutual, but 't0' \(index 0\) pairs "
     r"with index 1 \('t1'\), whose strand_pair is 2"),
    ('7\t1\t2', r"'t0' has strand_pair 7, which is no target index"),
])
def test_strand_pairs_must_be_mutual(tmp_path, pairs, message):
  rows = ''.join(f'{i}\tt{i}\tt{i}.bw\t32\t1\tsum\t{pair}\tT\n'
                 for i, pair in enumerate(pairs.split('\t')))
  text = ('index\tidentifier\tfile\tclip\tscale\tsum_stat\tstrand_pair\t'
          'description\n' + rows)
  with pytest.raises(ValueError, match=message):
    targets_lib.read_targets(write(tmp_path, text))


def test_missing_file(tmp_path):
  with pytest.raises(FileNotFoundError, match='nothing.txt'):
    targets_lib.read_targets(str(tmp_path / 'nothing.txt'))
