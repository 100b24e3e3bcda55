"""Basenji2 / Enformer TFRecords from a FASTA and bigWigs (`make_data`, the
library function behind `enformer-make-data`, `cli/make_data.py`).

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
`bin/basenji_data_read.py`); see `bigwig.bin_coverage`. The regions and
their splits come from `regions.py`. Example, Enformer-shaped
data (196,608 bp in, 896 bins of 128 bp out):

  enformer-make-data --fasta hg38.fa --targets targets.txt \\
      --tile --stride 65536 --valid_chroms chr8 --test_chroms chr9 \\
      --seq_length 196608 --target_length 896 --out_dir data/human
"""
import os
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
from tqdm import tqdm

from enformer_tf import atomic
from enformer_tf.constants import SPLITS
from enformer_tf.data import basenji
from enformer_tf.data import bigwig
from enformer_tf.data import encoding
from enformer_tf.data import genome
from enformer_tf.data import regions as regions_lib
from enformer_tf.data import targets as targets_lib


def make_data(fasta: str, targets: str, out_dir: str, *,
              bed: Optional[str] = None, tile: bool = False,
              stride: Optional[int] = None, tile_bed: bool = False,
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
  crop_bp` bp of its bigWig, binned by `bigwig.bin_coverage` with the
  track's `sum_stat`, `scale`, `clip_soft` and `clip`. The directory appears
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
    tile_bed: tile each `bed` region with windows of `seq_length` at
      `stride`, inside the region and with its split, instead of resizing
      it (`regions.tile_regions`); for regions from
      `enformer-split-homology`.
    chroms: use only regions on these chromosomes (e.g. to leave out chrY
      and unplaced contigs when tiling).
    valid_chroms: chromosomes whose regions are valid.
    test_chroms: chromosomes whose regions are test.
    folds: instead of chromosomes, cut the regions (in order) into this many
      contiguous folds (`regions.split_by_fold`).
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
      targets_lib.read_targets(targets, sum_stats=bigwig.SUM_STATS))

  with genome.FastaExtractor(fasta) as fasta_extractor:
    sizes = fasta_extractor.chromosome_sizes
    split_column = not regions_lib.split_options_given(
        valid_chroms, test_chroms, folds, valid_fold, test_fold)
    regions = regions_lib.load_regions(
        fasta_extractor, bed=bed, tile=tile, stride=stride, chroms=chroms,
        seq_length=seq_length, split_column=split_column, tile_bed=tile_bed)
    regions = regions_lib.assign_splits(
        fasta_extractor, regions, valid_chroms=valid_chroms,
        test_chroms=test_chroms, folds=folds, valid_fold=valid_fold,
        test_fold=test_fold)
    tracks = bigwig.BigWigTracks(target_list, targets)
    try:
      tracks.check_chromosomes(sizes, (r.chrom for r in regions))
      with atomic.atomic_directory(out_dir) as data_dir:
        stats = _write_data(
            data_dir, regions=regions, fasta_extractor=fasta_extractor,
            tracks=tracks, seq_length=seq_length, pool_width=pool_width,
            crop_bp=crop_bp, target_length=target_length,
            seqs_per_file=seqs_per_file, seq_1hot=seq_1hot,
            max_n_fraction=max_n_fraction, progress=progress)
        _check_out_dir(out_dir, overwrite)  # Unless it appeared meanwhile.
      return stats
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
    target = tracks.binned(region.chrom, region.start + crop_bp,
                           region.end - crop_bp, pool_width)  # [N, T]
    bed_out.write(f'{region.chrom}\t{region.start}\t{region.end}\t'
                  f'{region.split}\n')
    yield sequence, target
