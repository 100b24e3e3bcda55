"""Crash-safe score files: rows go to `<path>.partial` as they are scored.

A variant-scoring run over a large VCF can take hours; if it fails midway
the rows already scored must stay on disk. Each writer appends and flushes
every batch to `<path>.partial` and renames it to `<path>` only in
`finish()`, so a file without the suffix is always complete.
A batch is anything with `records` (`vcf.VcfRecord`s), `scores`
(`{stat: [n, tracks]}`), optional `ref_profiles`/`alt_profiles` and `genes`
and a length, e.g. `variant_effects.ScoreBatch`.
"""
import os
from typing import Optional, Sequence

import numpy as np

from enformer_tf.genomics import variant_stats

PARTIAL_SUFFIX = '.partial'
SAR_DEFINITION = ('SAR = mean over bins of log2(1 + alt) - log2(1 + ref); '
                  'SAD = mean over bins of alt - ref')


def partial_path(path: str) -> str:
  """Where rows of `path` go until the run is complete."""
  return os.fspath(path) + PARTIAL_SUFFIX


def check_output_path(path: str, what: str = 'output') -> str:
  """`path` made absolute; raises if its directory is missing.

  Raises:
    ValueError: `path` is a directory or its parent directory does not exist.
  """
  path = os.path.abspath(os.fspath(path))
  if os.path.isdir(path):
    raise ValueError(f'{what} {path} is a directory; expected a file path.')
  parent = os.path.dirname(path)
  if not os.path.isdir(parent):
    raise ValueError(f'The directory of {what} {path} does not exist.')
  return path


class _PartialFile:
  """`finish()` and `abandon()` of a writer appending to `partial_path`.

  Subclasses set `path`, `partial_path`, `num_rows` and `_file` (anything
  with `close()`).
  """

  def finish(self) -> str:
    self._file.close()
    os.replace(self.partial_path, self.path)
    return self.path

  def abandon(self) -> Optional[str]:
    """Closes the partial file; returns its path, or `None` if it had no
    rows (then it is removed)."""
    self._file.close()
    if not self.num_rows:
      os.remove(self.partial_path)
      return None
    return self.partial_path


_VARIANT_COLUMNS = ['chrom', 'pos', 'id', 'ref', 'alt', 'vcf_line']


def _variant_fields(record):
  return [record.chrom, str(record.pos), record.id, record.ref, record.alt,
          str(record.line)]


class TsvScoreWriter(_PartialFile):
  """Rows of scores, written to `<path>.partial` as they come.

  Columns: `chrom pos id ref alt vcf_line` (POS 1-based, as in the VCF),
  then for each statistic (default SAD, SAR) `<STAT>_<track>` for each
  chosen track. `finish()` renames the file to `path`; `abandon()` leaves
  it partial.

  Args:
    path: the final TSV.
    track_names: the chosen tracks, in column order.
    stats: the bin-level statistics, in column order.
    normalized_columns: `{key: column names}` of `batch.normalized`,
      written after the statistics (`z<STAT>_<track>`, `<STAT>_PC<i>`).
  """

  def __init__(self, path: str, track_names: Sequence[str],
               stats: Sequence[str] = variant_stats.DEFAULT_STATS,
               normalized_columns: Optional[dict] = None):
    self.path = check_output_path(path, 'TSV')
    self.partial_path = partial_path(self.path)
    self.num_rows = 0
    self.stats = tuple(stats)
    columns = list(_VARIANT_COLUMNS)
    for stat in self.stats:
      columns += [f'{stat}_{name}' for name in track_names]
    self.normalized = tuple((normalized_columns or {}).keys())
    for names in (normalized_columns or {}).values():
      columns += list(names)
    self._file = open(self.partial_path, 'w', encoding='utf-8')
    self._file.write('\t'.join(columns) + '\n')
    self._file.flush()

  def write(self, batch) -> None:
    rows = []
    for i, record in enumerate(batch.records):
      fields = _variant_fields(record)
      for stat in self.stats:
        fields += [f'{value:.7g}' for value in batch.scores[stat][i]]
      for key in self.normalized:
        fields += [f'{value:.7g}' for value in batch.normalized[key][i]]
      rows.append('\t'.join(fields) + '\n')
    self._file.writelines(rows)
    self._file.flush()  # A later failure must not lose these rows.
    self.num_rows += len(rows)


class H5ScoreWriter(_PartialFile):
  """Scores in HDF5, appended batch by batch to `<path>.partial`.

  Datasets (`N` variants, `T` tracks): one float32 `[N, T]` per statistic,
  named in lower case (`sad`, `sar`, `d1`, `logd2`, `max`, `js`, ...);
  `chrom`, `id`, `ref`, `alt` strings `[N]`; `pos` (1-based), `vcf_line`
  int64 `[N]`; `track_names` strings `[T]`, `track_indices` int64 `[T]`.
  With profile tracks (`K` of them, `B` bins): `ref_profile`,
  `alt_profile` float32 `[N, B, K]` and `profile_track_indices` int64
  `[K]`. Attributes: `head`, `rc`, `shifts`, `sequence_length`,
  `share_windows` (-1: none), `vcf`, `stats`,
  `definition` (`SAR_DEFINITION` for the default statistics, otherwise
  the formulas of the chosen ones), `num_variants` (updated at every
  flush) and `complete` (true once `finish()` has run).

  Args:
    path: the final HDF5 file.
    track_names: the chosen tracks.
    track_indices: their indices in the head.
    attrs: extra file attributes (head, rc, shifts, ...).
    stats: the bin-level statistics.
    profile_tracks: head indices of the tracks whose profiles to keep.
    num_bins: output bins per window (needed with `profile_tracks`).
    normalized_columns: `{key: column names}` of `batch.normalized`: one
      float32 dataset `[N, columns]` per key (`zSAD`, `SAD_PC`), its column
      names in the attribute `columns`.
  """

  def __init__(self, path: str, track_names: Sequence[str],
               track_indices: Sequence[int], attrs: Optional[dict] = None,
               stats: Sequence[str] = variant_stats.DEFAULT_STATS,
               profile_tracks: Sequence[int] = (),
               num_bins: Optional[int] = None,
               normalized_columns: Optional[dict] = None):
    import h5py
    self.path = check_output_path(path, 'HDF5')
    self.partial_path = partial_path(self.path)
    self.num_rows = 0
    self.stats = tuple(stats)
    self.profile_tracks = tuple(profile_tracks)
    self._file = h5py.File(self.partial_path, 'w')
    num_tracks = len(track_names)
    string = h5py.string_dtype()
    self._file.create_dataset('track_names', data=list(track_names),
                              dtype=string)
    self._file.create_dataset('track_indices',
                              data=np.asarray(track_indices, np.int64))
    chunk = 256
    for stat in self.stats:
      self._file.create_dataset(
          stat.lower(), shape=(0, num_tracks), maxshape=(None, num_tracks),
          dtype=np.float32, chunks=(chunk, max(num_tracks, 1)))
    self.normalized = tuple((normalized_columns or {}).keys())
    for key, names in (normalized_columns or {}).items():
      dataset = self._file.create_dataset(
          key, shape=(0, len(names)), maxshape=(None, len(names)),
          dtype=np.float32, chunks=(chunk, len(names)))
      dataset.attrs['columns'] = list(names)
    if self.profile_tracks:
      shape = (num_bins, len(self.profile_tracks))
      self._file.create_dataset('profile_track_indices',
                                data=np.asarray(self.profile_tracks, np.int64))
      for name in ('ref_profile', 'alt_profile'):
        self._file.create_dataset(name, shape=(0, *shape),
                                  maxshape=(None, *shape), dtype=np.float32,
                                  chunks=(16, *shape))
    for name in ('chrom', 'id', 'ref', 'alt'):
      self._file.create_dataset(name, shape=(0,), maxshape=(None,),
                                dtype=string, chunks=(chunk,))
    for name in ('pos', 'vcf_line'):
      self._file.create_dataset(name, shape=(0,), maxshape=(None,),
                                dtype=np.int64, chunks=(chunk,))
    definition = (SAR_DEFINITION if self.stats == ('SAD', 'SAR') else
                  variant_stats.definition(self.stats))
    attrs = {'definition': definition, 'stats': list(self.stats),
             **(attrs or {})}
    for key, value in attrs.items():
      self._file.attrs[key] = value
    self._file.attrs['num_variants'] = 0
    self._file.attrs['complete'] = False
    self._file.flush()

  def write(self, batch) -> None:
    n, first = len(batch), self.num_rows
    columns = {stat.lower(): batch.scores[stat] for stat in self.stats}
    columns.update({key: batch.normalized[key] for key in self.normalized})
    if self.profile_tracks:
      columns['ref_profile'] = batch.ref_profiles
      columns['alt_profile'] = batch.alt_profiles
    columns.update({
        'chrom': [r.chrom for r in batch.records],
        'id': [r.id for r in batch.records],
        'ref': [r.ref for r in batch.records],
        'alt': [r.alt for r in batch.records],
        'pos': np.asarray([r.pos for r in batch.records], np.int64),
        'vcf_line': np.asarray([r.line for r in batch.records], np.int64)})
    for name, values in columns.items():
      dataset = self._file[name]
      dataset.resize(first + n, axis=0)
      dataset[first:first + n] = values
    self.num_rows += n
    self._file.attrs['num_variants'] = self.num_rows
    self._file.flush()  # A later failure must not lose these rows.

  def finish(self) -> str:
    self._file.attrs['complete'] = True
    return super().finish()


class GeneScoreWriter(_PartialFile):
  """Gene-level scores (`variant_genes`), one row per variant and gene.

  Columns: `chrom pos id ref alt vcf_line gene_id gene_name strand
  tss_distance tss_bins`, then `<STAT>_<track>` for each gene statistic
  (SED, logSED) and track. A variant with no gene in range has one row with
  `.` for the gene fields and empty scores (`num_without_genes` counts
  them). Written to `<path>.partial` as batches come, like the others.

  Args:
    path: the final TSV.
    track_names: the chosen tracks.
    stats: the gene statistics, in column order.
  """

  def __init__(self, path: str, track_names: Sequence[str],
               stats: Sequence[str] = variant_stats.GENE_STATS):
    self.path = check_output_path(path, 'gene TSV')
    self.partial_path = partial_path(self.path)
    self.num_rows = 0
    self.num_without_genes = 0
    self.stats = tuple(stats)
    self._num_tracks = len(track_names)
    columns = _VARIANT_COLUMNS + ['gene_id', 'gene_name', 'strand',
                                  'tss_distance', 'tss_bins']
    for stat in self.stats:
      columns += [f'{stat}_{name}' for name in track_names]
    self._file = open(self.partial_path, 'w', encoding='utf-8')
    self._file.write('\t'.join(columns) + '\n')
    self._file.flush()

  def write(self, batch) -> None:
    rows = []
    for row in batch.genes:
      fields = _variant_fields(row.record)
      if row.gene is None:
        self.num_without_genes += 1
        fields += ['.'] * 5 + [''] * (len(self.stats) * self._num_tracks)
      else:
        fields += [row.gene.gene_id, row.gene.name, row.gene.strand,
                   str(row.tss_distance), str(row.num_bins)]
        for stat in self.stats:
          fields += [f'{value:.7g}' for value in row.scores[stat]]
      rows.append('\t'.join(fields) + '\n')
    self._file.writelines(rows)
    self._file.flush()
    self.num_rows += len(rows)
