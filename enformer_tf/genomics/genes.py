"""Expression of genes: predicted and observed signal at their TSSs.

The paper's gene-level numbers (REFERENCE.md §9) use, for each gene, the
tracks summed over the 128-bp bins that hold its TSSs. Here:

- the bins of a gene are those holding its TSSs on the genome's 128-bp grid
  (bin `b` covers `[128 b, 128 (b + 1))`), widened by `flank_bins` on either
  side; a bin holding two TSSs of one gene counts once (basenji's
  `map_transcripts_genes` sums each sequence position once per gene);
- expression = the sum over those bins, per track;
- windows are shared by nearby TSSs: TSSs (of any genes) on a chromosome are
  taken in order and grouped while they lie within `2 * max_tss_offset` bp of
  the group's first; each group gets one model window, its output bins
  centred on the group's middle and aligned to the 128-bp grid, so every
  TSS is at most `max_tss_offset` bp from the centre of its window's output
  (`max_tss_offset=0` gives each distinct TSS position its own window);
- observed expression is read from the bigWigs of a `targets.txt` over the
  same bins, binned exactly as training targets are (`sum_stat`, `scale`,
  clips: `data.bigwig.BigWigTracks.binned`), so predictions and
  observations line up.

`plan_windows` is the geometry, `predict_gene_expression` and
`observe_gene_expression` the two matrices, `GeneExpressionWriter` the
crash-safe TSV + HDF5 output (rows go to `<path>.partial` as genes are
finished, and a rerun resumes after the genes already written).
"""
import dataclasses
import math
import os
from typing import (Callable, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Tuple, Union)

import numpy as np

from enformer_tf import atomic
from enformer_tf.constants import BIN_SIZE
from enformer_tf.data import annotation, encoding, genome
from enformer_tf.genomics import intervals

PARTIAL_SUFFIX = '.partial'
# The gene columns of an expression TSV, before one column per track.
GENE_COLUMNS = ('gene_id', 'gene_name', 'gene_type', 'chrom', 'strand', 'tss')
DEFINITION = ('expression = sum over the 128-bp bins holding the gene\'s TSSs '
              '(+- flank_bins; each bin once) of the track')


@dataclasses.dataclass(frozen=True)
class GeneWindow:
  """One model input window and the gene bins read from its output.

  Attributes:
    chrom: chromosome.
    start: input window start (0-based; may be < 0 or run past the end of
      the chromosome: `N` there).
    first_bin: genome bin index (`position // 128`) of output bin 0.
    genes: `(gene index, output bin indices)` pairs; each gene bin is read
      from exactly one window.
  """
  chrom: str
  start: int
  first_bin: int
  genes: Tuple[Tuple[int, Tuple[int, ...]], ...]


def gene_bins(gene: annotation.Gene, flank_bins: int = 0) -> Tuple[int, ...]:
  """Sorted genome bins (`position // 128`) of a gene's TSSs, +- flanks."""
  return tuple(sorted({tss // BIN_SIZE + d for tss in gene.tss
                       for d in range(-flank_bins, flank_bins + 1)}))


def _check_geometry(layout: intervals.OutputLayout, max_tss_offset: int,
                    flank_bins: int) -> None:
  if int(flank_bins) != flank_bins or flank_bins < 0:
    raise ValueError(f'flank_bins must be an integer >= 0, got '
                     f'{flank_bins!r}.')
  if int(max_tss_offset) != max_tss_offset or max_tss_offset < 0:
    raise ValueError(f'max_tss_offset must be an integer >= 0 (bp), got '
                     f'{max_tss_offset!r}.')
  # A TSS max_tss_offset from the centre, plus its flanks, must stay inside
  # the num_bins output bins (the centre bin is num_bins // 2; +1 for the
  # rounding of the centre down to the grid).
  reach = math.ceil(max_tss_offset / BIN_SIZE) + 1 + flank_bins
  if reach > (layout.num_bins - 1) // 2:
    raise ValueError(
        f'max_tss_offset={max_tss_offset} bp with flank_bins={flank_bins} '
        f'does not fit the model\'s {layout.num_bins} output bins '
        f'({layout.span:,} bp); use a smaller offset or fewer flank bins.')


def plan_windows(genes: Sequence[annotation.Gene],
                 layout: intervals.OutputLayout, max_tss_offset: int = 0,
                 flank_bins: int = 0) -> List[GeneWindow]:
  """The windows that cover every gene's TSS bins; see the module doc.

  Args:
    genes: the genes, with chromosome names as in the FASTA.
    layout: the model's `intervals.output_layout`.
    max_tss_offset: bp a TSS may lie from its window's centre (windows are
      shared by TSSs within twice this of each other).
    flank_bins: bins on either side of each TSS bin to sum too.

  Returns:
    Windows in chromosome, position order.
  """
  _check_geometry(layout, max_tss_offset, flank_bins)
  by_chrom: Dict[str, List[Tuple[int, int]]] = {}
  for g, gene in enumerate(genes):
    for tss in gene.tss:
      by_chrom.setdefault(gene.chrom, []).append((tss, g))
  windows = []
  for chrom in sorted(by_chrom):
    points = sorted(by_chrom[chrom])
    taken: Dict[int, set] = {}  # gene -> genome bins already assigned
    i = 0
    while i < len(points):
      j = i
      while (j + 1 < len(points) and
             points[j + 1][0] - points[i][0] <= 2 * max_tss_offset):
        j += 1
      group = points[i:j + 1]
      centre_bin = (group[0][0] + group[-1][0]) // 2 // BIN_SIZE
      first_bin = centre_bin - layout.num_bins // 2
      members: Dict[int, List[int]] = {}
      for tss, g in group:
        own = taken.setdefault(g, set())
        for d in range(-flank_bins, flank_bins + 1):
          b = tss // BIN_SIZE + d
          if b not in own:
            own.add(b)
            members.setdefault(g, []).append(b - first_bin)
      assert all(0 <= b < layout.num_bins for bins in members.values()
                 for b in bins), 'a gene bin fell outside its window'
      windows.append(GeneWindow(
          chrom=chrom, start=first_bin * BIN_SIZE - layout.crop_bp,
          first_bin=first_bin,
          genes=tuple((g, tuple(sorted(bins)))
                      for g, bins in sorted(members.items()))))
      i = j + 1
  return windows


def _last_window_of_gene(windows: Sequence[GeneWindow]) -> Dict[int, int]:
  last = {}
  for w, window in enumerate(windows):
    for g, _ in window.genes:
      last[g] = w
  return last


@dataclasses.dataclass
class GeneExpression:
  """A genes x tracks expression matrix.

  Attributes:
    genes: the genes, in row order.
    values: float64 `[genes, tracks]`.
    track_indices: the head's (or targets.txt's) index of each column.
    track_names: a name per column.
  """
  genes: List[annotation.Gene]
  values: np.ndarray
  track_indices: Tuple[int, ...]
  track_names: Tuple[str, ...]

  @property
  def gene_ids(self) -> List[str]:
    return [g.gene_id for g in self.genes]

  def subset(self, gene_ids: Sequence[str]) -> 'GeneExpression':
    """The rows of `gene_ids`, in that order."""
    row = {g.gene_id: i for i, g in enumerate(self.genes)}
    missing = [g for g in gene_ids if g not in row]
    if missing:
      raise KeyError(f'Genes not in this matrix: {missing[:5]}.')
    rows = [row[g] for g in gene_ids]
    return GeneExpression([self.genes[i] for i in rows], self.values[rows],
                          self.track_indices, self.track_names)


def check_genes(genes: Sequence[annotation.Gene],
                chromosome_sizes: Dict[str, int]) -> None:
  """Raises if a gene's chromosome is not in the genome or a TSS is off it,
  or gene ids repeat."""
  seen = set()
  for gene in genes:
    if gene.gene_id in seen:
      raise ValueError(f'Gene id {gene.gene_id!r} occurs twice.')
    seen.add(gene.gene_id)
    size = chromosome_sizes.get(gene.chrom)
    if size is None:
      raise ValueError(
          f'Gene {gene.gene_id} ({gene.name}) is on {gene.chrom!r}, which '
          'the genome does not have (chromosome names must match; '
          '`annotation.match_chromosome_names` maps chr1 <-> 1).')
    for tss in gene.tss:
      if not 0 <= tss < size:
        raise ValueError(f'Gene {gene.gene_id} has a TSS at {tss}, off '
                         f'{gene.chrom} (0-{size - 1}).')


def iter_window_predictions(model, extractor: genome.FastaExtractor,
                            windows: Sequence[GeneWindow], head: str,
                            layout: intervals.OutputLayout,
                            batch_size: int = 4,
                            average_reverse_complement: bool = False,
                            strand_pairs: Optional[Sequence[int]] = None
                            ) -> Iterator[Tuple[int, np.ndarray]]:
  """`(window index, predictions [bins, head tracks])`, in order, batched."""
  predict = intervals.window_predictor(
      model, head, average_reverse_complement=average_reverse_complement,
      strand_pairs=strand_pairs)
  for first in range(0, len(windows), batch_size):
    batch = windows[first:first + batch_size]
    x = np.stack([encoding.one_hot_encode(extractor.extract(
        w.chrom, w.start, w.start + layout.sequence_length))
                  for w in batch])  # [b, L, 4]
    y = predict(x)  # [b, bins, tracks]
    for k in range(len(batch)):
      yield first + k, y[k]


def accumulate_expression(windows: Sequence[GeneWindow],
                          stream: Iterable[Tuple[int, np.ndarray]],
                          values: np.ndarray, tracks: Sequence[int],
                          on_finished: Optional[Callable[[List[int]], None]]
                          = None) -> None:
  """Adds each window's gene bins into `values` (float64 `[genes,
  tracks]`, rows indexed as in `windows`), window after window.

  Args:
    windows: from `plan_windows`.
    stream: `(window index, predictions [bins, head tracks])` in window
      order (`iter_window_predictions`).
    values: the rows to add into, in place.
    tracks: the head's track of each column.
    on_finished: called with the genes whose last window was just added,
      as soon as it is (crash-safe writers, shards of the pipeline).
  """
  last = _last_window_of_gene(windows)
  for w, prediction in stream:
    chosen = prediction[:, list(tracks)].astype(np.float64)  # [bins, T]
    finished = []
    for g, bins in windows[w].genes:
      values[g] += chosen[list(bins)].sum(axis=0)
      if last[g] == w:
        finished.append(g)
    if on_finished is not None and finished:
      on_finished(finished)


def predict_gene_expression(
    model, fasta: Union[str, genome.FastaExtractor],
    genes: Sequence[annotation.Gene], head: str, *,
    tracks: Optional[Sequence[int]] = None,
    track_names: Optional[Sequence[str]] = None,
    max_tss_offset: int = 0, flank_bins: int = 0, batch_size: int = 4,
    average_reverse_complement: bool = False,
    strand_pairs: Optional[Sequence[int]] = None,
    writer: Optional['GeneExpressionWriter'] = None,
    skip_gene_ids: Sequence[str] = (),
    progress: bool = False) -> GeneExpression:
  """Predicted expression of each gene: `head`'s tracks summed at its TSS
  bins (module doc).

  Args:
    model: an `Enformer` (or anything `intervals.predict_intervals` takes).
    fasta: the genome FASTA (path or open extractor).
    genes: the genes (`annotation.read_genes`), chromosome names as in the
      FASTA.
    head: the head (organism).
    tracks: the head's track indices to keep (default all).
    track_names: a name for each of the head's tracks.
    max_tss_offset, flank_bins: as in `plan_windows`.
    batch_size: windows per model call.
    average_reverse_complement, strand_pairs: as in
      `intervals.predict_intervals`.
    writer: if given, each gene's row is written as soon as its last window
      is predicted (crash-safe output).
    skip_gene_ids: genes already done (e.g. `writer.done_gene_ids` of a
      resumed run): their windows are not predicted unless other genes
      need them, and they are neither returned nor written.
    progress: show a tqdm progress bar over windows.

  Returns:
    The genes x chosen tracks matrix (genes not skipped, in input order).
  """
  layout = intervals.output_layout(model)
  num_tracks = getattr(model, 'heads', {}).get(head)
  if num_tracks is None:
    raise ValueError(f'Unknown head {head!r}; this model has heads '
                     f'{sorted(getattr(model, "heads", {}) or {})}.')
  indices, names = intervals.select_tracks(num_tracks, tracks, track_names)
  if int(batch_size) != batch_size or batch_size < 1:
    raise ValueError(f'batch_size must be a positive integer, got '
                     f'{batch_size!r}.')
  skip = set(skip_gene_ids)
  todo = [g for g in genes if g.gene_id not in skip]
  owns = not isinstance(fasta, genome.FastaExtractor)
  extractor = genome.FastaExtractor(fasta) if owns else fasta
  try:
    check_genes(todo, extractor.chromosome_sizes)
    windows = plan_windows(todo, layout, max_tss_offset, flank_bins)
    values = np.zeros((len(todo), len(indices)), np.float64)
    stream = iter_window_predictions(
        model, extractor, windows, head, layout, batch_size,
        average_reverse_complement, strand_pairs)
    if progress:
      from tqdm import tqdm  # pylint: disable=g-import-not-at-top
      stream = tqdm(stream, total=len(windows), unit='window',
                    desc=f'{head} gene windows')
    accumulate_expression(
        windows, stream, values, indices,
        None if writer is None else
        lambda done: writer.write([todo[g] for g in done], values[done]))
  finally:
    if owns:
      extractor.close()
  return GeneExpression(list(todo), values, indices, names)


def observe_gene_expression(targets_file: str,
                            genes: Sequence[annotation.Gene], *,
                            tracks: Optional[Sequence[int]] = None,
                            flank_bins: int = 0) -> GeneExpression:
  """Observed expression of each gene from the bigWigs of `targets_file`.

  The same bins as `predict_gene_expression` (TSS bins +- `flank_bins`,
  each once), each track binned as training targets are.

  Args:
    targets_file: a `targets.txt` whose `file` column names bigWigs.
    genes: the genes, chromosome names as in the bigWigs.
    tracks: target indices (rows of targets.txt) to keep (default all).
    flank_bins: as in `plan_windows`.
  """
  # pylint: disable=g-import-not-at-top  (pyBigWig only when reading)
  from enformer_tf.data import bigwig, targets as targets_lib

  target_list = targets_lib.read_targets(targets_file,
                                         sum_stats=bigwig.SUM_STATS)
  indices, names = intervals.select_tracks(
      len(target_list), tracks, [t.identifier for t in target_list])
  chosen = [target_list[i] for i in indices]
  reader = bigwig.BigWigTracks(chosen, targets_file)
  try:
    values = np.zeros((len(genes), len(chosen)), np.float64)
    for g, gene in enumerate(genes):
      bins = gene_bins(gene, flank_bins)
      # Contiguous runs of bins, read in one call each.
      runs, run = [], [bins[0]]
      for b in bins[1:]:
        if b == run[-1] + 1:
          run.append(b)
        else:
          runs.append(run)
          run = [b]
      runs.append(run)
      for run in runs:
        binned = reader.binned(gene.chrom, run[0] * BIN_SIZE,
                               (run[-1] + 1) * BIN_SIZE, BIN_SIZE)
        values[g] += binned.astype(np.float64).sum(axis=0)
  finally:
    reader.close()
  return GeneExpression(list(genes), values, indices, names)


class GeneExpressionWriter:
  """Gene rows written to `<tsv>.partial` as they are finished.

  TSV columns: `gene_id gene_name gene_type chrom strand tss` (0-based
  TSSs, comma-separated) then one column per track. `finish()` renames the
  TSV into place and writes the HDF5 (`values [genes, tracks]` float64,
  `gene_id`, `gene_name`, `chrom`, `strand`, `track_names`,
  `track_indices`, attributes `definition` and the given `attrs`).

  With `resume=True` an existing `<tsv>.partial` of the same columns is
  continued: `done_gene_ids` lists its genes, to be skipped.
  """

  def __init__(self, tsv_path: str, track_names: Sequence[str],
               track_indices: Sequence[int],
               h5_path: Optional[str] = None, resume: bool = False,
               attrs: Optional[dict] = None):
    self.path = os.path.abspath(os.fspath(tsv_path))
    self.partial_path = self.path + PARTIAL_SUFFIX
    self.h5_path = h5_path
    self.track_names = list(track_names)
    self.track_indices = list(track_indices)
    self.attrs = dict(attrs or {})
    self.columns = list(GENE_COLUMNS) + self.track_names
    self.done_gene_ids: List[str] = []
    if not os.path.isdir(os.path.dirname(self.path)):
      raise ValueError(f'The directory of {self.path} does not exist.')
    if resume and os.path.exists(self.partial_path):
      with open(self.partial_path, encoding='utf-8') as f:
        header = f.readline().rstrip('\n').split('\t')
        if header != self.columns:
          raise ValueError(
              f'{self.partial_path} has columns {header[:8]}..., not those '
              'of this run; remove it or use the same tracks.')
        complete = []
        for line in f:
          if line.endswith('\n'):  # A cut last line is dropped.
            complete.append(line)
      self.done_gene_ids = [line.split('\t', 1)[0] for line in complete]
      with atomic.atomic_path(self.partial_path) as temporary:
        with open(temporary, 'w', encoding='utf-8') as f:
          f.write('\t'.join(self.columns) + '\n')
          f.writelines(complete)
      self._file = open(self.partial_path, 'a', encoding='utf-8')
    else:
      self._file = open(self.partial_path, 'w', encoding='utf-8')
      self._file.write('\t'.join(self.columns) + '\n')
      self._file.flush()

  def write(self, genes: Sequence[annotation.Gene],
            values: np.ndarray) -> None:
    rows = []
    for gene, row in zip(genes, values):
      fields = [gene.gene_id, gene.name, gene.gene_type, gene.chrom,
                gene.strand, ','.join(str(t) for t in gene.tss)]
      fields += [f'{v:.9g}' for v in row]
      rows.append('\t'.join(fields) + '\n')
    self._file.writelines(rows)
    self._file.flush()  # A later failure must not lose these rows.

  def finish(self) -> Dict[str, str]:
    """Renames the TSV into place, writes the HDF5; returns the paths."""
    self._file.close()
    os.replace(self.partial_path, self.path)
    paths = {'tsv': self.path}
    if self.h5_path:
      expression = read_expression_tsv(self.path)
      write_expression_h5(expression, self.h5_path,
                          {'definition': DEFINITION, **self.attrs})
      paths['h5'] = self.h5_path
    return paths

  def abandon(self) -> str:
    self._file.close()
    return self.partial_path


def read_expression_tsv(path: str) -> GeneExpression:
  """A `GeneExpressionWriter` TSV back as a `GeneExpression` (track
  indices unknown: 0..T-1)."""
  with open(path, encoding='utf-8') as f:
    header = f.readline().rstrip('\n').split('\t')
    if header[:6] != list(GENE_COLUMNS):
      raise ValueError(f'{path} is not a gene expression table (header '
                       f'{header[:6]}).')
    genes, rows = [], []
    for line_no, line in enumerate(f, 2):
      fields = line.rstrip('\n').split('\t')
      if len(fields) != len(header):
        raise ValueError(f'{path}, line {line_no}: {len(fields)} columns, '
                         f'expected {len(header)}.')
      genes.append(annotation.Gene(
          gene_id=fields[0], name=fields[1], gene_type=fields[2],
          chrom=fields[3], strand=fields[4],
          tss=tuple(int(t) for t in fields[5].split(','))))
      rows.append([float(v) for v in fields[6:]])
  values = np.asarray(rows, np.float64).reshape(len(rows), len(header) - 6)
  return GeneExpression(genes, values, tuple(range(len(header) - 6)),
                        tuple(header[6:]))


def write_expression_h5(expression: GeneExpression, path: str,
                        attrs: Optional[dict] = None) -> str:
  """The matrix and its gene and track labels as HDF5, atomically."""
  import h5py  # pylint: disable=g-import-not-at-top

  string = h5py.string_dtype()
  with atomic.atomic_path(path) as temporary:
    with h5py.File(temporary, 'w') as f:
      f.create_dataset('values', data=expression.values)
      for name, column in (
          ('gene_id', [g.gene_id for g in expression.genes]),
          ('gene_name', [g.name for g in expression.genes]),
          ('chrom', [g.chrom for g in expression.genes]),
          ('strand', [g.strand for g in expression.genes])):
        f.create_dataset(name, data=column, dtype=string)
      f.create_dataset('track_names', data=list(expression.track_names),
                       dtype=string)
      f.create_dataset('track_indices',
                       data=np.asarray(expression.track_indices, np.int64))
      for key, value in (attrs or {}).items():
        f.attrs[key] = value
  return path
