"""The regions a data set is made of: BED files, genome tilings, and their
train / valid / test splits (by a BED column, by chromosome or by fold).

`load_regions` reads and checks the regions against a genome;
`assign_splits` gives each its split. `make_data` uses both.
"""
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

from enformer_tf.constants import SPLITS
from enformer_tf.data import genome


class Region(NamedTuple):
  """A model input window `[start, end)` and the split it belongs to."""
  chrom: str
  start: int
  end: int
  split: Optional[str] = None


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


def tile_regions(regions: Sequence[Region], seq_length: int,
                 stride: int) -> List[Region]:
  """Windows `[s, s + seq_length)` inside each region, `s = start, start +
  stride, ...`, each keeping its region's split.

  No window crosses its region's end, so regions of different splits (e.g.
  from `enformer-split-homology`) never share sequence; a region shorter
  than `seq_length` contributes none.
  """
  return [region._replace(start=start, end=start + seq_length)
          for region in regions
          for start in range(region.start, region.end - seq_length + 1,
                             stride)]


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


def load_regions(fasta_extractor: genome.FastaExtractor, *,
                 bed: Optional[str] = None, tile: bool = False,
                 stride: Optional[int] = None,
                 chroms: Optional[Sequence[str]] = None,
                 seq_length: int, split_column: bool = True,
                 tile_bed: bool = False) -> List[Region]:
  """The regions of a BED file or a genome tiling, checked against the
  genome and resized (centred) to `seq_length`.

  Exactly one of `bed` and `tile` is given. BED regions must lie on the
  FASTA's chromosomes; the windows they are resized to may run off a
  chromosome end (the sequence is then padded with `N`).

  Args:
    fasta_extractor: the genome.
    bed: a BED file of regions (`read_bed`).
    tile: instead of `bed`, tile the genome with windows of `seq_length`
      (`tile_genome`).
    stride: step between tiled windows (default `seq_length`; tiling only).
    chroms: keep only regions on these chromosomes.
    seq_length: bp of each region returned.
    split_column: whether a BED file's column 4 names each region's split;
      if so it must be one of `SPLITS` on every line (or absent on all).
      Without it, or without a column 4, `split` is None.
    tile_bed: instead of resizing each BED region to `seq_length`, tile it
      with windows of `seq_length` at `stride` (`tile_regions`), inside the
      region.

  Returns:
    The regions, in file (or genome) order.

  Raises:
    FileNotFoundError: no such BED file.
    ValueError: bad arguments, a malformed BED line, a region off the
      genome or a bad split name; messages name the file and line.
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
  if tile_bed:
    stride = seq_length if stride is None else stride
    if int(stride) != stride or stride < 1:
      raise ValueError(f'stride must be a positive integer, got {stride!r}.')
  elif stride is not None:
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
  if tile_bed:
    windows = tile_regions(regions, seq_length, int(stride))
    if not windows:
      raise ValueError(f'No window of seq_length={seq_length:,} bp fits in '
                       f'a region of BED file {bed!r}.')
    return windows
  return [genome.resize_interval(r, seq_length) for r in regions]


def assign_splits(fasta_extractor: genome.FastaExtractor,
                  regions: Sequence[Region], *,
                  valid_chroms: Sequence[str] = (),
                  test_chroms: Sequence[str] = (),
                  folds: Optional[int] = None,
                  valid_fold: Optional[int] = None,
                  test_fold: Optional[int] = None) -> List[Region]:
  """Regions with their split set: by chromosome (`split_by_chromosome`),
  by fold (`split_by_fold`), or else as the BED file named it (train where
  it did not).

  Raises:
    ValueError: both kinds of split options, or bad ones (chromosomes not
      in the genome or in both lists, folds out of range).
  """
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


def split_options_given(valid_chroms: Sequence[str] = (),
                        test_chroms: Sequence[str] = (),
                        folds: Optional[int] = None,
                        valid_fold: Optional[int] = None,
                        test_fold: Optional[int] = None) -> bool:
  """Whether splits are assigned by chromosome or fold (then a BED file's
  column 4 is not read as the split)."""
  return (_splits_by_chromosome(valid_chroms, test_chroms) or
          _splits_by_fold(folds, valid_fold, test_fold))


def _splits_by_chromosome(valid_chroms, test_chroms) -> bool:
  return bool(valid_chroms or test_chroms)


def _splits_by_fold(folds, valid_fold, test_fold) -> bool:
  return folds is not None or valid_fold is not None or test_fold is not None
