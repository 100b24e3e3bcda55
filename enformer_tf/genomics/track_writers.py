"""Interval predictions -> bigWig / bedGraph, one file per track.

What a file holds, for one track of one or more `IntervalPrediction`s:

- each bin's model output over every base of the bin (a 128-bp bin
  predicted at 12.5 is 128 bases at 12.5; the value is not divided by 128);
- only what lies on the chromosome: bins wholly before 0 or past the
  chromosome end (windows padded with `N`) are left out, and a bin that
  straddles an end is clipped to it (`IntervalPrediction.clipped`);
- entries sorted by chromosome, in the FASTA's order (the order of the
  bigWig header, which bigWig requires), then by position;
- where the predictions of two regions overlap, `overlap='error'` (the
  default) refuses with a message naming both regions, and
  `overlap='mean'` writes the mean of the overlapping predictions, cut at
  every bin boundary of either. Bins of one region never overlap each other.

The bigWig header lists every chromosome of the FASTA with its size
(`chromosome_sizes`), so the file loads against that genome in a browser.
Files are written to a temporary name beside the target and renamed into
place (`atomic.atomic_path`), so a reader never sees a half-written file.
"""
from typing import Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np
import pyBigWig

from enformer_tf.atomic import atomic_path
from enformer_tf.genomics.intervals import IntervalPrediction

OVERLAP_POLICIES = ('error', 'mean')

# (chrom, starts int64 [n], ends int64 [n], values float32 [n]) per chromosome.
Entries = List[Tuple[str, np.ndarray, np.ndarray, np.ndarray]]


def chromosome_sizes(fasta) -> Dict[str, int]:
  """`{chrom: size}` in FASTA order, from a `FastaExtractor` or a path.

  A path is read with pyfaidx (which writes a `.fai` index if missing).
  """
  sizes = getattr(fasta, 'chromosome_sizes', None)
  if sizes is not None:
    return dict(sizes)
  from enformer_tf.data import genome
  with genome.FastaExtractor(fasta) as extractor:
    return dict(extractor.chromosome_sizes)


def track_entries(predictions: Sequence[IntervalPrediction],
                  track: Union[int, str],
                  chrom_sizes: Mapping[str, int],
                  overlap: str = 'error') -> Entries:
  """The sorted, non-overlapping, on-chromosome entries of one track.

  Args:
    predictions: results of `intervals.predict_intervals`.
    track: column of `values` (position) or track name.
    chrom_sizes: `{chrom: size}` in the order entries are sorted (the
      FASTA's); every prediction's chromosome must be in it, same size.
    overlap: `'error'` or `'mean'`; see the module docstring.

  Returns:
    Per chromosome with entries, in `chrom_sizes` order: `(chrom, starts,
    ends, values)`.

  Raises:
    ValueError: overlapping regions under `overlap='error'`, an unknown
      policy, track or chromosome, or a chromosome size unlike the FASTA's.
  """
  if overlap not in OVERLAP_POLICIES:
    raise ValueError(f'overlap must be one of {list(OVERLAP_POLICIES)}, got '
                     f'{overlap!r}.')
  by_chrom: Dict[str, list] = {}
  for number, prediction in enumerate(predictions):
    chrom = prediction.chrom
    if chrom not in chrom_sizes:
      raise ValueError(f'Prediction for {prediction.region} is on {chrom!r}, '
                       'which the chromosome sizes (FASTA) do not have.')
    if chrom_sizes[chrom] != prediction.chrom_size:
      raise ValueError(
          f'Prediction for {prediction.region} was made on a {chrom} of '
          f'{prediction.chrom_size:,} bp, but the chromosome sizes give '
          f'{chrom_sizes[chrom]:,} bp; are they the same genome?')
    column = prediction.column(track)
    starts, ends, values = prediction.clipped()
    by_chrom.setdefault(chrom, []).append(
        (starts, ends, values[:, column], number))

  entries = []
  for chrom in chrom_sizes:
    if chrom not in by_chrom:
      continue
    parts = by_chrom[chrom]
    starts = np.concatenate([p[0] for p in parts]).astype(np.int64)
    ends = np.concatenate([p[1] for p in parts]).astype(np.int64)
    values = np.concatenate([p[2] for p in parts]).astype(np.float32)
    source = np.concatenate([np.full(len(p[0]), p[3]) for p in parts])
    order = np.lexsort((ends, starts))
    starts, ends, values, source = (starts[order], ends[order],
                                    values[order], source[order])
    clusters = _overlap_clusters(starts, ends)
    if len(clusters) == len(starts):  # No overlaps.
      entries.append((chrom, starts, ends, values))
      continue
    if overlap == 'error':
      raise _overlap_error(predictions, chrom, starts, ends, source)
    merged = [_mean_of_overlaps(starts[c], ends[c], values[c])
              for c in clusters]
    entries.append((chrom, *(np.concatenate(parts) for parts in
                             zip(*merged))))
  return entries


def _overlap_error(predictions, chrom, starts, ends, source) -> ValueError:
  """The message for the first overlap of entries sorted by start."""
  reach = np.maximum.accumulate(ends)  # [n]
  i = int(np.flatnonzero(starts[1:] < reach[:-1])[0]) + 1
  j = int(np.flatnonzero(ends[:i] == reach[i - 1])[0])  # Overlaps entry i.
  first, second = (predictions[int(k)].region.label
                   for k in sorted((source[j], source[i])))
  return ValueError(
      f'The predictions for {first} and {second} overlap on '
      f'{chrom}:{int(starts[i])}-{int(min(reach[i - 1], ends[i]))}; use '
      "non-overlapping regions, or overlap='mean' (--overlap mean) to "
      'average them.')


def _overlap_clusters(starts: np.ndarray, ends: np.ndarray) -> List[slice]:
  """Slices of maximal runs of overlapping entries (sorted by start)."""
  if not len(starts):
    return []
  reach = np.maximum.accumulate(ends)  # [n] furthest end so far.
  breaks = np.flatnonzero(starts[1:] >= reach[:-1]) + 1
  bounds = [0, *breaks.tolist(), len(starts)]
  return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def _mean_of_overlaps(starts, ends, values):
  """Pieces between all boundaries, each the mean of the entries over it."""
  if len(starts) == 1:
    return starts, ends, values
  points = np.unique(np.concatenate([starts, ends]))  # [p]
  first = np.searchsorted(points, starts)
  last = np.searchsorted(points, ends)
  total = np.zeros(len(points), np.float64)
  count = np.zeros(len(points), np.int64)
  for a, b, value in zip(first, last, values.astype(np.float64)):
    total[a:b] += value  # Clusters are short: a few windows' bins.
    count[a:b] += 1
  covered = count[:-1] > 0
  return (points[:-1][covered], points[1:][covered],
          (total[:-1][covered] / count[:-1][covered]).astype(np.float32))


def write_bigwig(path: str, predictions: Sequence[IntervalPrediction],
                 track: Union[int, str], chrom_sizes: Mapping[str, int],
                 overlap: str = 'error') -> str:
  """Writes one track as a bigWig with a header of all `chrom_sizes`.

  Args:
    path: the bigWig to write (replaced atomically if it exists).
    predictions, track, chrom_sizes, overlap: as `track_entries`.

  Returns:
    `path`.
  """
  entries = track_entries(predictions, track, chrom_sizes, overlap)
  with atomic_path(path) as temporary:
    bigwig = pyBigWig.open(temporary, 'w')
    if bigwig is None:
      raise OSError(f'Cannot write the bigWig {path!r}.')
    try:
      bigwig.addHeader([(chrom, int(size))
                        for chrom, size in chrom_sizes.items()])
      for chrom, starts, ends, values in entries:
        bigwig.addEntries([chrom] * len(starts), starts.tolist(),
                          ends=ends.tolist(),
                          values=values.astype(np.float64).tolist())
    finally:
      bigwig.close()
  return path


def write_bedgraph(path: str, predictions: Sequence[IntervalPrediction],
                   track: Union[int, str], chrom_sizes: Mapping[str, int],
                   overlap: str = 'error') -> str:
  """Writes one track as a bedGraph: `chrom start end value`, no header.

  Values are written with 9 significant digits, which round-trips float32.
  Same entries as `write_bigwig`; `chrom_sizes` orders and clips them.

  Returns:
    `path`.
  """
  entries = track_entries(predictions, track, chrom_sizes, overlap)
  with atomic_path(path) as temporary:
    with open(temporary, 'w', encoding='utf-8') as f:
      for chrom, starts, ends, values in entries:
        f.writelines(f'{chrom}\t{s}\t{e}\t{float(v):.9g}\n'
                     for s, e, v in zip(starts.tolist(), ends.tolist(),
                                        values.tolist()))
  return path


# -- Tables and file names -----------------------------------------------------


def write_table(path: str, predictions: Sequence[IntervalPrediction]) -> str:
  """Writes every bin of every prediction as a tab-separated table.

  Columns `region, chrom, start, end` then one per track (named by
  `track_names`). Bins are written as predicted, including those off the
  chromosome (start < 0 or end > its size), region by region in order.
  """
  _check_same_tracks(predictions)
  names = predictions[0].track_names if predictions else ()
  with atomic_path(path) as temporary:
    with open(temporary, 'w', encoding='utf-8') as f:
      f.write('\t'.join(('region', 'chrom', 'start', 'end', *names)) + '\n')
      for p in predictions:
        prefix = f'{p.region.label}\t{p.chrom}\t'
        f.writelines(
            prefix + f'{s}\t{e}\t' + '\t'.join(f'{v:.9g}' for v in row) + '\n'
            for s, e, row in zip(p.bin_starts.tolist(), p.bin_ends.tolist(),
                                 p.values.tolist()))
  return path


def write_npz(path: str, predictions: Sequence[IntervalPrediction]) -> str:
  """Writes every bin of every prediction to a NumPy `.npz`.

  Arrays: `values` float32 `[bins, tracks]`; `chrom` (str), `start`, `end`
  (int64) and `region` (index into `regions`) per bin; `regions` (labels),
  `region_chrom`, `region_start`, `region_end` per region; `track_names`,
  `track_indices` per track; `head`. Bins as in `write_table`.
  """
  _check_same_tracks(predictions)
  if not predictions:
    raise ValueError('No predictions to write.')
  first = predictions[0]
  arrays = dict(
      values=np.concatenate([p.values for p in predictions]).astype(
          np.float32),
      chrom=np.concatenate([np.full(len(p.bin_starts), p.chrom)
                            for p in predictions]).astype(str),
      start=np.concatenate([p.bin_starts for p in predictions]),
      end=np.concatenate([p.bin_ends for p in predictions]),
      region=np.concatenate([np.full(len(p.bin_starts), i, np.int64)
                             for i, p in enumerate(predictions)]),
      regions=np.array([p.region.label for p in predictions], dtype=str),
      region_chrom=np.array([p.chrom for p in predictions], dtype=str),
      region_start=np.array([p.region.start for p in predictions], np.int64),
      region_end=np.array([p.region.end for p in predictions], np.int64),
      track_names=np.array(first.track_names, dtype=str),
      track_indices=np.array(first.track_indices, np.int64),
      head=np.array(first.head))
  with atomic_path(path) as temporary:
    with open(temporary, 'wb') as f:
      np.savez(f, **arrays)
  return path


def _check_same_tracks(predictions: Sequence[IntervalPrediction]) -> None:
  for p in predictions[1:]:
    if (p.track_names != predictions[0].track_names or
        p.head != predictions[0].head):
      raise ValueError('All predictions must have the same head and tracks '
                       'to share a file.')


def file_names(names: Sequence[str], suffix: str = '') -> List[str]:
  """File names from track or region names: safe characters, unique.

  Characters other than letters, digits, `.`, `-`, `_` become `_`; a name
  repeated (after that) gets `_2`, `_3`, ...
  """
  result, used = [], set()
  for name in names:
    stem = ''.join(c if c.isascii() and (c.isalnum() or c in '.-_') else '_'
                   for c in str(name)).strip('.') or 'track'
    candidate, number = stem, 1
    while candidate.lower() in used:
      number += 1
      candidate = f'{stem}_{number}'
    used.add(candidate.lower())
    result.append(candidate + suffix)
  return result
