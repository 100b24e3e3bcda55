"""Crash-safe score files: rows go to `<path>.partial` as they are scored.

A variant-scoring run over a large VCF can take hours; if it fails midway
the rows already scored must stay on disk. Each writer appends and flushes
every batch to `<path>.partial` and renames it to `<path>` only in
`finish()`, so a file without the suffix is always complete.
A batch is anything with `records` (`vcf.VcfRecord`s), `sad` and `sar`
(`[n, tracks]`) and a length, e.g. `variant_effects.ScoreBatch`.
"""
import os
from typing import Optional, Sequence

import numpy as np

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


class TsvScoreWriter(_PartialFile):
  """Rows of SAD and SAR, written to `<path>.partial` as they come.

  Columns: `chrom pos id ref alt vcf_line` (POS 1-based, as in the VCF),
  then `SAD_<track>` and `SAR_<track>` for each chosen track.
  `finish()` renames the file to `path`; `abandon()` leaves it partial.

  Args:
    path: the final TSV.
    track_names: the chosen tracks, in column order.
  """

  def __init__(self, path: str, track_names: Sequence[str]):
    self.path = check_output_path(path, 'TSV')
    self.partial_path = partial_path(self.path)
    self.num_rows = 0
    columns = ['chrom', 'pos', 'id', 'ref', 'alt', 'vcf_line']
    columns += [f'SAD_{name}' for name in track_names]
    columns += [f'SAR_{name}' for name in track_names]
    self._file = open(self.partial_path, 'w', encoding='utf-8')
    self._file.write('\t'.join(columns) + '\n')
    self._file.flush()

  def write(self, batch) -> None:
    rows = []
    for record, sad, sar in zip(batch.records, batch.sad, batch.sar):
      fields = [record.chrom, str(record.pos), record.id, record.ref,
                record.alt, str(record.line)]
      fields += [f'{value:.7g}' for value in sad]
      fields += [f'{value:.7g}' for value in sar]
      rows.append('\t'.join(fields) + '\n')
    self._file.writelines(rows)
    self._file.flush()  # A later failure must not lose these rows.
    self.num_rows += len(rows)


class H5ScoreWriter(_PartialFile):
  """SAD and SAR in HDF5, appended batch by batch to `<path>.partial`.

  Datasets (`N` variants, `T` tracks): `sad`, `sar` float32 `[N, T]`;
  `chrom`, `id`, `ref`, `alt` strings `[N]`; `pos` (1-based), `vcf_line`
  int64 `[N]`; `track_names` strings `[T]`, `track_indices` int64 `[T]`.
  Attributes: `head`, `rc`, `shifts`, `sequence_length`, `definition`
  (`SAR_DEFINITION`), `num_variants` (updated at every flush) and
  `complete` (true once `finish()` has run).

  Args:
    path: the final HDF5 file.
    track_names: the chosen tracks.
    track_indices: their indices in the head.
    attrs: extra file attributes (head, rc, shifts, ...).
  """

  def __init__(self, path: str, track_names: Sequence[str],
               track_indices: Sequence[int], attrs: Optional[dict] = None):
    import h5py
    self.path = check_output_path(path, 'HDF5')
    self.partial_path = partial_path(self.path)
    self.num_rows = 0
    self._file = h5py.File(self.partial_path, 'w')
    num_tracks = len(track_names)
    string = h5py.string_dtype()
    self._file.create_dataset('track_names', data=list(track_names),
                              dtype=string)
    self._file.create_dataset('track_indices',
                              data=np.asarray(track_indices, np.int64))
    chunk = 256
    for name in ('sad', 'sar'):
      self._file.create_dataset(
          name, shape=(0, num_tracks), maxshape=(None, num_tracks),
          dtype=np.float32, chunks=(chunk, max(num_tracks, 1)))
    for name in ('chrom', 'id', 'ref', 'alt'):
      self._file.create_dataset(name, shape=(0,), maxshape=(None,),
                                dtype=string, chunks=(chunk,))
    for name in ('pos', 'vcf_line'):
      self._file.create_dataset(name, shape=(0,), maxshape=(None,),
                                dtype=np.int64, chunks=(chunk,))
    for key, value in {'definition': SAR_DEFINITION, **(attrs or {})}.items():
      self._file.attrs[key] = value
    self._file.attrs['num_variants'] = 0
    self._file.attrs['complete'] = False
    self._file.flush()

  def write(self, batch) -> None:
    n, first = len(batch), self.num_rows
    columns = {
        'sad': batch.sad, 'sar': batch.sar,
        'chrom': [r.chrom for r in batch.records],
        'id': [r.id for r in batch.records],
        'ref': [r.ref for r in batch.records],
        'alt': [r.alt for r in batch.records],
        'pos': np.asarray([r.pos for r in batch.records], np.int64),
        'vcf_line': np.asarray([r.line for r in batch.records], np.int64)}
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
