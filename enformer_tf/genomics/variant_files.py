"""The variants of a VCF scored into files, from paths (the work of
`enformer-score-variants`).

  score_variants_to_files('model.keras', 'genome.fa', 'variants.vcf.gz',
                          'human', 'scores.tsv', h5='scores.h5',
                          targets='targets.txt', tracks='cage_promoter',
                          rc=True, shifts=(-1, 0, 1), skipped='skipped.tsv')

On top of `variant_scoring.score_vcf` (the scoring and the crash-safe
`.partial` outputs): the model read from its path, the head's tracks chosen
through its targets.txt (`tracks`, `profiles`), the statistics by name
(`stats`), genes read from an annotation (`genes`), and the skipped records
listed in a TSV of their own. Messages name the command's options
(`--skipped`, `--tracks`), as the command passes them through unchanged.
"""
import os
from typing import Any, Callable, Optional, Sequence, Union

from enformer_tf import atomic
from enformer_tf.data import genome
from enformer_tf.data import annotation
from enformer_tf.genomics import gene_files
from enformer_tf.genomics import score_writers, variant_scoring, vcf
from enformer_tf.genomics import tracks as tracks_lib
from enformer_tf.genomics import variant_normalization, variant_stats


def score_variants_to_files(
    model: Union[str, Any], fasta: str, vcf_path: str, head: str, out: str,
    *, h5: Optional[str] = None, skipped: Optional[str] = None,
    targets: Optional[str] = None, tracks: Optional[str] = None,
    rc: bool = False, shifts: Sequence[int] = (0,), batch_size: int = 8,
    sequence_length: Optional[int] = None,
    stats: str = ','.join(variant_stats.DEFAULT_STATS),
    genes: Optional[str] = None, gene_out: Optional[str] = None,
    gene_types: Optional[Sequence[str]] = annotation.DEFAULT_GENE_TYPES,
    flank_bins: int = 0, share_windows: Optional[int] = None,
    profiles: Optional[str] = None, normalizer: Optional[str] = None,
    on_skip: Optional[Callable[[vcf.SkippedRecord], None]] = None,
    progress: bool = False) -> variant_scoring.ScoringSummary:
  """Scores every variant of `vcf_path` into `out` (and `h5`, `skipped`).

  Args:
    model: a `.keras` file, an enformer-train directory or a checkpoint
      prefix (read with `enformer_tf.io.load_model`), or a loaded model.
    fasta: the genome FASTA the VCF refers to.
    vcf_path: the variants: a VCF, plain or gzip/bgzip.
    head: the head (organism) to score.
    out: the TSV of scores to write.
    h5: also write the scores to this HDF5 file.
    skipped: write every skipped record (line, reason, message) to this
      TSV (`write_skipped`), also when the scoring fails midway.
    targets: the head's targets.txt: names the tracks by identifier,
      enables `tracks` by name and strand pairs for `rc`.
    tracks: the `--tracks` text: indices, ranges and identifiers (default
      all; see `tracks.parse_tracks`).
    rc, shifts, batch_size, sequence_length, flank_bins, share_windows:
      see `variant_effects.VariantScorer`.
    stats: the `--stats` text: bin statistics (SAD, SAR, D1, D2, logD1,
      logD2, MAX, JS, logJS) and, with `genes`, gene statistics (SED,
      logSED; both if none is named), comma-separated.
    genes: an annotation (GTF, GFF3, TSS BED) whose genes to score at
      their TSS bins, into `gene_out`.
    gene_out: the TSV of gene scores.
    gene_types: annotation gene types to keep (`None`: all).
    profiles: the `--profiles` text: tracks (as `tracks`) whose ref and alt
      profiles to write to `h5`.
    normalizer: a saved `variant_normalization` file: adds z-scores (and
      principal components) of its statistic to the outputs.
    on_skip: called with each skipped record as it is met.
    progress: show a progress bar on stderr.

  Returns:
    The `variant_scoring.ScoringSummary`.

  Raises:
    FileNotFoundError, ValueError: bad input, found before any scoring.
    variant_scoring.ScoringInterrupted: a failure midway; the rows scored
      so far stay in the `.partial` files it names.
  """
  if batch_size < 1:
    raise ValueError(f'--batch_size must be positive, got {batch_size}.')
  for path, flag in ((vcf_path, '--vcf'), (fasta, '--fasta')):
    if not os.path.isfile(path):
      raise FileNotFoundError(f'{flag} {path} not found.')
  if skipped:  # Checked now: it is written only after the scoring.
    skipped_path = score_writers.check_output_path(skipped, '--skipped')
    if skipped_path in (os.path.abspath(p) for p in (out, h5, gene_out)
                        if p):
      raise ValueError(f'--skipped {skipped} is also an output of the '
                       'scores; give it a file of its own.')
  bin_stats, chosen_gene_stats = variant_stats.parse_stats(stats)
  if genes is None and chosen_gene_stats:
    raise ValueError(f'--stats {stats}: {", ".join(chosen_gene_stats)} '
                     'need --genes.')
  if genes is not None and not bin_stats:
    raise ValueError(f'--stats {stats}: name at least one bin statistic '
                     '(e.g. SAD) for --out.')
  if (genes is None) != (gene_out is None):
    raise ValueError('--genes and --gene_out go together.')
  gene_list = None
  if genes is not None:
    if not os.path.isfile(genes):
      raise FileNotFoundError(f'--genes {genes} not found.')
    gene_list = gene_files.read_genes_for(fasta, genes, gene_types)
  fitted = None
  if normalizer is not None:
    fitted = variant_normalization.load_normalizer(normalizer)
  model, chosen = tracks_lib.model_and_tracks(model, head, targets, tracks)
  num_tracks = chosen.num_tracks
  identifiers, indices = chosen.identifiers, chosen.indices
  strand_pairs = chosen.strand_pairs() if rc else None
  profile_tracks = None
  if profiles is not None:
    try:
      profile_tracks = tracks_lib.parse_tracks(profiles, num_tracks,
                                               identifiers)
    except ValueError as e:
      raise ValueError(str(e).replace('--tracks', '--profiles')) from None

  with genome.FastaExtractor(fasta) as extractor:
    try:
      summary = variant_scoring.score_vcf(
          model, extractor, vcf_path, head, out, h5=h5, tracks=indices,
          track_names=identifiers, strand_pairs=strand_pairs, rc=rc,
          shifts=shifts, batch_size=batch_size,
          sequence_length=sequence_length, stats=bin_stats,
          genes=gene_list, gene_out=gene_out,
          gene_stats=chosen_gene_stats or variant_stats.GENE_STATS,
          flank_bins=flank_bins, share_windows=share_windows,
          profile_tracks=profile_tracks, normalizer=fitted, on_skip=on_skip,
          progress=progress)
    except variant_scoring.ScoringInterrupted as interrupted:
      if skipped:
        write_skipped(skipped, interrupted.report)
      raise
  if skipped:
    write_skipped(skipped, summary.report)
  return summary


def write_skipped(path: str, report: vcf.SkipReport) -> None:
  """All skipped records as TSV (`vcf_line reason message`), written
  atomically.

  Raises:
    ValueError: `path` is a directory or its directory does not exist.
  """
  path = score_writers.check_output_path(path, '--skipped')
  with atomic.atomic_path(path) as temporary:
    with open(temporary, 'w', encoding='utf-8') as f:
      f.write('vcf_line\treason\tmessage\n')
      for record in report:
        message = ' '.join(record.message.split())
        f.write(f'{record.line}\t{record.reason}\t{message}\n')
