"""A whole VCF scored into files: SAD, SAR and other statistics per variant.

`score_vcf` runs a whole VCF to a TSV and optionally an HDF5 file (and a
TSV of gene scores), written batch by batch to `<path>.partial` and renamed
to `<path>` when every variant is scored: if anything fails midway, the rows
scored so far stay in the `.partial` files and `ScoringInterrupted` says
where. Bad records never stop a run; they are skipped with their VCF line
(see `vcf`). The scoring itself is `variant_effects.VariantScorer`.
"""
import dataclasses
import os
from typing import Callable, List, Optional, Sequence, Tuple, Union

from enformer_tf.data import annotation
from enformer_tf.data import genome
from enformer_tf.genomics import variant_stats
from enformer_tf.genomics import vcf
from enformer_tf.genomics.score_writers import (GeneScoreWriter,
                                                H5ScoreWriter,
                                                TsvScoreWriter,
                                                check_output_path)
from enformer_tf.genomics.variant_effects import VariantScorer, score_records


def checked_records(vcf_path: str, fasta: genome.FastaExtractor,
                    report: vcf.SkipReport) -> List[vcf.VcfRecord]:
  """The records of a VCF that `fasta` agrees with, skips in line order.

  Parses (`vcf.iter_vcf`) and checks each record against the FASTA
  (`vcf.check_reference`) in one pass, so that every skipped record is
  reported, in the order of the file, before anything is scored.
  """
  records = []
  for record in vcf.iter_vcf(vcf_path, report):
    problem = vcf.check_reference(record, fasta)
    if problem is not None:
      report.add(problem)
    else:
      records.append(record)
  return records


# -- A whole VCF --------------------------------------------------------------


class ScoringInterrupted(RuntimeError):
  """Scoring failed midway; the rows scored so far are in `partial_paths`.

  Attributes:
    num_scored: variants written before the failure.
    partial_paths: the `.partial` files holding them (empty if none).
    report: the records skipped until then.
  """

  def __init__(self, message: str, num_scored: int,
               partial_paths: Sequence[str], report: vcf.SkipReport):
    super().__init__(message)
    self.num_scored = num_scored
    self.partial_paths = tuple(partial_paths)
    self.report = report


@dataclasses.dataclass(frozen=True)
class ScoringSummary:
  """What `score_vcf` did.

  Attributes:
    num_scored: variants scored and written.
    report: the skipped records, with their lines and reasons.
    outputs: the files written (TSV, then HDF5 and gene TSV if asked for).
    track_names: the scored tracks, in column order.
    num_without_genes: with genes, variants with no gene in range (each
      has one gene row `.`); `None` without genes.
  """
  num_scored: int
  report: vcf.SkipReport
  outputs: Tuple[str, ...]
  track_names: Tuple[str, ...]
  num_without_genes: Optional[int] = None

  def message(self) -> str:
    """`'scored 10 variants, skipped 2 records (1 malformed, ...)'`."""
    noun = 'variant' if self.num_scored == 1 else 'variants'
    text = f'scored {self.num_scored} {noun}, {self.report.summary()}'
    if self.num_without_genes is not None:
      text += (f'; {self.num_without_genes} with no gene in range (gene '
               "'.' rows)")
    return text


def score_vcf(model, fasta: Union[str, genome.FastaExtractor], vcf_path: str,
              head: str, out: str, *, h5: Optional[str] = None,
              tracks: Optional[Sequence[int]] = None,
              track_names: Optional[Sequence[str]] = None,
              strand_pairs: Optional[Sequence[int]] = None, rc: bool = False,
              shifts: Sequence[int] = (0,), batch_size: int = 8,
              sequence_length: Optional[int] = None,
              stats: Sequence[str] = variant_stats.DEFAULT_STATS,
              genes: Optional[Sequence[annotation.Gene]] = None,
              gene_out: Optional[str] = None,
              gene_stats: Sequence[str] = variant_stats.GENE_STATS,
              flank_bins: int = 0, share_windows: Optional[int] = None,
              profile_tracks: Optional[Sequence[int]] = None,
              normalizer=None,
              on_skip: Optional[Callable[[vcf.SkippedRecord], None]] = None,
              progress: bool = False) -> ScoringSummary:
  """Scores every variant of a VCF into a TSV (and an HDF5 file).

  Records are read and checked first (`checked_records`); malformed ones,
  symbolic alleles, unknown chromosomes and REF alleles that differ from the
  FASTA are skipped with their line and counted, never fatal. The outputs are
  written batch by batch to `<out>.partial` (`<h5>.partial`) and renamed
  into place at the end, so a complete file is never a partial one.

  Args:
    model: see `VariantScorer`.
    fasta: the genome FASTA, a path or an open `FastaExtractor`.
    vcf_path: plain, gzip or bgzip VCF.
    head: the head to score.
    out: the TSV to write (`TsvScoreWriter` describes the columns).
    h5: an HDF5 file to write as well (`H5ScoreWriter`).
    tracks, track_names, strand_pairs, rc, shifts, batch_size,
      sequence_length, stats, genes, gene_stats, flank_bins, share_windows,
      profile_tracks, normalizer: see `VariantScorer`.
    gene_out: the TSV of gene scores (`GeneScoreWriter`); needed with genes.
    on_skip: called with each `SkippedRecord` as it is met.
    progress: show a tqdm progress bar (on stderr) over the records.

  Returns:
    A `ScoringSummary`.

  Raises:
    FileNotFoundError: no VCF or FASTA.
    ValueError: unreadable VCF, unknown head, track or statistic, bad
      options or output paths: all found before anything is scored.
    ScoringInterrupted: a failure while scoring (the model, the disk, ...);
      the variants scored so far are kept in the `.partial` files it names.
      A KeyboardInterrupt keeps them the same way and propagates as is.
  """
  out = check_output_path(out, 'TSV')
  if h5 is not None:
    h5 = check_output_path(h5, 'HDF5')
    if h5 == out:
      raise ValueError(f'The TSV and HDF5 outputs are the same file {out}.')
  if (genes is None) != (gene_out is None):
    raise ValueError('Gene scores need both genes (--genes) and a gene '
                     'output (--gene_out).')
  if gene_out is not None:
    gene_out = check_output_path(gene_out, 'gene TSV')
    if gene_out in (out, h5):
      raise ValueError(f'The gene TSV {gene_out} is also another output.')
  if profile_tracks and h5 is None:
    raise ValueError('Profiles (--profiles) are written to HDF5: give --h5.')
  report = vcf.SkipReport(on_skip)
  owns_fasta = not isinstance(fasta, genome.FastaExtractor)
  extractor = genome.FastaExtractor(fasta) if owns_fasta else fasta
  try:
    scorer = VariantScorer(
        model, extractor, head, tracks=tracks, track_names=track_names,
        strand_pairs=strand_pairs, rc=rc, shifts=shifts,
        batch_size=batch_size, sequence_length=sequence_length, stats=stats,
        genes=genes, gene_stats=gene_stats, flank_bins=flank_bins,
        share_windows=share_windows, profile_tracks=profile_tracks,
        normalizer=normalizer)
    records = checked_records(vcf_path, extractor, report)
    writers = []
    try:
      normalized = scorer.normalized_columns()
      writers.append(TsvScoreWriter(out, scorer.track_names, scorer.stats,
                                    normalized))
      if h5 is not None:
        attrs = dict(head=head, rc=scorer.rc, shifts=list(scorer.shifts),
                     sequence_length=scorer.sequence_length,
                     vcf=os.path.abspath(vcf_path),
                     share_windows=(-1 if scorer.share_windows is None
                                    else scorer.share_windows))
        writers.append(H5ScoreWriter(
            h5, scorer.track_names, scorer.track_indices, attrs,
            stats=scorer.stats, profile_tracks=[
                scorer.track_indices[c] for c in scorer.profile_columns],
            num_bins=scorer.layout.num_bins, normalized_columns=normalized))
      if gene_out is not None:
        writers.append(GeneScoreWriter(gene_out, scorer.track_names,
                                       scorer.gene_stats))
    except BaseException:
      for writer in writers:
        writer.abandon()
      raise
    num_scored = _write_all(scorer, records, report, writers, progress)
  finally:
    if owns_fasta:
      extractor.close()
  without = writers[-1].num_without_genes if gene_out is not None else None
  return ScoringSummary(num_scored, report, tuple(w.path for w in writers),
                        scorer.track_names, without)


def _write_all(scorer, records, report, writers, progress) -> int:
  """Streams the scores of `records` into `writers`; see `score_vcf`."""
  bar = None
  if progress:
    from tqdm import tqdm
    bar = tqdm(total=len(records), unit='variant', desc='scoring')
  num_scored, last = 0, None
  try:
    for batch in score_records(scorer, records, report,
                               bar.update if bar is not None else None,
                               check=False):
      for writer in writers:
        writer.write(batch)
      num_scored += len(batch)
      last = batch.records[-1]
  except BaseException as error:
    kept = [path for path in (w.abandon() for w in writers) if path]
    if not isinstance(error, Exception):
      raise  # KeyboardInterrupt and the like: the partial files stay.
    after = f' (up to VCF line {last.line})' if last is not None else ''
    where = (f'{num_scored} variants scored so far{after} are kept in '
             f'{" and ".join(kept)}' if kept else 'no variant was scored')
    cause = ' '.join(str(error).split()) or type(error).__name__
    raise ScoringInterrupted(
        f'scoring stopped by {type(error).__name__}: {cause}; {where}',
        num_scored, kept, report) from error
  finally:
    if bar is not None:
      bar.close()
  for writer in writers:
    writer.finish()
  return num_scored
