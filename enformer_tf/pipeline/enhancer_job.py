"""`EnhancerJob`: enhancer-gene pair scores
(`enformer-prioritize-enhancers`) on shards.

The driver reads the pair table and the annotation, matches them and
predicts the CAGE at the TSSs of the genes with several
(`enhancers.plan_gene_pairs`: one batched pass over those TSS windows, the
command's own, so the main TSS of every gene is the command's). Units are
runs of `genes_per_shard` genes in the command's order. A worker scores
its genes (`enhancers.score_gene_pairs`: one forward/backward pass and the
perturbed windows of each gene, the bulk of the work) and writes them with
the command's writer (`enhancer_writer.PairScoreWriter`) into its shard's
scores, main-TSS and window-problem tables. The merge feeds the shards'
rows, in order, to a `PairScoreWriter` over the output directory, whose
`finish` adds the table's own problems as the command's does; the
evaluation (auPRC tables, PR curves) then runs once on the merged scores
(`enhancer_files.evaluate_written`).
"""
import dataclasses
import os
from typing import Any, Dict, Optional, Sequence, Tuple

from enformer_tf.genomics import enhancer_files, enhancer_writer, enhancers
from enformer_tf.pipeline import faults, jobs, shards

_TABLES = ('scores', 'main_tss', 'problems')


@dataclasses.dataclass
class _Worker:
  model: Any
  extractor: Any
  runner: Any
  tracks: Tuple[int, ...]
  table: Any


def _item_key(item) -> str:
  gene_pairs, cage = item
  return repr((gene_pairs.key, gene_pairs.gene,
               [(p.row, p.chrom, p.start, p.end) for p in gene_pairs.pairs],
               None if cage is None else [f'{v:.9g}' for v in cage]))


@dataclasses.dataclass(frozen=True)
class EnhancerJob:
  """Enhancer-gene pair scores, as `enformer-prioritize-enhancers`.

  Attributes: the options of `enhancer_files.prioritize_enhancers_to_files`
  of the same names (`model` a path; `columns` a preset name or the
  `FIELD=COLUMN,...` text), plus `genes_per_shard`. No `resume`: the
  pipeline resumes from its shards.
  """
  model: str
  fasta: str
  annotation_path: str
  pairs_path: str
  head: str
  out_dir: str
  columns: str = 'encode'
  targets: Optional[str] = None
  tracks: Optional[str] = None
  gene_types: Optional[Tuple[str, ...]] = None
  flank_bins: int = 0
  perturbation: str = 'shuffle'
  seed: int = 0
  batch_size: int = 8
  n_bootstrap: int = 1000
  genes_per_shard: int = 8

  name = 'enhancers'

  def _table(self):
    from enformer_tf.data import crispri_pairs
    columns = (crispri_pairs.parse_mapping(self.columns)
               if '=' in self.columns else self.columns)
    return crispri_pairs.read_pairs(self.pairs_path, columns)

  def _tracks(self, model) -> Tuple[int, ...]:
    return enhancers.check_scoring(
        model, self.head, enhancer_files.scored_tracks(
            model, self.head, self.targets, self.tracks),
        self.perturbation, self.batch_size)

  def plan(self, on_skip=None) -> jobs.Plan:
    """Reads and matches the pairs, chooses every gene's main-TSS
    candidates' CAGE, cuts the genes into units.

    Raises:
      FileNotFoundError, ValueError: bad options or inputs.
    """
    from enformer_tf import io as models
    from enformer_tf.data import genome
    del on_skip  # Problems are reported in problems.tsv.
    if self.genes_per_shard < 1:
      raise ValueError(f'--genes_per_shard must be positive, got '
                       f'{self.genes_per_shard}.')
    os.makedirs(self.out_dir, exist_ok=True)
    table = self._table()
    model_sha = jobs.model_sha256(self.model)
    model = models.load_model(self.model)
    tracks = self._tracks(model)
    genes = enhancer_files.read_genes_matched(self.fasta,
                                              self.annotation_path,
                                              self.gene_types)
    with genome.FastaExtractor(self.fasta) as extractor:
      todo, cage, problems = enhancers.plan_gene_pairs(
          model, extractor, table, genes, self.head, tracks, self.flank_bins)
    items = [(g, cage.get(g.gene.gene_id)) for g in todo]
    size = self.genes_per_shard
    units = shards.make_units(
        [items[i:i + size] for i in range(0, len(items), size)],
        lambda item: f'gene {item[0].key}', _item_key)
    options = {k: v for k, v in dataclasses.asdict(self).items()
               if k not in ('model', 'fasta', 'annotation_path', 'pairs_path',
                            'out_dir', 'targets', 'n_bootstrap')}
    options['gene_types'] = (None if self.gene_types is None
                             else list(self.gene_types))
    fingerprint = dict(options, job=self.name, model=model_sha,
                       fasta=jobs.optional_sha256(self.fasta),
                       genes=jobs.optional_sha256(self.annotation_path),
                       pairs=jobs.optional_sha256(self.pairs_path),
                       targets=jobs.optional_sha256(self.targets))
    return jobs.Plan(units, fingerprint, problems, '', len(items),
                     context=dict(table=table))

  def load(self) -> _Worker:
    """The model, a FASTA handle, the gradient runner and the pair table's
    layout (for the writer's columns)."""
    from enformer_tf import io as models
    from enformer_tf.data import genome
    model = models.load_model(self.model)
    return _Worker(model, genome.FastaExtractor(self.fasta),
                   enhancers.Runner(model, self.head), self._tracks(model),
                   self._table())

  def _writer(self, table, paths: Dict[str, str]):
    return enhancer_writer.PairScoreWriter(
        paths['scores'], paths['main_tss'], paths['problems'], table.header,
        table.columns)

  def score(self, replicas, unit: shards.WorkUnit, work_dir: str
            ) -> Dict[str, Dict[str, Any]]:
    """Scores `unit`'s genes (one per device at a time) into its shard's
    tables."""
    results = replicas.map(lambda w, item: enhancers.score_gene_pairs(
        w.model, w.extractor, item[0], item[1], self.head, w.tracks,
        flank_bins=self.flank_bins, perturbation=self.perturbation,
        seed=self.seed, batch_size=self.batch_size, runner=w.runner),
                           unit.items)
    relative = {name: shards.shard_file(unit.index, name) for name in _TABLES}
    os.makedirs(os.path.join(work_dir, shards.SHARD_DIR), exist_ok=True)
    writer = self._writer(replicas.replicas[0].table, {
        name: os.path.join(work_dir, path) for name, path in relative.items()})
    try:
      for (gene_pairs, _), (main, scores, problems) in zip(unit.items,
                                                           results):
        writer.write_gene(gene_pairs, main, scores, problems)
        faults.maybe_fail(unit.index)  # Tests: a bundle dies mid-shard.
    except BaseException:
      writer.abandon()
      raise
    writer.finish()
    return {name: shards.output_record(work_dir, path)
            for name, path in relative.items()}

  def merge(self, plan: jobs.Plan, entries: Sequence[Dict[str, Any]],
            work_dir: str) -> Dict[str, Any]:
    """The command's tables from the shards' rows, then its evaluation."""
    paths = {name: os.path.join(self.out_dir, enhancer_files.FILES[name])
             for name in _TABLES}
    writer = self._writer(plan.context['table'], paths)
    try:
      for entry in entries:
        for name, table in (('scores', writer.scores),
                            ('main_tss', writer.main_tss),
                            ('problems', writer.window_problems)):
          path = os.path.join(work_dir, entry['outputs'][name]['file'])
          with open(path, encoding='utf-8', newline='') as f:
            if f.readline().rstrip('\n').split('\t') != table.columns:
              raise ValueError(f'Shard {path} has other columns than the '
                               'job; remove the work directory to '
                               'recompute.')
            table.write([line.rstrip('\n').split('\t') for line in f])
    except BaseException:
      writer.abandon()
      raise
    result = enhancer_files.evaluate_written(
        writer.finish(plan.report), self.out_dir,
        n_bootstrap=self.n_bootstrap, seed=self.seed)
    plan.context['result'] = result
    return {name: dict(file=path, rows=shards.count_rows(path),
                       sha256=shards.file_sha256(path))
            for name, path in result['paths'].items()
            if path.endswith('.tsv')}

  def outputs(self) -> Tuple[str, ...]:
    return (self.out_dir,)

  def summary(self, plan: jobs.Plan) -> jobs.Summary:
    """`enformer-prioritize-enhancers`'s first closing line."""
    result = (plan.context or {}).get('result')
    if result is None:
      return jobs.Summary(f'{plan.num_inputs} genes planned')
    return jobs.Summary(
        f'scored {result["scored"]} pairs, {result["problems"]} not scored '
        '(see problems.tsv)')
