"""Tests for enformer-make-data: exact targets and sequences, splits, errors."""
import json
import os
import re

import numpy as np
import pyBigWig
import pytest

from enformer_tf.cli import make_data as make_data_cli
from enformer_tf.data import basenji
from enformer_tf.data import bigwig
from enformer_tf.data import make_data as make_data_lib

SEQ_LENGTH = 512
POOL_WIDTH = 32
CROP_BP = 64
TARGET_LENGTH = (SEQ_LENGTH - 2 * CROP_BP) // POOL_WIDTH  # 12
CHROMS = {'chr1': 2000, 'chr2': 1500, 'chr3': 900, 'chr4': 300}
# Tracks: (bigWig, sum_stat, scale, clip, clip_soft). Track t2 reuses t0's
# file with another statistic; t1's bigWig has no chr4 at all.
TRACKS = [('t0.bw', 'sum', 2.0, 300.0, None),
          ('t1.bw', 'mean', 0.5, 5.0, 2.0),
          ('t0.bw', 'max', 1.0, None, None)]
BED = [('chr1', 0, 100, 'train'),        # Runs off the start.
       ('chr1', 700, 1212, 'train'),
       ('chr2', 1400, 1500, 'valid'),    # Runs off the end.
       ('chr3', 200, 700, 'test'),       # 500 bp, resized to 512.
       ('chr4', 0, 300, 'train'),        # Runs off both ends.
       ('chr2', 300, 812, 'test')]


# -- A tiny genome and its tracks ---------------------------------------------


def random_coverage(rng, size):
  """Per-base values with gaps (NaN = no data) and runs of equal values."""
  values = np.full(size, np.nan)
  position = int(rng.integers(0, 20))
  while position < size:
    run = int(rng.integers(1, 40))
    if rng.random() < 0.7:
      values[position:position + run] = np.round(rng.gamma(1.0, 3.0), 2)
    position += run + int(rng.integers(0, 15) * (rng.random() < 0.4))
  return values


def write_bigwig_intervals(path, coverage, header=None):
  """bigWig with one bedGraph-like entry per non-NaN base."""
  bigwig = pyBigWig.open(str(path), 'w')
  bigwig.addHeader(header or [(c, len(v)) for c, v in coverage.items()])
  for chrom, values in coverage.items():
    positions = np.flatnonzero(~np.isnan(values))
    if len(positions):
      bigwig.addEntries([chrom] * len(positions),
                        [int(p) for p in positions],
                        ends=[int(p) + 1 for p in positions],
                        values=[float(v) for v in values[positions]])
  bigwig.close()


def write_fasta(path, sequences):
  with open(path, 'w') as f:
    for name, sequence in sequences.items():
      f.write(f'>{name}\n')
      for i in range(0, len(sequence), 60):
        f.write(sequence[i:i + 60] + '\n')


def write_targets_file(path, tracks, extra_rows=''):
  """targets.txt in the cross2020 layout (no clip_soft column)."""
  with open(path, 'w') as f:
    f.write('index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n')
    for i, (file, sum_stat, scale, clip, _) in enumerate(tracks):
      f.write(f'{i}\tt{i}\t{file}\t{"" if clip is None else clip}\t{scale}\t'
              f'{sum_stat}\ttrack {i}\n')
    f.write(extra_rows)


def write_targets_with_soft_clip(path, tracks):
  """targets.txt in the baskerville layout (unnamed index, clip_soft)."""
  blank = lambda x: '' if x is None else x
  with open(path, 'w') as f:
    f.write('\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\t'
            'description\n')
    for i, (file, sum_stat, scale, clip, clip_soft) in enumerate(tracks):
      f.write(f'{i}\tt{i}\t{file}\t{blank(clip)}\t{blank(clip_soft)}\t'
              f'{scale}\t{sum_stat}\ttrack {i}\n')


def write_bed(path, rows):
  with open(path, 'w') as f:
    f.write('# regions\n')
    for row in rows:
      f.write('\t'.join(str(x) for x in row) + '\n')


class World:
  """A FASTA, bigWigs and targets.txt in a temp dir, and the truth arrays."""

  def __init__(self, root):
    rng = np.random.default_rng(7)
    self.root = root
    self.sequences = {
        name: ''.join(rng.choice(list('ACGTACGTacgtN'), size))
        for name, size in CHROMS.items()}
    self.fasta = str(root / 'genome.fa')
    write_fasta(self.fasta, self.sequences)
    self.coverage = {
        't0.bw': {c: random_coverage(rng, n) for c, n in CHROMS.items()},
        't1.bw': {c: random_coverage(rng, n) for c, n in CHROMS.items()
                  if c != 'chr4'}}
    self.coverage['t0.bw']['chr3'][:] = np.nan  # A chromosome without data.
    (root / 'tracks').mkdir()
    for file, coverage in self.coverage.items():
      write_bigwig_intervals(root / 'tracks' / file, coverage)
    self.targets = str(root / 'tracks' / 'targets.txt')
    write_targets_with_soft_clip(self.targets, TRACKS)
    self.bed = str(root / 'regions.bed')
    write_bed(self.bed, BED)
    self.out_dir = str(root / 'out' / 'data')

  def run(self, **kwargs):
    args = dict(seq_length=SEQ_LENGTH, pool_width=POOL_WIDTH, crop_bp=CROP_BP,
                seqs_per_file=4)
    args.update(kwargs)
    if 'tile' not in args and 'bed' not in args:
      args['bed'] = self.bed
    return make_data_lib.make_data(self.fasta, self.targets, self.out_dir,
                                   **args)


@pytest.fixture(name='world')
def _world(tmp_path):
  return World(tmp_path)


# -- Independent reference ----------------------------------------------------


def naive_sequence(sequence, start, end):
  return ''.join(sequence[i] if 0 <= i < len(sequence) else 'N'
                 for i in range(start, end))


def naive_one_hot(sequence):
  table = {'A': 0, 'C': 1, 'G': 2, 'T': 3}
  one_hot = np.zeros((len(sequence), 4), np.float32)
  for i, base in enumerate(sequence):
    if base.upper() in table:
      one_hot[i, table[base.upper()]] = 1
  return one_hot


def naive_targets(world, chrom, start):
  """[bins, tracks] computed base by base from the truth arrays."""
  targets = np.zeros((TARGET_LENGTH, len(TRACKS)))
  for t, (file, sum_stat, scale, clip, clip_soft) in enumerate(TRACKS):
    values = world.coverage[file].get(chrom)
    for b in range(TARGET_LENGTH):
      bin_values = []
      for i in range(POOL_WIDTH):
        position = start + CROP_BP + b * POOL_WIDTH + i
        inside = values is not None and 0 <= position < len(values)
        value = values[position] if inside else np.nan
        bin_values.append(0.0 if np.isnan(value) else scale * value)
      x = {'sum': sum, 'max': max,
           'mean': lambda v: sum(v) / len(v)}[sum_stat](bin_values)
      if clip_soft is not None and x > clip_soft:
        x = clip_soft - 1 + np.sqrt(x - clip_soft + 1)
      if clip is not None:
        x = min(max(x, -clip), clip)
      targets[b, t] = x
  return targets


def read_split(out_dir, split):
  return [(example['sequence'].numpy(), example['target'].numpy())
          for example in basenji.load_dataset(out_dir, split)]


def read_sequences_bed(out_dir):
  with open(os.path.join(out_dir, 'sequences.bed')) as f:
    return [(c, int(s), int(e), split)
            for c, s, e, split in (line.split('\t') for line in
                                   f.read().splitlines())]


def resized(start, end):
  centre = (start + end + 1) // 2
  return centre - SEQ_LENGTH // 2, centre + SEQ_LENGTH // 2


# -- Binning ------------------------------------------------------------------


def test_bin_coverage_numbers():
  coverage = np.array([1, 2, np.nan, 5, 0, 0, 30, 10], dtype=np.float32)
  bins = lambda **kw: bigwig.bin_coverage(coverage, 4, **kw)
  np.testing.assert_allclose(bins(sum_stat='sum'), [8, 40])
  np.testing.assert_allclose(bins(sum_stat='mean'), [2, 10])
  np.testing.assert_allclose(bins(sum_stat='max'), [5, 30])
  np.testing.assert_allclose(bins(sum_stat='sum', scale=0.5), [4, 20])
  np.testing.assert_allclose(bins(sum_stat='sum', clip=10), [8, 10])
  # Soft clip at 4: 8 -> 3 + sqrt(5); 40 -> 3 + sqrt(37).
  np.testing.assert_allclose(bins(sum_stat='sum', clip_soft=4),
                             [3 + np.sqrt(5), 3 + np.sqrt(37)], rtol=1e-6)
  np.testing.assert_allclose(bins(sum_stat='sum', clip_soft=4, clip=8),
                             [3 + np.sqrt(5), 8], rtol=1e-6)
  np.testing.assert_allclose(bins(sum_stat='sum_sqrt'),
                             [-1 + 3, -1 + np.sqrt(41)], rtol=1e-6)
  np.testing.assert_allclose(bins(sum_stat='mean_sqrt', scale=2),
                             [-1 + np.sqrt(5), -1 + np.sqrt(21)], rtol=1e-6)
  big = bigwig.bin_coverage(np.full(4, 1e5), 2)
  np.testing.assert_array_equal(big, [65504, 65504])  # float16 maximum.
  with pytest.raises(ValueError, match="sum_stat must be one of"):
    bins(sum_stat='median')
  with pytest.raises(ValueError, match='multiple of pool_width=3'):
    bigwig.bin_coverage(coverage, 3)


# -- BED regions: exact numbers -----------------------------------------------


def test_bed_regions_targets_and_sequences_exact(world, caplog):
  stats = world.run()
  assert 't1.bw has no chr4; its targets there are 0' in caplog.text
  assert stats == dict(num_targets=3, train_seqs=3, valid_seqs=1,
                       test_seqs=2, seq_length=SEQ_LENGTH,
                       pool_width=POOL_WIDTH, crop_bp=CROP_BP,
                       target_length=TARGET_LENGTH, seq_1hot=False)
  statistics = basenji.read_statistics(world.out_dir)
  for key, value in stats.items():
    assert statistics[key] == value, key

  # sequences.bed: resized regions, grouped by split in record order.
  expected = [(c, *resized(s, e), split) for split in ('train', 'valid', 'test')
              for c, s, e, bed_split in BED if bed_split == split]
  assert read_sequences_bed(world.out_dir) == expected
  assert expected[0][1:3] == (-206, 306)    # chr1 off the start.
  assert expected[2][1:3] == (-106, 406)    # chr4 off both ends.

  records = []
  for split in ('train', 'valid', 'test'):
    records += read_split(world.out_dir, split)
  assert len(records) == len(expected)
  for (chrom, start, end, _), (one_hot, target) in zip(expected, records):
    sequence = naive_sequence(world.sequences[chrom], start, end)
    np.testing.assert_array_equal(one_hot, naive_one_hot(sequence))
    want = naive_targets(world, chrom, start)
    assert target.shape == (TARGET_LENGTH, len(TRACKS))
    # float16 storage: ~3 significant digits.
    np.testing.assert_allclose(target, want, rtol=1e-3, atol=1e-3)
  # The chr4 region: padded with N on both sides, t1 has no chr4 (zeros).
  one_hot, target = records[2]
  assert not one_hot[:106].any() and not one_hot[-106:].any()
  assert not target[:, 1].any()
  assert target[:, 0].any()
  # Clipping and soft clipping did something in this data.
  all_targets = np.concatenate([t for _, t in records])
  assert all_targets[:, 0].max() == pytest.approx(300, rel=1e-3)
  assert 2 < all_targets[:, 1].max() <= 5

  # targets.txt copy: same tracks, file paths as given.
  with open(os.path.join(world.out_dir, 'targets.txt')) as f:
    lines = f.read().splitlines()
  assert lines[0].split('\t')[:4] == ['index', 'identifier', 'file', 'clip']
  assert [line.split('\t')[1:3] for line in lines[1:]] == [
      ['t0', 't0.bw'], ['t1', 't1.bw'], ['t2', 't0.bw']]
  assert sorted(os.listdir(os.path.join(world.out_dir, 'tfrecords'))) == [
      'test-0.tfr', 'train-0.tfr', 'valid-0.tfr']
  assert sorted(os.listdir(os.path.dirname(world.out_dir))) == ['data']


def test_bed_without_split_column_is_train_and_target_length(world):
  write_bed(world.bed, [row[:3] for row in BED])
  stats = world.run(crop_bp=None, target_length=TARGET_LENGTH)
  assert stats['crop_bp'] == CROP_BP
  assert (stats['train_seqs'], stats['valid_seqs'], stats['test_seqs']) == (
      6, 0, 0)
  assert len(read_split(world.out_dir, 'train')) == 6


def test_bed_name_column_ignored_when_splitting_by_chromosome(world):
  write_bed(world.bed, [(c, s, e, f'peak{i}', 0, '+')
                        for i, (c, s, e, _) in enumerate(BED)])
  stats = world.run(valid_chroms=['chr1'], test_chroms=['chr4'])
  assert (stats['train_seqs'], stats['valid_seqs'], stats['test_seqs']) == (
      3, 2, 1)
  assert [row[3] for row in read_sequences_bed(world.out_dir)] == [
      'train'] * 3 + ['valid'] * 2 + ['test']


def test_seq_1hot_and_file_chunks(world):
  world.run(seq_1hot=True, seqs_per_file=2, valid_chroms=['chr2'])
  assert basenji.read_statistics(world.out_dir)['seq_1hot']
  assert sorted(os.listdir(os.path.join(world.out_dir, 'tfrecords'))) == [
      'train-0.tfr', 'train-1.tfr', 'valid-0.tfr']
  rows = read_sequences_bed(world.out_dir)
  assert [r[3] for r in rows] == ['train'] * 4 + ['valid'] * 2
  records = read_split(world.out_dir, 'train') + read_split(world.out_dir,
                                                            'valid')
  for (chrom, start, end, _), (one_hot, _) in zip(rows, records):
    np.testing.assert_array_equal(one_hot, naive_one_hot(
        naive_sequence(world.sequences[chrom], start, end)))


# -- Tiling and splits --------------------------------------------------------


def tiles(stride):
  return [(c, s, s + SEQ_LENGTH) for c, n in CHROMS.items()
          for s in range(0, n - SEQ_LENGTH + 1, stride)]


def test_tile_split_by_chromosome(world):
  stats = world.run(tile=True, stride=256, valid_chroms=['chr2'],
                    test_chroms=['chr3'])
  all_tiles = tiles(256)
  assert len(all_tiles) == 12  # 6 on chr1, 4 on chr2, 2 on chr3, 0 on chr4.
  split_of = {'chr1': 'train', 'chr2': 'valid', 'chr3': 'test'}
  expected = [(*tile, split) for split in ('train', 'valid', 'test')
              for tile in all_tiles if split_of[tile[0]] == split]
  assert read_sequences_bed(world.out_dir) == expected
  assert (stats['train_seqs'], stats['valid_seqs'], stats['test_seqs']) == (
      6, 4, 2)
  statistics = basenji.read_statistics(world.out_dir)
  assert (statistics['train_seqs'], statistics['valid_seqs'],
          statistics['test_seqs']) == (6, 4, 2)
  valid = read_split(world.out_dir, 'valid')
  assert len(valid) == 4
  for (chrom, start, _, _), (_, target) in zip(expected[6:], valid):
    np.testing.assert_allclose(target, naive_targets(world, chrom, start),
                               rtol=1e-3, atol=1e-3)


def test_tile_split_by_fold(world):
  stats = world.run(tile=True, stride=256, folds=4, valid_fold=0,
                    test_fold=1, chroms=['chr1', 'chr2', 'chr3'])
  all_tiles = tiles(256)
  fold_split = ['valid'] * 3 + ['test'] * 3 + ['train'] * 6  # i * 4 // 12.
  expected = [(*tile, split) for split in ('train', 'valid', 'test')
              for tile, s in zip(all_tiles, fold_split) if s == split]
  assert read_sequences_bed(world.out_dir) == expected
  assert (stats['train_seqs'], stats['valid_seqs'], stats['test_seqs']) == (
      6, 3, 3)


def test_tile_default_stride_chroms_and_max_n_fraction(world):
  world.sequences['chr1'] = 'N' * 600 + world.sequences['chr1'][600:]
  write_fasta(world.fasta, world.sequences)
  stats = world.run(tile=True, chroms=['chr1'], max_n_fraction=0.5)
  # Windows at 0, 512, 1024; the first is all N and dropped.
  assert read_sequences_bed(world.out_dir) == [
      ('chr1', 512, 1024, 'train'), ('chr1', 1024, 1536, 'train')]
  assert stats['train_seqs'] == 2


def test_overwrite(world):
  world.run()
  with pytest.raises(FileExistsError, match='already exists; pass '
                     r'--overwrite'):
    world.run()
  stats = world.run(overwrite=True, valid_chroms=['chr1'])
  assert stats['valid_seqs'] == 2
  assert sorted(os.listdir(os.path.dirname(world.out_dir))) == ['data']


# -- Bad inputs ---------------------------------------------------------------


def rename_chroms(world):
  """t0.bw with Ensembl names (1, 2, ...) instead of chr1, chr2."""
  coverage = {c[3:]: v for c, v in world.coverage['t0.bw'].items()}
  write_bigwig_intervals(world.root / 'tracks' / 't0.bw', coverage)


def resize_chr2(world):
  coverage = dict(world.coverage['t1.bw'])
  write_bigwig_intervals(world.root / 'tracks' / 't1.bw', coverage,
                         header=[('chr1', 2000), ('chr2', 1400),
                                 ('chr3', 900)])


def other_genome(world):
  write_bigwig_intervals(world.root / 'tracks' / 't1.bw',
                         {'scaffold_1': np.ones(50)})


BAD_INPUTS = {
    'fasta_missing_chromosome': (
        lambda w: write_bed(w.bed, BED + [('chrX', 0, 512, 'train')]),
        ValueError,
        r"regions.bed line 8 \(chrX:0-512\): FASTA '.*genome.fa' has no "
        r"chromosome 'chrX' \(it has 'chr1', 'chr2', 'chr3', 'chr4'\)"),
    'bed_past_chromosome_end': (
        lambda w: write_bed(w.bed, [('chr4', 200, 301, 'train')]),
        ValueError, r"regions.bed line 2 \(chr4:200-301\): ends past chr4 "
        r"\(300 bp in FASTA '.*genome.fa'\); is it the same genome "
        r"assembly\?"),
    'bed_naming_differs': (
        lambda w: write_bed(w.bed, [('1', 0, 512, 'train')]),
        ValueError, r"has no chromosome '1' .*did you mean 'chr1'\?"),
    'bigwig_naming_differs': (
        rename_chroms, ValueError,
        r"bigWig '.*t0.bw' names chromosomes differently from the FASTA: it "
        r"has '1' where the FASTA has 'chr1'"),
    'bigwig_other_assembly': (
        resize_chr2, ValueError,
        r"bigWig '.*t1.bw' has chr2 of 1,400 bp but the FASTA has 1,500 bp"),
    'bigwig_other_genome': (
        other_genome, ValueError,
        r"bigWig '.*t1.bw' shares no chromosome name with the FASTA \(it has "
        r"'scaffold_1'\)"),
    'bed_malformed_number': (
        lambda w: open(w.bed, 'a').write('chr1\tabc\t100\n'),
        ValueError,
        r"regions.bed line 8: start and end \(columns 2 and 3\) must be "
        r"integers, got 'abc' and '100'"),
    'bed_too_few_columns': (
        lambda w: open(w.bed, 'a').write('chr1 100\n'),
        ValueError, r'regions.bed line 8: expected at least 3 columns'),
    'bed_end_before_start': (
        lambda w: open(w.bed, 'a').write('chr1\t100\t50\n'),
        ValueError, r'regions.bed line 8: expected 0 <= start < end'),
    'bed_bad_split': (
        lambda w: write_bed(w.bed, [('chr1', 0, 512, 'validation')]),
        ValueError, r"regions.bed line 2 \(chr1:0-512\): column 4 must name "
        r"the split, one of \['train', 'valid', 'test'\], got 'validation'"),
    'bed_split_missing_on_a_line': (
        lambda w: open(w.bed, 'a').write('chr1\t0\t512\n'),
        ValueError, r"regions.bed line 8 \(chr1:0-512\): column 4 must name "
        r"the split, .* got None"),
    'targets_malformed': (
        lambda w: write_targets_file(w.targets, TRACKS[:1],
                                     '1\tt1\tt1.bw\t32\tbig\tsum\tx\n'),
        ValueError,
        r"targets.txt line 3, column 'scale': expected a number, got 'big'"),
    'targets_bad_sum_stat': (
        lambda w: write_targets_file(w.targets, [('t0.bw', 'peak', 1, 2,
                                                  None)]),
        ValueError, r"targets.txt line 2, column 'sum_stat': expected one of"),
    'missing_bigwig': (
        lambda w: write_targets_file(w.targets, [('nope.bw', 'sum', 1, 2,
                                                  None)]),
        FileNotFoundError,
        r"targets.txt: target 't0': bigWig 'nope.bw' not found \(looked for "
        r"'.*tracks/nope.bw'\)"),
    'not_a_bigwig': (
        lambda w: write_targets_file(w.targets, [('targets.txt', 'sum', 1, 2,
                                                  None)]),
        ValueError, r"bigWig 'targets.txt' is not a readable bigWig file"),
    'missing_fasta': (
        lambda w: os.remove(w.fasta), FileNotFoundError,
        r"FASTA file '.*genome.fa' not found"),
    'missing_targets': (
        lambda w: os.remove(w.targets), FileNotFoundError,
        r"targets file '.*targets.txt' not found"),
    'missing_bed': (
        lambda w: os.remove(w.bed), FileNotFoundError,
        r"BED file '.*regions.bed' not found"),
}


@pytest.mark.parametrize('name', sorted(BAD_INPUTS))
def test_bad_input_errors_and_leaves_nothing(world, name):
  break_world, error, message = BAD_INPUTS[name]
  break_world(world)
  with pytest.raises(error, match=message):
    world.run()
  parent = os.path.dirname(world.out_dir)
  assert not os.path.exists(parent) or not os.listdir(parent)


@pytest.mark.parametrize('kwargs, message', [
    (dict(crop_bp=10), r'seq_length - 2 \* crop_bp = 492 bp must be a '
     r'positive multiple of pool_width=32'),
    (dict(target_length=100), r'target_length=100 bins of pool_width=32 bp '
     r'must fit in seq_length=512'),
    (dict(target_length=10), r'crop_bp=64 disagrees with target_length=10'),
    (dict(valid_chroms=['chr2'], folds=4, valid_fold=0), r'not both'),
    (dict(valid_chroms=['chr2'], test_chroms=['chr2']),
     r"\['chr2'\] are in both"),
    (dict(valid_chroms=['2']), r"valid_chroms/test_chroms: FASTA .* has no "
     r"chromosome '2'"),
    (dict(folds=4), r'folds needs valid_fold and/or test_fold'),
    (dict(folds=4, valid_fold=4), r'valid_fold must be an integer in \[0, 4\)'),
    (dict(folds=4, valid_fold=1, test_fold=1), r'are both 1'),
    (dict(tile=True, bed='BED'), r'exactly one source of regions'),
    (dict(stride=5), r'stride applies only to --tile'),
    (dict(tile=True, seq_length=4096, crop_bp=0),
     r'No window of seq_length=4,096 bp fits'),
    (dict(max_n_fraction=2), r'max_n_fraction must be in \[0, 1\]'),
])
def test_bad_arguments(world, kwargs, message):
  if kwargs.get('bed') == 'BED':
    kwargs['bed'] = world.bed
  with pytest.raises(ValueError, match=message):
    world.run(**kwargs)
  assert not os.path.exists(os.path.dirname(world.out_dir))


def test_failure_while_writing_leaves_nothing(world, monkeypatch):
  world.run()  # An existing directory must survive a failed overwrite.
  before = sorted(os.listdir(world.out_dir))
  calls = []
  original = bigwig.bin_coverage

  def failing(*args, **kwargs):
    calls.append(1)
    if len(calls) > 4:
      raise ValueError('disk on fire')
    return original(*args, **kwargs)

  monkeypatch.setattr(bigwig, 'bin_coverage', failing)
  with pytest.raises(ValueError, match='disk on fire'):
    world.run(overwrite=True)
  assert sorted(os.listdir(os.path.dirname(world.out_dir))) == ['data']
  assert sorted(os.listdir(world.out_dir)) == before


# -- CLI ----------------------------------------------------------------------


def cli_args(world, *extra):
  return ['--fasta', world.fasta, '--targets', world.targets, '--out_dir',
          world.out_dir, '--seq_length', str(SEQ_LENGTH), '--pool_width',
          str(POOL_WIDTH), '--crop_bp', str(CROP_BP), '--quiet', *extra]


def test_cli_success(world, capsys):
  assert make_data_cli.main(cli_args(
      world, '--tile', '--stride', '256', '--folds', '4', '--valid_fold', '0',
      '--test_fold', '1', '--seq_1hot', '--seqs_per_file', '5')) == 0
  statistics = basenji.read_statistics(world.out_dir)
  assert (statistics['train_seqs'], statistics['valid_seqs'],
          statistics['test_seqs'], statistics['target_length']) == (
              6, 3, 3, TARGET_LENGTH)
  assert capsys.readouterr().out == ''


@pytest.mark.parametrize('name', ['bigwig_naming_differs', 'missing_fasta',
                                  'bed_malformed_number', 'targets_malformed'])
def test_cli_error_is_one_line(world, capsys, name):
  break_world, _, message = BAD_INPUTS[name]
  break_world(world)
  assert make_data_cli.main(cli_args(world, '--bed', world.bed)) == 1
  captured = capsys.readouterr()
  lines = captured.err.splitlines()
  assert len(lines) == 1, captured.err
  assert lines[0].startswith('enformer-make-data: error: ')
  assert re.search(message, lines[0])
  assert 'Traceback' not in captured.err
  assert not os.path.exists(os.path.dirname(world.out_dir))


def test_cli_refuses_existing_out_dir(world, capsys):
  os.makedirs(world.out_dir)
  with open(os.path.join(world.out_dir, 'keep.txt'), 'w') as f:
    f.write('mine')
  assert make_data_cli.main(cli_args(world, '--bed', world.bed)) == 1
  assert 'already exists; pass --overwrite' in capsys.readouterr().err
  assert os.listdir(world.out_dir) == ['keep.txt']
  assert make_data_cli.main(cli_args(world, '--bed', world.bed,
                                     '--overwrite')) == 0
  assert 'keep.txt' not in os.listdir(world.out_dir)
  with open(os.path.join(world.out_dir, 'statistics.json')) as f:
    assert json.load(f)['train_seqs'] == 3
