"""`enformer-make-data`: Basenji2 / Enformer TFRecords from a FASTA and bigWigs.

Inputs: a genome FASTA, a targets.txt naming one bigWig per track, and the
regions: a BED file (optionally naming each region's split in column 4) or
a tiling of the genome, split by chromosome or by fold. Output, in the
layout `basenji.load_dataset` reads:

  {out_dir}/tfrecords/{split}-{i}.tfr  sequence + binned targets per region
  {out_dir}/statistics.json            sizes and counts
  {out_dir}/sequences.bed              chrom, start, end, split; grouped by
                                       split (train, valid, test) in record
                                       order
  {out_dir}/targets.txt                the tracks, numbered 0..n-1

The binning follows calico's data readers (baskerville
`scripts/hound_data_read.py`, default transform; basenji
`bin/basenji_data_read.py`); see `bin_coverage`. Example, Enformer-shaped
data (196,608 bp in, 896 bins of 128 bp out):

  enformer-make-data --fasta hg38.fa --targets targets.txt \\
      --tile --stride 65536 --valid_chroms chr8 --test_chroms chr9 \\
      --seq_length 196608 --target_length 896 --out_dir data/human
"""
import argparse
import functools
import json
import logging
import os
import shutil
import sys
import uuid
from typing import (Dict, Iterable, Iterator, List, NamedTuple, Optional,
                    Sequence, Tuple)

import numpy as np
import pyBigWig
from tqdm import tqdm

from enformer_tf import atomic
from enformer_tf.data import basenji
from enformer_tf.data import encoding
from enformer_tf.data import genome
from enformer_tf.data import targets as targets_lib

SPLITS = ('train', 'valid', 'test')
SUM_STATS = ('sum', 'mean', 'avg', 'max', 'sum_sqrt', 'mean_sqrt',
             'avg_sqrt')
_FLOAT16_MAX = float(np.finfo(np.float16).max)

_log = logging.getLogger(__name__)


class Region(NamedTuple):
  """A model input window `[start, end)` and the split it belongs to."""
  chrom: str
  start: int
  end: int
  split: Optional[str] = None


# -- Binning -----------------------------------------------------------------


def bin_coverage(coverage: np.ndarray, pool_width: int, sum_stat: str = 'sum',
                 scale: float = 1.0, clip: Optional[float] = None,
                 clip_soft: Optional[float] = None) -> np.ndarray:
  """Per-base coverage -> one track's binned targets, as calico computes them.

  In order (baskerville `hound_data_read.py` default transform, which is
  also basenji's `basenji_data_read.py`):

  1. missing values (NaN, bigWig gaps) are 0;
  2. `x = scale * coverage`, per base;
  3. each `pool_width` bin is reduced by `sum_stat`: `sum`; `mean` (or
     `avg`); `max`; `sum_sqrt` / `mean_sqrt` (or `avg_sqrt`) are the sum /
     mean followed by `-1 + sqrt(1 + x)`;
  4. soft clip: where `x > clip_soft`, `x = clip_soft - 1 + sqrt(x -
     clip_soft + 1)` (continuous at the threshold, slope 1/2 there);
  5. hard clip: `x = clip(x, -clip, clip)`;
  6. clip to float16's finite range (the TFRecords store float16).

  Differences from calico, both deliberate: calico rounds per-base coverage
  to float16 before summing, here it is summed in float64; and calico
  finally clips each track at its 99.99999th percentile over the whole data
  set, which needs all regions at once and is not done here. calico fills
  NaN with the region's median, but `np.percentile` of an array holding a
  NaN is NaN, which it then turns into 0, so NaN becomes 0 there as well.

  Args:
    coverage: per-base values `[W]`, `W` a multiple of `pool_width`.
    pool_width: bases per bin.
    sum_stat: the bin statistic, one of `SUM_STATS`.
    scale: per-base multiplier.
    clip: hard clip (`None` = none).
    clip_soft: soft clip threshold (`None` = none).

  Returns:
    float32 `[W // pool_width]`.
  """
  coverage = np.asarray(coverage, dtype=np.float64)
  if coverage.ndim != 1 or coverage.shape[0] % pool_width:
    raise ValueError(f'bin_coverage expects a 1-D array whose length is a '
                     f'multiple of pool_width={pool_width}, got shape '
                     f'{coverage.shape}.')
  x = scale * np.nan_to_num(coverage, nan=0.0, posinf=0.0, neginf=0.0)
  x = x.reshape(-1, pool_width)  # [bins, pool_width]
  if sum_stat in ('sum', 'sum_sqrt'):
    x = x.sum(axis=1)
  elif sum_stat in ('mean', 'avg', 'mean_sqrt', 'avg_sqrt'):
    x = x.mean(axis=1)
  elif sum_stat == 'max':
    x = x.max(axis=1)
  else:
    raise ValueError(f'sum_stat must be one of {list(SUM_STATS)}, got '
                     f'{sum_stat!r}.')
  if sum_stat.endswith('_sqrt'):
    x = -1 + np.sqrt(1 + x)
  if clip_soft is not None:
    over = x > clip_soft
    x[over] = clip_soft - 1 + np.sqrt(x[over] - clip_soft + 1)
  if clip is not None:
    x = np.clip(x, -clip, clip)
  return np.clip(x, -_FLOAT16_MAX, _FLOAT16_MAX).astype(np.float32)


# -- Regions -----------------------------------------------------------------


def read_bed(path: str) -> List[Region]:
  """Regions of a BED file; column 4, if present, is kept as `split`.

  Blank lines, `#` comments and `track` / `browser` header lines are
  skipped. Columns are tab-separated (whitespace if a line has no tab); see
  `genome.read_bed_records` for the rules.

  Raises:
    FileNotFoundError: no such file.
    ValueError: a malformed line (the message names file and line), a file
      that is not UTF-8 text, or no regions.
  """
  return [region for _, region in _read_bed_lines(path)]


def _read_bed_lines(path: str) -> List[Tuple[int, Region]]:
  """`(line number, region)` of each region of a BED file; see read_bed."""
  return [(record.line, Region(record.chrom, record.start, record.end,
                               record.extra[0] if record.extra else None))
          for record in genome.read_bed_records(path)]


def tile_genome(chromosome_sizes: Dict[str, int], seq_length: int,
                stride: int, chroms: Optional[Sequence[str]] = None
                ) -> List[Region]:
  """Windows `[s, s + seq_length)`, `s = 0, stride, ...`, per chromosome.

  Args:
    chromosome_sizes: chromosome -> length, in genome order.
    seq_length: window width.
    stride: step between window starts.
    chroms: tile only these (default: all, in `chromosome_sizes` order).

  Returns:
    Regions in genome order, without split; chromosomes shorter than
    `seq_length` contribute none.
  """
  regions = []
  for chrom in (chromosome_sizes if chroms is None else chroms):
    last_start = chromosome_sizes[chrom] - seq_length
    regions += [Region(chrom, start, start + seq_length)
                for start in range(0, last_start + 1, stride)]
  return regions


def split_by_chromosome(regions: Sequence[Region], valid_chroms: Iterable[str],
                        test_chroms: Iterable[str]) -> List[Region]:
  """Regions on `valid_chroms` -> valid, `test_chroms` -> test, else train."""
  valid, test = set(valid_chroms), set(test_chroms)
  return [r._replace(split='valid' if r.chrom in valid else
                     'test' if r.chrom in test else 'train') for r in regions]


def split_by_fold(regions: Sequence[Region], folds: int,
                  valid_fold: Optional[int], test_fold: Optional[int]
                  ) -> List[Region]:
  """Cuts `regions`, in order, into `folds` contiguous near-equal blocks.

  Region `i` of `n` is in fold `i * folds // n`; fold `valid_fold` is
  valid, `test_fold` test, the rest train. Contiguous blocks of a tiling
  keep overlapping windows in the same fold except at the block edges.
  """
  n = len(regions)
  def split(i):
    fold = i * folds // n
    return ('valid' if fold == valid_fold else
            'test' if fold == test_fold else 'train')
  return [r._replace(split=split(i)) for i, r in enumerate(regions)]


# -- Tracks ------------------------------------------------------------------


_BIGWIG_MAGIC = 0x888FFC26  # First 4 bytes, in the file's byte order.


def is_bigwig_file(path: str) -> bool:
  """Whether `path` starts with the bigWig magic number (not opening it).

  libBigWig (pyBigWig) prints errors of its own to stderr when it opens a
  file that is not a bigWig; asking this first keeps them out of sight.
  """
  with open(path, 'rb') as f:
    head = f.read(4)
  return len(head) == 4 and _BIGWIG_MAGIC in (
      int.from_bytes(head, 'little'), int.from_bytes(head, 'big'))


class _Tracks:
  """The bigWigs of targets.txt (each file opened once), missing data = NaN."""

  def __init__(self, targets: Sequence[targets_lib.Target],
               targets_file: str):
    self.targets = targets
    self._bigwigs = {}  # path -> open bigWig.
    self._warned = set()
    try:
      for target in targets:
        path = target.path
        if path in self._bigwigs:
          continue
        where = (f'{targets_file}: target {target.identifier!r}: bigWig '
                 f'{target.file!r}')
        if not os.path.isfile(path):
          raise FileNotFoundError(f'{where} not found (looked for {path!r}).')
        bigwig = None
        if is_bigwig_file(path):
          try:
            bigwig = pyBigWig.open(path)
          except RuntimeError:
            pass
        if bigwig is None or not bigwig.isBigWig():
          raise ValueError(f'{where} is not a readable bigWig file.')
        self._bigwigs[path] = bigwig
    except BaseException:
      self.close()
      raise

  def check_chromosomes(self, chromosome_sizes: Dict[str, int],
                        used_chroms: Iterable[str]) -> None:
    """Raises if a bigWig names or sizes chromosomes unlike the FASTA."""
    used_chroms = list(dict.fromkeys(used_chroms))
    for path, bigwig in self._bigwigs.items():
      sizes = bigwig.chroms()
      for chrom in used_chroms:
        alternative = genome.alternative_chromosome_name(chrom)
        if chrom not in sizes and alternative in sizes:
          raise ValueError(
              f'bigWig {path!r} names chromosomes differently from the '
              f'FASTA: it has {alternative!r} where the FASTA has '
              f'{chrom!r}. Rename the chromosomes of one of them.')
        if chrom in sizes and sizes[chrom] != chromosome_sizes[chrom]:
          raise ValueError(
              f'bigWig {path!r} has {chrom} of {sizes[chrom]:,} bp but the '
              f'FASTA has {chromosome_sizes[chrom]:,} bp; are they the same '
              'genome assembly?')
      if not set(sizes) & set(chromosome_sizes):
        shown = ', '.join(repr(c) for c in list(sizes)[:5])
        raise ValueError(f'bigWig {path!r} shares no chromosome name with '
                         f'the FASTA (it has {shown}).')

  def read(self, chrom: str, start: int, end: int) -> List[np.ndarray]:
    """Per-base values `[end - start]` of each target; NaN = no data."""
    by_path = {path: self._read(path, bigwig, chrom, start, end)
               for path, bigwig in self._bigwigs.items()}
    return [by_path[target.path] for target in self.targets]

  def _read(self, path, bigwig, chrom, start, end) -> np.ndarray:
    coverage = np.full(end - start, np.nan, dtype=np.float32)
    size = bigwig.chroms(chrom)
    if size is None:
      if (path, chrom) not in self._warned:
        self._warned.add((path, chrom))
        _log.warning('bigWig %s has no %s; its targets there are 0.', path,
                     chrom)
      return coverage
    left, right = max(start, 0), min(end, size)
    if left < right:
      coverage[left - start:right - start] = bigwig.values(
          chrom, left, right, numpy=True)
    return coverage

  def close(self) -> None:
    for bigwig in self._bigwigs.values():
      bigwig.close()
    self._bigwigs = {}


# -- make_data ----------------------------------------------------------------


def make_data(fasta: str, targets: str, out_dir: str, *,
              bed: Optional[str] = None, tile: bool = False,
              stride: Optional[int] = None,
              chroms: Optional[Sequence[str]] = None,
              valid_chroms: Sequence[str] = (),
              test_chroms: Sequence[str] = (),
              folds: Optional[int] = None, valid_fold: Optional[int] = None,
              test_fold: Optional[int] = None, seq_length: int = 131_072,
              pool_width: int = 128, crop_bp: Optional[int] = None,
              target_length: Optional[int] = None, seqs_per_file: int = 256,
              seq_1hot: bool = False,
              max_n_fraction: Optional[float] = None,
              overwrite: bool = False, progress: bool = False
              ) -> Dict[str, int]:
  """Writes a Basenji2-format data directory from a genome and bigWigs.

  Each region is resized (centred, `genome.resize_interval`) to
  `seq_length`; its sequence is read from the FASTA with `N` beyond the
  chromosome ends; each track's targets are the central `seq_length - 2 *
  crop_bp` bp of its bigWig, binned by `bin_coverage` with the track's
  `sum_stat`, `scale`, `clip_soft` and `clip`. The directory appears
  atomically: it is built beside `out_dir` and renamed into place, and
  nothing is left behind on failure.

  Args:
    fasta: genome FASTA.
    targets: targets.txt, one bigWig per track (see `targets.read_targets`).
    out_dir: the data directory to create.
    bed: regions; a 4th column, unless a split option is given, must name
      each region's split (`train`, `valid`, `test`). Without column 4 and
      split options all regions are train.
    tile: instead of `bed`, tile the genome with windows of `seq_length`.
    stride: step between tiled windows (default `seq_length`).
    chroms: use only regions on these chromosomes (e.g. to leave out chrY
      and unplaced contigs when tiling).
    valid_chroms: chromosomes whose regions are valid.
    test_chroms: chromosomes whose regions are test.
    folds: instead of chromosomes, cut the regions (in order) into this many
      contiguous folds (`split_by_fold`).
    valid_fold: the fold that is valid.
    test_fold: the fold that is test.
    seq_length: bp of each input sequence.
    pool_width: bp per target bin.
    crop_bp: bp on each side without targets; default 0, or from
      `target_length`.
    target_length: bins per region; `crop_bp = (seq_length - target_length
      * pool_width) / 2`.
    seqs_per_file: examples per TFRecord file.
    seq_1hot: store sequences as uint8 base indices (calico's newer format)
      instead of one-hot booleans.
    max_n_fraction: drop regions whose sequence has a larger fraction of
      non-ACGT bases (default: keep all).
    overwrite: replace an existing non-empty `out_dir`.
    progress: show a progress bar (tqdm, on stderr) over regions.

  Returns:
    The statistics written to statistics.json.

  Raises:
    FileNotFoundError: a missing input file.
    FileExistsError: `out_dir` exists and `overwrite` is False.
    ValueError: bad arguments or malformed inputs; messages name the file
      (and line) and what is wrong.
  """
  crop_bp, target_length = _check_sizes(seq_length, pool_width, crop_bp,
                                        target_length, seqs_per_file)
  if max_n_fraction is not None and not 0 <= max_n_fraction <= 1:
    raise ValueError(f'max_n_fraction must be in [0, 1], got '
                     f'{max_n_fraction!r}.')
  out_dir = os.path.abspath(os.fspath(out_dir))
  _check_out_dir(out_dir, overwrite)
  target_list = targets_lib.renumber_targets(
      targets_lib.read_targets(targets, sum_stats=SUM_STATS))

  with genome.FastaExtractor(fasta) as fasta_extractor:
    sizes = fasta_extractor.chromosome_sizes
    split_column = not (_splits_by_chromosome(valid_chroms, test_chroms) or
                        _splits_by_fold(folds, valid_fold, test_fold))
    regions = _regions(fasta_extractor, bed=bed, tile=tile, stride=stride,
                       chroms=chroms, seq_length=seq_length,
                       split_column=split_column)
    regions = _split(fasta_extractor, regions, valid_chroms=valid_chroms,
                     test_chroms=test_chroms, folds=folds,
                     valid_fold=valid_fold, test_fold=test_fold)
    tracks = _Tracks(target_list, targets)
    try:
      tracks.check_chromosomes(sizes, (r.chrom for r in regions))
      return _write_atomically(out_dir, overwrite, functools.partial(
          _write_data, regions=regions, fasta_extractor=fasta_extractor,
          tracks=tracks, seq_length=seq_length, pool_width=pool_width,
          crop_bp=crop_bp, target_length=target_length,
          seqs_per_file=seqs_per_file, seq_1hot=seq_1hot,
          max_n_fraction=max_n_fraction, progress=progress))
    finally:
      tracks.close()


def _write_data(data_dir, *, regions, fasta_extractor, tracks, seq_length,
                pool_width, crop_bp, target_length, seqs_per_file, seq_1hot,
                max_n_fraction, progress) -> Dict[str, int]:
  """Writes the TFRecords, sequences.bed, targets.txt, statistics.json."""
  counts = {}
  with open(os.path.join(data_dir, 'sequences.bed'), 'w',
            encoding='utf-8') as bed_out, tqdm(
                total=len(regions), disable=not progress, unit='region',
                desc='enformer-make-data') as bar:
    for split in SPLITS:
      examples = _examples([r for r in regions if r.split == split],
                           fasta_extractor, tracks, crop_bp, pool_width,
                           max_n_fraction, bed_out, bar)
      counts[split] = basenji.write_tfrecords(
          data_dir, split, examples, seqs_per_file=seqs_per_file,
          seq_1hot=seq_1hot)
  targets_lib.write_targets(os.path.join(data_dir, 'targets.txt'),
                            tracks.targets)
  stats = dict(num_targets=len(tracks.targets), train_seqs=counts['train'],
               valid_seqs=counts['valid'], test_seqs=counts['test'],
               seq_length=seq_length, pool_width=pool_width, crop_bp=crop_bp,
               target_length=target_length, seq_1hot=bool(seq_1hot))
  basenji.write_statistics(data_dir, **stats)
  return stats


def _check_sizes(seq_length, pool_width, crop_bp, target_length,
                 seqs_per_file) -> Tuple[int, int]:
  """(crop_bp, target_length) from the size arguments, validated."""
  for name, value in (('seq_length', seq_length), ('pool_width', pool_width),
                      ('seqs_per_file', seqs_per_file)):
    if int(value) != value or value < 1:
      raise ValueError(f'{name} must be a positive integer, got {value!r}.')
  if target_length is not None:
    if int(target_length) != target_length or target_length < 1:
      raise ValueError('target_length must be a positive integer, got '
                       f'{target_length!r}.')
    margin = seq_length - target_length * pool_width
    if margin < 0 or margin % 2:
      raise ValueError(
          f'target_length={target_length} bins of pool_width={pool_width} '
          f'bp must fit in seq_length={seq_length} with an even margin '
          f'(2 * crop_bp), got {margin} bp.')
    if crop_bp is not None and crop_bp != margin // 2:
      raise ValueError(f'crop_bp={crop_bp} disagrees with target_length='
                       f'{target_length}, which needs crop_bp={margin // 2}.')
    crop_bp = margin // 2
  crop_bp = 0 if crop_bp is None else crop_bp
  if int(crop_bp) != crop_bp or crop_bp < 0:
    raise ValueError(f'crop_bp must be a non-negative integer, got '
                     f'{crop_bp!r}.')
  width = seq_length - 2 * crop_bp
  if width <= 0 or width % pool_width:
    raise ValueError(
        f'seq_length - 2 * crop_bp = {width} bp must be a positive multiple '
        f'of pool_width={pool_width} (seq_length={seq_length}, '
        f'crop_bp={crop_bp}).')
  return int(crop_bp), width // pool_width


def _check_out_dir(out_dir: str, overwrite: bool) -> None:
  if os.path.lexists(out_dir) and not overwrite:
    if not os.path.isdir(out_dir) or os.listdir(out_dir):
      raise FileExistsError(f'Output directory {out_dir!r} already exists; '
                            'pass --overwrite (overwrite=True) to replace '
                            'it.')


def _regions(fasta_extractor, *, bed, tile, stride, chroms, seq_length,
             split_column):
  """The regions from a BED file or a tiling, resized to seq_length.

  With `split_column`, a BED file's column 4 must name each region's split
  (or be absent on every line).
  """
  sizes = fasta_extractor.chromosome_sizes
  if (bed is None) == (not tile):
    raise ValueError('Give exactly one source of regions: a BED file '
                     '(--bed) or a genome tiling (--tile).')
  for chrom in chroms or ():
    fasta_extractor.check_chromosome(chrom, 'chroms: ')
  if tile:
    stride = seq_length if stride is None else stride
    if int(stride) != stride or stride < 1:
      raise ValueError(f'stride must be a positive integer, got {stride!r}.')
    regions = tile_genome(sizes, seq_length, int(stride), chroms)
    if not regions:
      raise ValueError(
          f'No window of seq_length={seq_length:,} bp fits in the '
          f'chromosomes of FASTA {fasta_extractor.fasta_file!r} (longest: '
          f'{max(sizes.values(), default=0):,} bp).')
    return regions
  if stride is not None:
    raise ValueError('stride applies only to --tile, not to --bed regions.')
  numbered = _read_bed_lines(bed)
  has_split = split_column and any(r.split is not None for _, r in numbered)
  for number, region in numbered:
    where = f'{bed} line {number} ({region.chrom}:{region.start}-{region.end})'
    fasta_extractor.check_chromosome(region.chrom, where + ': ')
    if region.end > sizes[region.chrom]:
      raise ValueError(
          f'{where}: ends past {region.chrom} ({sizes[region.chrom]:,} bp in '
          f'FASTA {fasta_extractor.fasta_file!r}); is it the same genome '
          'assembly?')
    if has_split and region.split not in SPLITS:
      raise ValueError(
          f'{where}: column 4 must name the split, one of {list(SPLITS)}, '
          f'got {region.split!r} (or pass valid_chroms/test_chroms or folds '
          'to ignore column 4).')
  regions = [region if has_split else region._replace(split=None)
             for _, region in numbered]
  if chroms is not None:
    regions = [r for r in regions if r.chrom in set(chroms)]
    if not regions:
      raise ValueError(f'BED file {bed!r} has no region on chroms {chroms}.')
  return [genome.resize_interval(r, seq_length) for r in regions]


def _split(fasta_extractor, regions, *, valid_chroms, test_chroms, folds,
           valid_fold, test_fold):
  """Regions with their split set (kept if the BED named them)."""
  if _splits_by_chromosome(valid_chroms, test_chroms):
    if _splits_by_fold(folds, valid_fold, test_fold):
      raise ValueError('Split either by chromosome (valid_chroms, '
                       'test_chroms) or by fold (folds, valid_fold, '
                       'test_fold), not both.')
    overlap = sorted(set(valid_chroms) & set(test_chroms))
    if overlap:
      raise ValueError(f'Chromosomes {overlap} are in both valid_chroms and '
                       'test_chroms.')
    for chrom in (*valid_chroms, *test_chroms):
      fasta_extractor.check_chromosome(chrom, 'valid_chroms/test_chroms: ')
    return split_by_chromosome(regions, valid_chroms, test_chroms)
  if _splits_by_fold(folds, valid_fold, test_fold):
    if folds is None or int(folds) != folds or folds < 2:
      raise ValueError(f'folds must be an integer >= 2, got {folds!r}.')
    if valid_fold is None and test_fold is None:
      raise ValueError('folds needs valid_fold and/or test_fold.')
    for name, fold in (('valid_fold', valid_fold), ('test_fold', test_fold)):
      if fold is not None and (int(fold) != fold or not 0 <= fold < folds):
        raise ValueError(f'{name} must be an integer in [0, {folds}), got '
                         f'{fold!r}.')
    if valid_fold is not None and valid_fold == test_fold:
      raise ValueError(f'valid_fold and test_fold are both {valid_fold}.')
    return split_by_fold(regions, int(folds), valid_fold, test_fold)
  return [r if r.split is not None else r._replace(split='train')
          for r in regions]


def _splits_by_chromosome(valid_chroms, test_chroms) -> bool:
  return bool(valid_chroms or test_chroms)


def _splits_by_fold(folds, valid_fold, test_fold) -> bool:
  return folds is not None or valid_fold is not None or test_fold is not None


def _examples(regions, fasta_extractor, tracks, crop_bp, pool_width,
              max_n_fraction, bed_out, bar
              ) -> Iterator[Tuple[str, np.ndarray]]:
  """(DNA string [L], targets [bins, tracks]) per kept region; logs to bed."""
  for region in regions:
    sequence = fasta_extractor.extract(region.chrom, region.start, region.end)
    bar.update(1)
    if max_n_fraction is not None:
      indices = encoding.sequence_to_indices(sequence)  # [L]
      if np.mean(indices == encoding.N_INDEX) > max_n_fraction:
        continue
    coverage = tracks.read(region.chrom, region.start + crop_bp,
                           region.end - crop_bp)
    target = np.stack([
        bin_coverage(values, pool_width, t.sum_stat, t.scale, t.clip,
                     t.clip_soft)
        for values, t in zip(coverage, tracks.targets)], axis=-1)  # [N, T]
    bed_out.write(f'{region.chrom}\t{region.start}\t{region.end}\t'
                  f'{region.split}\n')
    yield sequence, target


def _write_atomically(out_dir, overwrite, build):
  """Runs `build(temp_dir)` beside out_dir, then renames it into place."""
  parent, name = os.path.split(out_dir)
  os.makedirs(parent, exist_ok=True)
  temp_dir = os.path.join(parent, f'.{name}.tmp-{uuid.uuid4().hex[:8]}')
  os.mkdir(temp_dir)
  try:
    result = build(temp_dir)
    if os.path.lexists(out_dir):
      _check_out_dir(out_dir, overwrite)  # Unless it appeared meanwhile.
    atomic.swap_into_place(temp_dir, out_dir)
  except BaseException:
    shutil.rmtree(temp_dir, ignore_errors=True)
    raise
  return result


# -- CLI -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
  """An argument parser whose errors are one line, not usage + error."""

  def error(self, message):
    self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def _parser() -> argparse.ArgumentParser:
  parser = _Parser(
      prog='enformer-make-data',
      description=('Build Basenji2/Enformer TFRecords from a genome FASTA '
                   'and one bigWig per track.'))
  parser.add_argument('--fasta', required=True, help='genome FASTA')
  parser.add_argument('--targets', required=True,
                      help='targets.txt: one bigWig per track, with clip, '
                      'scale, sum_stat')
  parser.add_argument('--out_dir', required=True, help='directory to create')
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument('--bed', help='regions; optional column 4 names the '
                      'split (train/valid/test)')
  source.add_argument('--tile', action='store_true',
                      help='tile the genome with seq_length windows')
  parser.add_argument('--stride', type=int,
                      help='tiling step in bp (default: seq_length)')
  parser.add_argument('--chroms', nargs='+',
                      help='use only these chromosomes')
  parser.add_argument('--valid_chroms', nargs='+', default=[],
                      help='chromosomes for the valid split')
  parser.add_argument('--test_chroms', nargs='+', default=[],
                      help='chromosomes for the test split')
  parser.add_argument('--folds', type=int,
                      help='split the regions into this many contiguous folds')
  parser.add_argument('--valid_fold', type=int, help='fold used as valid')
  parser.add_argument('--test_fold', type=int, help='fold used as test')
  parser.add_argument('--seq_length', type=int, default=131_072,
                      help='input sequence length in bp (default: 131072)')
  parser.add_argument('--pool_width', type=int, default=128,
                      help='bp per target bin (default: 128)')
  parser.add_argument('--crop_bp', type=int,
                      help='bp on each side without targets (default: 0, or '
                      'from --target_length)')
  parser.add_argument('--target_length', type=int,
                      help='bins per sequence; sets crop_bp')
  parser.add_argument('--seqs_per_file', type=int, default=256,
                      help='examples per TFRecord file (default: 256)')
  parser.add_argument('--seq_1hot', action='store_true',
                      help='store sequences as uint8 base indices instead of '
                      'one-hot booleans')
  parser.add_argument('--max_n_fraction', type=float,
                      help='drop regions with more non-ACGT bases than this '
                      'fraction (default: keep all)')
  parser.add_argument('--overwrite', action='store_true',
                      help='replace an existing out_dir')
  parser.add_argument('--quiet', action='store_true',
                      help='no progress bar or summary')
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`enformer-make-data`; returns the exit status."""
  args = _parser().parse_args(argv)
  try:
    stats = make_data(
        args.fasta, args.targets, args.out_dir, bed=args.bed, tile=args.tile,
        stride=args.stride, chroms=args.chroms,
        valid_chroms=args.valid_chroms, test_chroms=args.test_chroms,
        folds=args.folds, valid_fold=args.valid_fold,
        test_fold=args.test_fold, seq_length=args.seq_length,
        pool_width=args.pool_width, crop_bp=args.crop_bp,
        target_length=args.target_length, seqs_per_file=args.seqs_per_file,
        seq_1hot=args.seq_1hot, max_n_fraction=args.max_n_fraction,
        overwrite=args.overwrite, progress=not args.quiet)
  except (ValueError, OSError) as e:
    message = ' '.join(str(e).split()) or type(e).__name__
    print(f'enformer-make-data: error: {message}', file=sys.stderr)
    return 1
  if not args.quiet:
    print(f'Wrote {args.out_dir}: ' + json.dumps(stats))
  return 0


if __name__ == '__main__':
  sys.exit(main())
