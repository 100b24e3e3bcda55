"""Job definitions: what a shard is, how a worker scores it, how shards merge.

A job is a small picklable object (paths and options, never a loaded
model) that the driver (`driver.run_job`) and every worker share:

  name                       the job's name in the manifest
  plan(on_skip)              in the driver: reads and checks the inputs,
                             cuts them into `shards.WorkUnit`s; returns a
                             `Plan` (units, fingerprint, report, header)
  load()                     in a worker, once per device: the scorer
  score(replicas, unit, dir) in a worker: writes the unit's shard files
                             and returns their `{name: record}`
  merge(plan, entries, dir)  in the driver: the single output files
  outputs(), summary(plan)   the files it writes, its closing line

`VariantJob` is `enformer-score-variants` on shards: the same parsing and
skip report (`variant_scoring.checked_records`), the same scorer
(`variant_effects.VariantScorer`) and writer (`score_writers`), and shards
cut only between the batches `score_records` makes
(`variant_effects.group_batches`), so every model call, hence every
number, is the single-process run's. The other jobs follow the same
pattern: `interval_job.IntervalJob` (`enformer-predict`),
`gene_job.GeneJob` (`enformer-predict-genes`) and
`enhancer_job.EnhancerJob` (`enformer-prioritize-enhancers`).
"""
import dataclasses
import glob
import os
import tempfile
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from enformer_tf import atomic
from enformer_tf.genomics import score_writers
from enformer_tf.genomics import variant_effects
from enformer_tf.genomics import variant_files
from enformer_tf.genomics import variant_scoring
from enformer_tf.genomics import variant_stats
from enformer_tf.genomics import variant_windows
from enformer_tf.genomics import vcf
from enformer_tf.pipeline import faults
from enformer_tf.pipeline import shards


@dataclasses.dataclass
class Plan:
  """What the driver knows after `plan()`.

  Attributes:
    units: the work units, in merge order.
    fingerprint: options and input hashes; a restart must match it.
    report: the skipped inputs (a `vcf.SkipReport` for variants).
    header: the merged table's header line.
    num_inputs: inputs to score (over all units).
    track_names: the scored tracks, in column order.
    context: what the job's merge needs from the plan besides the units
      (regions and their windows, genes, ...).
  """
  units: List[shards.WorkUnit]
  fingerprint: Dict[str, Any]
  report: Any
  header: str
  num_inputs: int
  track_names: Tuple[str, ...] = ()
  context: Any = None


def optional_sha256(path: Optional[str]) -> Optional[str]:
  """sha256 of a file or directory, `None` for no path."""
  return None if path is None else shards.file_sha256(path)


def model_sha256(path: str) -> str:
  """sha256 of a .keras file, a training directory or the files of a
  checkpoint prefix (`ckpt-10.index`, `ckpt-10.data-*`)."""
  if os.path.exists(path):
    return shards.file_sha256(path)
  files = sorted(glob.glob(glob.escape(path) + '.*'))
  if not files:
    raise FileNotFoundError(f'--model {path} not found (neither a file, a '
                            'directory nor a checkpoint prefix).')
  return _files_sha(files)


def _files_sha(paths: Sequence[str]) -> str:
  """sha256 over several files' names and contents."""
  return shards.inputs_digest(
      paths, lambda p: f'{os.path.basename(p)}\t{shards.file_sha256(p)}')


def cut_batches(batches: Sequence[Sequence[Any]], size: int,
                can_cut: Optional[Callable[[int], bool]] = None
                ) -> List[List[Any]]:
  """The inputs of consecutive model batches, cut into chunks of at least
  `size` inputs, only between batches (and only after batch `i` where
  `can_cut(i)`), so each chunk's model calls are the single-process run's.
  """
  chunks, current = [], []
  for i, batch in enumerate(batches):
    current += list(batch)
    if len(current) >= size and (can_cut is None or can_cut(i)):
      chunks.append(current)
      current = []
  if current:
    chunks.append(current)
  return chunks


@dataclasses.dataclass(frozen=True)
class Summary:
  """A job's closing line (`message()`), as its single-process command's.
  """
  text: str

  def message(self) -> str:
    return self.text


def _record_key(record: vcf.VcfRecord) -> str:
  return '\t'.join(map(str, dataclasses.astuple(record)))


@dataclasses.dataclass(frozen=True)
class VariantJob:
  """Variant scores (SAD, SAR, ...) of a VCF, as `enformer-score-variants`.

  Attributes: the options of `variant_files.score_variants_to_files` of the
  same names (`model` a path), plus `records_per_shard`: variants per work
  unit (a unit ends at the first batch boundary past it). Gene scores,
  HDF5 and profiles are not offered: this job writes the TSV of scores and
  the skipped report.
  """
  model: str
  fasta: str
  vcf_path: str
  head: str
  out: str
  skipped: Optional[str] = None
  targets: Optional[str] = None
  tracks: Optional[str] = None
  rc: bool = False
  shifts: Tuple[int, ...] = (0,)
  batch_size: int = 8
  sequence_length: Optional[int] = None
  stats: str = ','.join(variant_stats.DEFAULT_STATS)
  share_windows: Optional[int] = None
  normalizer: Optional[str] = None
  records_per_shard: int = 256

  name = 'variants'

  def _check(self) -> None:
    if self.batch_size < 1:
      raise ValueError(f'--batch_size must be positive, got '
                       f'{self.batch_size}.')
    if self.records_per_shard < 1:
      raise ValueError(f'--records_per_shard must be positive, got '
                       f'{self.records_per_shard}.')
    for path, flag in ((self.vcf_path, '--vcf'), (self.fasta, '--fasta')):
      if not os.path.exists(path):
        raise FileNotFoundError(f'{flag} {path} not found.')
    score_writers.check_output_path(self.out, '--out')
    if self.skipped:
      skipped = score_writers.check_output_path(self.skipped, '--skipped')
      if skipped == os.path.abspath(self.out):
        raise ValueError(f'--skipped {self.skipped} is also --out; give it '
                         'a file of its own.')
    _, gene_stats = variant_stats.parse_stats(self.stats)
    if gene_stats:
      raise ValueError(f'--stats {self.stats}: gene statistics '
                       f'({", ".join(gene_stats)}) are not offered by the '
                       'pipeline; use enformer-score-variants --genes.')

  def load(self, fasta=None) -> variant_effects.VariantScorer:
    """The scorer, over its own model copy and FASTA handle (kept open for
    the worker's life)."""
    from enformer_tf import io as models
    from enformer_tf.data import genome
    from enformer_tf.genomics import tracks as tracks_lib
    from enformer_tf.genomics import variant_normalization
    model = models.load_model(self.model)
    num_tracks = tracks_lib.head_num_tracks(model, self.head)
    chosen = tracks_lib.choose_tracks(num_tracks, self.head, self.tracks,
                                      self.targets)
    bin_stats, _ = variant_stats.parse_stats(self.stats)
    fitted = (variant_normalization.load_normalizer(self.normalizer)
              if self.normalizer else None)
    return variant_effects.VariantScorer(
        model, fasta or genome.FastaExtractor(self.fasta), self.head,
        tracks=chosen.indices, track_names=chosen.identifiers,
        strand_pairs=chosen.strand_pairs() if self.rc else None,
        rc=self.rc, shifts=self.shifts, batch_size=self.batch_size,
        sequence_length=self.sequence_length, stats=bin_stats,
        share_windows=self.share_windows, normalizer=fitted)

  def _batches(self, scorer, records) -> List[List[Any]]:
    return list(variant_effects.group_batches(
        scorer, variant_windows.group_variants(
            records, scorer.sequence_length, scorer.share_windows)))

  def plan(self, on_skip: Optional[Callable[[vcf.SkippedRecord], None]]
           = None) -> Plan:
    """Reads and checks the VCF (skips reported as the CLI does) and cuts
    the records into units at batch boundaries.

    Raises:
      FileNotFoundError, ValueError: bad options or inputs, before any
        scoring.
    """
    from enformer_tf.data import genome
    self._check()
    model_sha = model_sha256(self.model)  # Also: the model exists.
    report = vcf.SkipReport(on_skip)
    with genome.FastaExtractor(self.fasta) as fasta:
      scorer = self.load(fasta)
      records = variant_scoring.checked_records(self.vcf_path, fasta, report)
      chunks = cut_batches(
          [[record for group in batch for record in group.records]
           for batch in self._batches(scorer, records)],
          self.records_per_shard)
      header = _tsv_header(scorer)
      track_names = tuple(scorer.track_names)
    options = {k: v for k, v in dataclasses.asdict(self).items()
               if k not in ('model', 'fasta', 'vcf_path', 'out', 'skipped',
                            'targets', 'normalizer')}
    options['shifts'] = list(self.shifts)
    fingerprint = dict(options, job=self.name,
                       model=model_sha,
                       fasta=optional_sha256(self.fasta),
                       vcf=optional_sha256(self.vcf_path),
                       targets=optional_sha256(self.targets),
                       normalizer=optional_sha256(self.normalizer))
    units = shards.make_units(chunks, lambda r: f'VCF line {r.line}',
                              _record_key)
    return Plan(units, fingerprint, report, header, len(records),
                track_names)

  def score(self, replicas, unit: shards.WorkUnit, work_dir: str
            ) -> Dict[str, Dict[str, Any]]:
    """Scores `unit` on the device replicas into its shard TSV."""
    scorer = replicas.replicas[0]
    batches = self._batches(scorer, unit.items)
    results = replicas.map(lambda s, groups: s.score_groups(groups), batches)
    relative = shards.shard_file(unit.index, 'scores')
    os.makedirs(os.path.join(work_dir, shards.SHARD_DIR), exist_ok=True)
    with atomic.atomic_path(os.path.join(work_dir, relative)) as temporary:
      writer = score_writers.TsvScoreWriter(
          temporary, scorer.track_names, scorer.stats,
          scorer.normalized_columns())
      try:
        for batch in results:
          writer.write(batch)
          faults.maybe_fail(unit.index)  # Tests: a bundle dies mid-shard.
        writer.finish()
      except BaseException:
        writer.abandon()
        if os.path.exists(writer.partial_path):
          os.remove(writer.partial_path)
        raise
    return {'scores': shards.output_record(work_dir, relative)}

  def merge(self, plan: Plan, entries: Sequence[Dict[str, Any]],
            work_dir: str) -> Dict[str, Any]:
    """The single TSV (shards in VCF order) and the skipped report."""
    merged = {'scores': shards.merge_tables(work_dir, entries, 'scores',
                                            self.out, plan.header)}
    if self.skipped:
      variant_files.write_skipped(self.skipped, plan.report)
      merged['skipped'] = dict(file=os.path.abspath(self.skipped),
                               rows=len(plan.report),
                               sha256=shards.file_sha256(self.skipped))
    return merged

  def outputs(self) -> Tuple[str, ...]:
    """The files the merge writes, as given."""
    return (self.out,) + ((self.skipped,) if self.skipped else ())

  def summary(self, plan: Plan) -> variant_scoring.ScoringSummary:
    """What the CLI prints at the end (`ScoringSummary.message`)."""
    return variant_scoring.ScoringSummary(
        plan.num_inputs, plan.report, self.outputs(), plan.track_names)


def _tsv_header(scorer) -> str:
  """The header line `TsvScoreWriter` writes for `scorer` (its own code,
  run on an empty table, so the merged header is the CLI's)."""
  with tempfile.TemporaryDirectory() as directory:
    writer = score_writers.TsvScoreWriter(
        os.path.join(directory, 'header.tsv'), scorer.track_names,
        scorer.stats, scorer.normalized_columns())
    with open(writer.finish(), encoding='utf-8', newline='') as f:
      return f.readline()
