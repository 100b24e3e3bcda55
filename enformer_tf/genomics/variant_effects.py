"""Variant effects: SAD, SAR and other statistics of VCF variants.

For each variant (a `vcf.VcfRecord`) the model predicts two windows of its
`sequence_length` `L` (`variant_windows`): the reference, centred on the
variant as in Enformer's usage notebook (`[start - L // 2 + shift, + L)`,
`start` the variant's 0-based first REF base), and the alternative, the same
window with ALT in place of REF (exactly `L` bp; indels anchored at the
variant). With `share_windows`, nearby substitutions share one window
and one reference prediction (`variant_windows.group_variants`).

From the predictions `ref`, `alt` (`[bins, tracks]`, the chosen tracks of
the head, optionally averaged as below), per track, by default:

    SAD = mean over bins of (alt - ref)
    SAR = mean over bins of (log2(1 + alt) - log2(1 + ref))

SAR is the per-bin log2 fold change with a pseudo-count of 1, averaged
over the same bins as SAD (all `target_length` output bins); it is not the
log ratio of bin sums that Basenji's `basenji_sad.py` reports. `stats`
chooses others (D1, D2, logD1, logD2, MAX, JS, logJS: `variant_stats`), and
with genes, SED and logSED at the TSS bins of every gene in the window
(`variant_genes`), from the same predictions.

Averaging (`shifts`, `rc`): the predictions of the shifted windows (each
moved `shift` bp to the right; |shift| < 128, so bins stay aligned to
within a bin and are averaged bin by bin) and, with `rc`, of their reverse
complements (bins flipped back, tracks mapped through `strand_pairs`) are
averaged per bin into one `ref` and one `alt` prediction before any
statistic is taken. SAD thus equals the mean of the per-window SADs; SAR is
that of the averaged predictions, not the mean of per-window SARs.

`variant_scoring.score_vcf` runs a whole VCF into crash-safe files.
"""
import dataclasses
from typing import (Callable, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Tuple)

import numpy as np

from enformer_tf.constants import BIN_SIZE
from enformer_tf.data import annotation
from enformer_tf.data import encoding
from enformer_tf.data import genome
from enformer_tf.genomics import intervals
from enformer_tf.genomics import variant_genes
from enformer_tf.genomics import variant_stats
from enformer_tf.genomics import variant_windows
from enformer_tf.genomics import vcf


# -- Scores -------------------------------------------------------------------

_SHARED_BATCHES = 4  # Model calls' worth of windows per shared-window batch.


def sad_sar(ref, alt) -> Tuple[np.ndarray, np.ndarray]:
  """SAD and SAR of predictions `[..., bins, tracks]` -> `[..., tracks]`.

  SAD = mean over bins of `alt - ref`; SAR = mean over bins of
  `log2(1 + alt) - log2(1 + ref)`. Computed in float64, returned float32.
  """
  scores = variant_stats.bin_stats(ref, alt, ('SAD', 'SAR'))
  return scores['SAD'], scores['SAR']


def _checked_shifts(shifts: Sequence[int]) -> Tuple[int, ...]:
  shifts = tuple(shifts)
  if not shifts:
    raise ValueError('shifts is empty; use (0,) for no shifting.')
  for shift in shifts:
    if int(shift) != shift or not -BIN_SIZE < shift < BIN_SIZE:
      raise ValueError(f'shift {shift!r} must be an integer with |shift| < '
                       f'{BIN_SIZE} (one output bin): larger shifts would '
                       'average predictions of different bins.')
  if len(set(shifts)) != len(shifts):
    raise ValueError(f'shifts {list(shifts)} repeats a shift.')
  return tuple(int(s) for s in shifts)




class VariantScorer:
  """Statistics of variants under one head; see the module docstring.

  Args:
    model: an `Enformer`, or anything with `heads`, `sequence_length`,
      `target_length` and `predict_head(x, head, training=False)`.
    fasta: the genome (a `FastaExtractor`; the caller closes it).
    head: the head (organism), e.g. `'human'`.
    tracks: the head's track indices to score (default all), in order.
    track_names: a name for each of the head's tracks (default `track_i`).
    strand_pairs: with `rc`, the head's track index that track `i` becomes
      on the other strand (targets.txt `strand_pair`); default unstranded.
    rc: also predict the reverse complement of every window and average.
    shifts: window shifts (bp, |shift| < 128) to average over.
    batch_size: sequences per model call (reference, alternative, shifted
      and reverse-complemented windows all count).
    sequence_length: window length for a model without one.
    stats: bin-level statistics (`variant_stats.BIN_STATS`), in column
      order; default SAD and SAR.
    genes: genes whose TSS bins to score (`variant_genes`); default none.
    gene_stats: gene-level statistics (`variant_stats.GENE_STATS`).
    flank_bins: bins on either side of each TSS bin to sum too.
    share_windows: share one window among substitutions within this many
      bp of its centre (`variant_windows.group_variants`); `None`: never.
    profile_tracks: head track indices (among `tracks`) whose `ref` and
      `alt` profiles to keep in each `ScoreBatch`.
    normalizer: a `variant_normalization.VariantNormalizer` fitted on the
      same tracks and one of `stats`: adds its z-scores (`z<STAT>`) and
      principal components (`<STAT>_PC`, if it has a PCA) to each batch.

  Raises:
    ValueError: unknown head, track or statistic, bad shifts, strand pairs
      or tolerance, a non-positive batch size, or `rc` with output bins that
      are not centred in the window.
  """

  def __init__(self, model, fasta: genome.FastaExtractor, head: str, *,
               tracks: Optional[Sequence[int]] = None,
               track_names: Optional[Sequence[str]] = None,
               strand_pairs: Optional[Sequence[int]] = None,
               rc: bool = False, shifts: Sequence[int] = (0,),
               batch_size: int = 8, sequence_length: Optional[int] = None,
               stats: Sequence[str] = variant_stats.DEFAULT_STATS,
               genes: Optional[Sequence[annotation.Gene]] = None,
               gene_stats: Sequence[str] = variant_stats.GENE_STATS,
               flank_bins: int = 0, share_windows: Optional[int] = None,
               profile_tracks: Optional[Sequence[int]] = None,
               normalizer=None):
    heads = getattr(model, 'heads', None) or {}
    if head not in heads:
      raise ValueError(f'Unknown head {head!r}; this model has heads '
                       f'{sorted(heads)}.')
    if int(batch_size) != batch_size or batch_size < 1:
      raise ValueError(f'batch_size must be a positive integer, got '
                       f'{batch_size!r}.')
    self.model = model
    self.fasta = fasta
    self.head = head
    self.layout = intervals.output_layout(model, sequence_length)
    self.sequence_length = self.layout.sequence_length
    num_tracks = int(heads[head])
    self.track_indices, self.track_names = intervals.select_tracks(
        num_tracks, tracks, track_names)
    self.strand_pairs = intervals.check_strand_pairs(strand_pairs,
                                                   num_tracks)
    self.rc = bool(rc)
    self.shifts = _checked_shifts(shifts)
    self.batch_size = int(batch_size)
    bin_names, gene_names = variant_stats.parse_stats(
        list(stats) + list(gene_stats if genes is not None else []))
    if gene_names and genes is None:
      raise ValueError(f'{", ".join(gene_names)} need genes (--genes).')
    self.stats, self.gene_stats = bin_names, gene_names
    self.gene_index = (variant_genes.GeneIndex(genes, flank_bins)
                       if genes is not None else None)
    self.share_windows = (None if share_windows is None else
                          variant_windows.check_tolerance(
                              share_windows, self.sequence_length))
    self.profile_columns = ()
    if profile_tracks is not None:
      missing = [t for t in profile_tracks if t not in self.track_indices]
      if missing:
        raise ValueError(f'Profile tracks {missing} are not among the scored '
                         f'tracks {list(self.track_indices)}.')
      self.profile_columns = tuple(self.track_indices.index(t)
                                   for t in profile_tracks)
    self.normalizer = normalizer
    if normalizer is not None:
      if normalizer.stat not in self.stats:
        raise ValueError(f'The normaliser was fitted on {normalizer.stat}, '
                         f'which is not among the statistics '
                         f'{list(self.stats)}.')
      if tuple(normalizer.track_names) != tuple(self.track_names):
        raise ValueError(
            f'The normaliser was fitted on tracks '
            f'{list(normalizer.track_names)[:5]} '
            f'({len(normalizer.track_names)}), not the scored tracks '
            f'{list(self.track_names)[:5]} ({len(self.track_names)}).')
    if self.rc and not self.layout.symmetric:
      layout = self.layout
      right = layout.sequence_length - layout.span - layout.crop_bp
      raise ValueError(
          f'rc needs the output bins centred in the window, but '
          f'sequence_length={layout.sequence_length} with {layout.num_bins} '
          f'bins crops {layout.crop_bp} bp on the left and {right} on the '
          'right.')
    self._predict = intervals.window_predictor(
        model, head, self.rc, self.strand_pairs, self.batch_size)
    self._applier = variant_windows.variant_applier(fasta)

  @property
  def windows_per_variant(self) -> int:
    """Windows predicted per unshared variant: ref and alt, per shift (and
    strand)."""
    return 2 * len(self.shifts) * (2 if self.rc else 1)

  @property
  def variants_per_batch(self) -> int:
    """Unshared variants whose windows fill about one model call."""
    return max(1, self.batch_size // self.windows_per_variant)

  def normalized_columns(self) -> Dict[str, List[str]]:
    """Column names of the normalised scores, by `ScoreBatch.normalized`
    key (empty without a normaliser)."""
    if self.normalizer is None:
      return {}
    stat = self.normalizer.stat
    columns = {f'z{stat}': [f'z{stat}_{n}' for n in self.track_names]}
    if self.normalizer.num_components:
      columns[f'{stat}_PC'] = [
          f'{stat}_PC{i + 1}' for i in range(self.normalizer.num_components)]
    return columns

  def group_windows(self, group: variant_windows.WindowGroup) -> int:
    """Windows predicted for `group`: one reference and an alternative per
    variant, per shift (and strand)."""
    return (1 + len(group.records)) * self.windows_per_variant // 2

  def windows(self, record: vcf.VcfRecord, shift: int = 0) -> Tuple[str, str]:
    """`(reference, alternative)` window strings; see `variant_windows`."""
    return variant_windows.variant_windows(
        self.fasta, record, self.sequence_length, shift, self._applier)

  def predict(self, x: np.ndarray) -> np.ndarray:
    """Chosen tracks of one-hot `x` `[n, L, 4]` -> `[n, bins, tracks]`.

    With `rc`, the mean of the prediction and that of the reverse
    complement, its bins flipped back and its tracks mapped through the
    strand pairs. Calls the model on at most `batch_size` sequences at once.
    """
    y = self._predict(x)  # [n, bins, head tracks]
    return y[..., list(self.track_indices)]  # [n, bins, tracks]

  def group(self, records: Sequence[vcf.VcfRecord]
            ) -> List[variant_windows.WindowGroup]:
    """`records` in window groups (one each unless `share_windows`)."""
    return list(variant_windows.group_variants(
        records, self.sequence_length, self.share_windows))

  def grouped_predictions(self, groups: Sequence[variant_windows.WindowGroup]
                          ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`(ref, alt, starts)` of the groups' records, in order.

    `ref`, `alt`: `[n, bins, tracks]` averaged over shifts (and strands);
    a shared group's records have the same `ref`, predicted once.
    `starts`: int64 `[n]`, each record's unshifted window start.
    """
    sequences: List[str] = []
    ref_rows: List[List[int]] = []  # Per record: its ref window per shift.
    alt_rows: List[List[int]] = []
    starts: List[int] = []
    for group in groups:
      if group.shared:
        refs = []
        for shift in self.shifts:
          first = group.start + shift
          refs.append(len(sequences))
          sequences.append(self.fasta.extract(
              group.records[0].chrom, first, first + self.sequence_length))
        for record in group.records:
          alts = []
          for shift in self.shifts:
            _, alt = variant_windows.variant_windows(
                self.fasta, record, self.sequence_length, shift,
                start=group.start)
            alts.append(len(sequences))
            sequences.append(alt)
          ref_rows.append(refs)
          alt_rows.append(alts)
          starts.append(group.start)
      else:
        (record,) = group.records
        refs, alts = [], []
        for shift in self.shifts:
          ref, alt = self.windows(record, shift)
          refs.append(len(sequences))
          alts.append(len(sequences) + 1)
          sequences += [ref, alt]
        ref_rows.append(refs)
        alt_rows.append(alts)
        starts.append(group.start)
    x = np.stack([encoding.one_hot_encode(s) for s in sequences])
    y = self.predict(x)  # [windows, bins, tracks]
    ref = y[np.asarray(ref_rows)].mean(axis=1)  # [n, bins, tracks]
    alt = y[np.asarray(alt_rows)].mean(axis=1)
    return ref, alt, np.asarray(starts, np.int64)

  def predictions(self, records: Sequence[vcf.VcfRecord]
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """`(ref, alt)` predictions `[n, bins, tracks]`, averaged over shifts."""
    ref, alt, _ = self.grouped_predictions(self.group(records))
    return ref, alt

  def score(self, records: Sequence[vcf.VcfRecord]
            ) -> Tuple[np.ndarray, np.ndarray]:
    """`(sad, sar)`, float32 `[n, tracks]` each, of checked records."""
    if not records:
      empty = np.zeros((0, len(self.track_indices)), np.float32)
      return empty, empty.copy()
    return sad_sar(*self.predictions(records))

  def score_groups(self, groups: Sequence[variant_windows.WindowGroup]
                   ) -> 'ScoreBatch':
    """Every chosen statistic (and gene score, profile) of the groups'
    records, from one set of predictions."""
    ref, alt, starts = self.grouped_predictions(groups)
    records = tuple(r for g in groups for r in g.records)
    genes = []
    if self.gene_index is not None:
      for i, record in enumerate(records):
        genes += variant_genes.score_genes(
            self.gene_index, record, int(starts[i]), self.layout, ref[i],
            alt[i], self.gene_stats)
    columns = list(self.profile_columns)
    scores = variant_stats.bin_stats(ref, alt, self.stats)
    normalized = {}
    if self.normalizer is not None:
      stat = self.normalizer.stat
      normalized[f'z{stat}'] = self.normalizer.transform(scores[stat])
      if self.normalizer.num_components:
        normalized[f'{stat}_PC'] = self.normalizer.project(scores[stat])
    return ScoreBatch(
        records, scores, ref[..., columns] if columns else None,
        alt[..., columns] if columns else None, tuple(genes), normalized)

  def score_batch(self, records: Sequence[vcf.VcfRecord]) -> 'ScoreBatch':
    """`score_groups` of `records` grouped as `group` does."""
    return self.score_groups(self.group(records))


# -- Scoring a record stream --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScoreBatch:
  """Scores of consecutive variants.

  Attributes:
    records: the variants.
    scores: `{stat: float32 [n, tracks]}`, in the scorer's stat order.
    ref_profiles, alt_profiles: `[n, bins, profile tracks]` or `None`.
    genes: `variant_genes.GeneScore` rows, variant by variant (empty
      without genes).
    normalized: `{'z<STAT>': [n, tracks], '<STAT>_PC': [n, k]}` with a
      normaliser (`VariantScorer.normalized_columns` names the columns).
  """
  records: Tuple[vcf.VcfRecord, ...]
  scores: Dict[str, np.ndarray]
  ref_profiles: Optional[np.ndarray] = None
  alt_profiles: Optional[np.ndarray] = None
  genes: Tuple[variant_genes.GeneScore, ...] = ()
  normalized: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

  @property
  def sad(self) -> np.ndarray:
    return self.scores['SAD']

  @property
  def sar(self) -> np.ndarray:
    return self.scores['SAR']

  def __len__(self) -> int:
    return len(self.records)


def score_records(scorer: VariantScorer, records: Iterable[vcf.VcfRecord],
                  report: Optional[vcf.SkipReport] = None,
                  progress: Optional[Callable[[int], object]] = None,
                  check: bool = True) -> Iterator[ScoreBatch]:
  """Scores records batch by batch, skipping those the FASTA contradicts.

  Args:
    scorer: the `VariantScorer`.
    records: parsed records (`vcf.read_vcf`).
    report: receives a `SkippedRecord` for an unknown chromosome or a REF
      that differs from the FASTA (`vcf.check_reference`).
    progress: called with the number of records dealt with (scored or
      skipped) after each batch, e.g. `tqdm(...).update`.
    check: check each record against the FASTA; `False` for records that
      were already checked (`checked_records`).

  Yields:
    `ScoreBatch`es, in order: of `scorer.variants_per_batch` variants
    without `share_windows`; with it, of whole window groups worth about
    four model calls (`batch_size` windows each).
  """
  report = report if report is not None else vcf.SkipReport()
  consumed = [0]

  def accepted():
    for record in records:
      consumed[0] += 1
      problem = vcf.check_reference(record, scorer.fasta) if check else None
      if problem is not None:
        report.add(problem)
      else:
        yield record

  for pending in group_batches(scorer, variant_windows.group_variants(
      accepted(), scorer.sequence_length, scorer.share_windows)):
    yield scorer.score_groups(pending)
    if progress is not None and consumed[0]:
      progress(consumed[0])
    consumed[0] = 0
  if progress is not None and consumed[0]:
    progress(consumed[0])


def group_batches(scorer: VariantScorer,
                  groups: Iterable[variant_windows.WindowGroup]
                  ) -> Iterator[List[variant_windows.WindowGroup]]:
  """Window groups packed into the batches `score_records` scores at once.

  One home for the packing, so that a job split elsewhere (the pipeline's
  shards, cut between batches) makes the very same model calls.

  Yields:
    Lists of consecutive groups: `scorer.variants_per_batch` variants each
    without `share_windows`; with it, groups worth about four model calls.
  """
  budget = scorer.variants_per_batch * scorer.windows_per_variant
  if scorer.share_windows is not None:
    # Groups seldom fill model calls exactly; several calls' worth at once
    # leaves one part-filled call per few, not one per batch.
    budget = _SHARED_BATCHES * scorer.batch_size
  pending, windows = [], 0
  for group in groups:
    pending.append(group)
    windows += scorer.group_windows(group)
    if windows >= budget:
      yield pending
      pending, windows = [], 0
  if pending:
    yield pending
