"""`GeneJob`: gene expression at the TSSs (`enformer-predict-genes`) on
shards.

The driver reads the annotation and plans the windows with the command's
code (`gene_files.read_genes_for`, `genes.plan_windows`): windows in
chromosome and position order, shared by nearby TSSs. Units hold whole
model batches of those windows (`batch_size` each, from the first), and a
unit ends only where no gene has windows on both sides, so every gene's
sum runs over its windows in the command's order in one worker, and every
model call is the command's. A worker predicts its windows
(`genes.iter_window_predictions`), sums them into its genes
(`genes.accumulate_expression`) and writes each gene's row as it finishes
(`genes.GeneExpressionWriter`): the command's rows in the command's
order. The merge concatenates the shards under the writer's header, then
writes the HDF5 and the observed expression as the command does.
"""
import dataclasses
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from enformer_tf.data import annotation
from enformer_tf.genomics import gene_files, genes as genes_lib, intervals
from enformer_tf.genomics import score_writers
from enformer_tf.pipeline import faults, jobs, shards

# A unit's input: one window and the genes it reads, in `window.genes` order.
Item = Tuple[genes_lib.GeneWindow, Tuple[annotation.Gene, ...]]


@dataclasses.dataclass
class _Worker:
  model: Any
  extractor: Any
  layout: intervals.OutputLayout
  strand_pairs: Optional[Sequence[int]]
  indices: Tuple[int, ...]
  names: Tuple[str, ...]


def _item_key(item: Item) -> str:
  window, genes = item
  return repr((window, [g.gene_id for g in genes]))


def cut_allowed(windows: Sequence[genes_lib.GeneWindow]) -> List[bool]:
  """`allowed[w]`: no gene has windows both up to `w` and after it."""
  last: Dict[int, int] = {}
  for w, window in enumerate(windows):
    for g, _ in window.genes:
      last[g] = w
  allowed, reach = [], -1
  for w, window in enumerate(windows):
    reach = max([reach] + [last[g] for g, _ in window.genes])
    allowed.append(reach <= w)
  return allowed


@dataclasses.dataclass(frozen=True)
class GeneJob:
  """Predicted expression of every gene, as `enformer-predict-genes`.

  Attributes: the options of `gene_files.predict_genes_to_files` of the
  same names (`model` a path; `annotation_path` the `--genes` file), plus
  `windows_per_shard`: windows per work unit (a unit ends at the first
  batch boundary past it that no gene straddles). No `resume`: the
  pipeline resumes from its shards.
  """
  model: str
  fasta: str
  annotation_path: str
  head: str
  out: str
  h5: Optional[str] = None
  targets: Optional[str] = None
  tracks: Optional[str] = None
  observed: Optional[str] = None
  gene_types: Optional[Tuple[str, ...]] = tuple(
      annotation.DEFAULT_GENE_TYPES)
  max_tss_offset: int = 0
  flank_bins: int = 0
  rc: bool = False
  batch_size: int = 4
  windows_per_shard: int = 64

  name = 'genes'

  def _check(self) -> None:
    if self.observed is not None and self.targets is None:
      raise ValueError('observed expression needs --targets (the bigWigs).')
    for value, flag in ((self.batch_size, '--batch_size'),
                        (self.windows_per_shard, '--windows_per_shard')):
      if value < 1:
        raise ValueError(f'{flag} must be positive, got {value}.')
    for path, flag in ((self.out, '--out'), (self.h5, '--h5'),
                       (self.observed, '--observed')):
      if path:
        score_writers.check_output_path(path, flag)

  def _tracks(self, model):
    indices, names, pairs = gene_files.chosen_tracks(
        model, self.head, self.targets, self.tracks)
    chosen = intervals.select_tracks(model.heads[self.head], indices, names)
    return chosen, pairs

  def plan(self, on_skip=None) -> jobs.Plan:
    """Reads the genes, plans their windows, cuts them into units.

    Raises:
      FileNotFoundError, ValueError: bad options or inputs.
    """
    from enformer_tf import io as models
    from enformer_tf.data import genome
    del on_skip  # Genes off the FASTA are left out, as by the command.
    self._check()
    model_sha = jobs.model_sha256(self.model)
    model = models.load_model(self.model)
    (indices, names), pairs = self._tracks(model)
    intervals.window_predictor(model, self.head, self.rc, pairs)  # Checks.
    gene_list = gene_files.read_genes_for(self.fasta, self.annotation_path,
                                          self.gene_types)
    with genome.FastaExtractor(self.fasta) as extractor:
      genes_lib.check_genes(gene_list, extractor.chromosome_sizes)
    windows = genes_lib.plan_windows(gene_list, intervals.output_layout(model),
                                     self.max_tss_offset, self.flank_bins)
    items = [(w, tuple(gene_list[g] for g, _ in w.genes)) for w in windows]
    allowed, size = cut_allowed(windows), self.batch_size
    chunks = jobs.cut_batches(
        [items[i:i + size] for i in range(0, len(items), size)],
        self.windows_per_shard,
        lambda b: allowed[min((b + 1) * size, len(items)) - 1])
    units = shards.make_units(
        chunks, lambda item: f'window {item[0].chrom}:{item[0].start}',
        _item_key)
    options = {k: v for k, v in dataclasses.asdict(self).items()
               if k not in ('model', 'fasta', 'annotation_path', 'out', 'h5',
                            'targets', 'observed')}
    options['gene_types'] = (None if self.gene_types is None
                             else list(self.gene_types))
    fingerprint = dict(options, job=self.name, model=model_sha,
                       fasta=jobs.optional_sha256(self.fasta),
                       genes=jobs.optional_sha256(self.annotation_path),
                       targets=jobs.optional_sha256(self.targets))
    header = '\t'.join(genes_lib.GENE_COLUMNS + tuple(names)) + '\n'
    return jobs.Plan(units, fingerprint, None, header, len(gene_list), names,
                     context=dict(genes=gene_list, indices=indices))

  def load(self) -> _Worker:
    """The model, a FASTA handle and the chosen tracks."""
    from enformer_tf import io as models
    from enformer_tf.data import genome
    model = models.load_model(self.model)
    (indices, names), pairs = self._tracks(model)
    return _Worker(model, genome.FastaExtractor(self.fasta),
                   intervals.output_layout(model), pairs, indices, names)

  def _predict(self, worker: _Worker, batch) -> List[np.ndarray]:
    return [y for _, y in genes_lib.iter_window_predictions(
        worker.model, worker.extractor, batch, self.head, worker.layout,
        self.batch_size, self.rc, worker.strand_pairs)]

  def score(self, replicas, unit: shards.WorkUnit, work_dir: str
            ) -> Dict[str, Dict[str, Any]]:
    """Sums `unit`'s windows into its genes' rows, written as they finish.
    """
    local: Dict[int, int] = {}  # The plan's gene index -> the unit's.
    genes: List[annotation.Gene] = []
    windows = []
    for window, window_genes in unit.items:
      members = []
      for (g, bins), gene in zip(window.genes, window_genes):
        if g not in local:
          local[g] = len(genes)
          genes.append(gene)
        members.append((local[g], bins))
      windows.append(dataclasses.replace(window, genes=tuple(members)))
    size = self.batch_size
    parts = replicas.map(self._predict, [windows[i:i + size] for i in range(
        0, len(windows), size)])
    worker = replicas.replicas[0]
    relative = shards.shard_file(unit.index, 'genes')
    os.makedirs(os.path.join(work_dir, shards.SHARD_DIR), exist_ok=True)
    writer = genes_lib.GeneExpressionWriter(
        os.path.join(work_dir, relative), worker.names, worker.indices)
    values = np.zeros((len(genes), len(worker.indices)), np.float64)
    try:
      genes_lib.accumulate_expression(
          windows, enumerate(y for part in parts for y in part), values,
          worker.indices,
          lambda done: writer.write([genes[g] for g in done], values[done]))
      faults.maybe_fail(unit.index)  # Tests: a bundle dies mid-shard.
    except BaseException:
      os.remove(writer.abandon())
      raise
    writer.finish()
    return {'genes': shards.output_record(work_dir, relative)}

  def merge(self, plan: jobs.Plan, entries: Sequence[Dict[str, Any]],
            work_dir: str) -> Dict[str, Any]:
    """The command's TSV (and HDF5, observed TSV) from the shards."""
    merged = {'genes': shards.merge_tables(work_dir, entries, 'genes',
                                           self.out, plan.header)}
    if self.h5:
      attrs = gene_files.expression_attrs(self.head, self.rc, self.flank_bins,
                                          self.max_tss_offset)
      genes_lib.write_expression_h5(
          genes_lib.read_expression_tsv(self.out), self.h5,
          {'definition': genes_lib.DEFINITION, **attrs})
      merged['h5'] = dict(file=os.path.abspath(self.h5),
                          sha256=shards.file_sha256(self.h5))
    if self.observed:
      gene_files.write_observed(self.observed, self.targets,
                                plan.context['genes'],
                                plan.context['indices'], self.flank_bins)
      merged['observed'] = dict(file=os.path.abspath(self.observed),
                                sha256=shards.file_sha256(self.observed))
    return merged

  def outputs(self) -> Tuple[str, ...]:
    return tuple(p for p in (self.out, self.h5, self.observed) if p)

  def summary(self, plan: jobs.Plan) -> jobs.Summary:
    return jobs.Summary(f'predicted {plan.num_inputs} genes '
                        f'({len(plan.track_names)} tracks)')
