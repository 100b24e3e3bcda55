"""Variant effects: SAD and SAR of VCF variants under one model head.

For each variant (a `vcf.VcfRecord`) the model predicts two windows of its
`sequence_length`, centred on the variant as in Enformer's usage notebook:

- reference: the FASTA over `[start - L // 2 + shift, + L)`, where `start`
  is the variant's 0-based first REF base, so that base sits at index
  `L // 2 - shift` of the window; `N` (all-zero one-hot) off the chromosome.
- alternative: the same window with ALT in place of REF, applied by
  kipoiseq's `VariantSeqExtractor` anchored at the variant: the bases left
  of the variant are the reference ones, ALT starts at index `L // 2 -
  shift`, and the right flank follows it, cut (insertions) or extended from
  the FASTA (deletions) so that the window keeps exactly `L` bp.

From the predictions `ref`, `alt` (`[bins, tracks]`, the chosen tracks of
the head, optionally averaged as below), per track:

    SAD = mean over bins of (alt - ref)
    SAR = mean over bins of (log2(1 + alt) - log2(1 + ref))

SAR is the per-bin log2 fold change with a pseudo-count of 1, averaged
over the same bins as SAD (all `target_length` output bins); it is not the
log ratio of bin sums that Basenji's `basenji_sad.py` reports.

Averaging (`shifts`, `rc`): the predictions of the shifted windows (each
moved `shift` bp to the right; |shift| < 128, so bins stay aligned to
within a bin and are averaged bin by bin) and, with `rc`, of their reverse
complements (bins flipped back, tracks mapped through `strand_pairs`) are
averaged per bin into one `ref` and one `alt` prediction before SAD and SAR
are taken. SAD thus equals the mean of the per-window SADs; SAR is that of
the averaged predictions, not the mean of per-window SARs.

`score_vcf` runs a whole VCF to a TSV and optionally an HDF5 file, written
batch by batch to `<path>.partial` and renamed to `<path>` when every
variant is scored: if anything fails midway, the rows scored so far stay in
the `.partial` files and `ScoringInterrupted` says where. Bad records never
stop a run; they are skipped with their VCF line (see `vcf`).
"""
import dataclasses
import os
from typing import (Callable, Iterable, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import numpy as np

from enformer_tf.constants import BIN_SIZE
from enformer_tf.data import encoding
from enformer_tf.data import genome
from enformer_tf.genomics import intervals
from enformer_tf.genomics import vcf
from enformer_tf.genomics.score_writers import (H5ScoreWriter,
                                                TsvScoreWriter,
                                                check_output_path)


# -- Windows ------------------------------------------------------------------


def window_start(record: vcf.VcfRecord, sequence_length: int,
                 shift: int = 0) -> int:
  """0-based start of the window of `record` moved `shift` bp right."""
  return record.start - sequence_length // 2 + shift


class _PaddedReference:
  """kipoiseq's reference-sequence interface over `FastaExtractor`.

  kipoiseq's own FASTA extractor returns short sequences off the chromosome
  ends; ours pads with `N`, so windows near the ends keep their length and
  every base its position.
  """

  def __init__(self, fasta: genome.FastaExtractor):
    self._fasta = fasta

  def extract(self, interval, **unused_kwargs) -> str:
    return self._fasta.extract(interval.chrom, interval.start, interval.end)

  def close(self) -> None:
    pass  # The FASTA belongs to the caller.


def variant_applier(fasta: genome.FastaExtractor):
  """A `kipoiseq` `VariantSeqExtractor` reading `fasta` with `N` padding."""
  from kipoiseq.extractors import VariantSeqExtractor
  return VariantSeqExtractor(reference_sequence=_PaddedReference(fasta))


def variant_windows(fasta: genome.FastaExtractor, record: vcf.VcfRecord,
                    sequence_length: int, shift: int = 0,
                    applier=None) -> Tuple[str, str]:
  """The reference and alternative windows of one variant.

  Args:
    fasta: the genome.
    record: the variant; its REF should match `fasta` (`vcf.check_reference`).
    sequence_length: window length `L`, bp.
    shift: move the window `shift` bp to the right; the variant's first base
      is at index `L // 2 - shift`.
    applier: a `variant_applier(fasta)` to reuse (made if `None`).

  Returns:
    `(reference, alternative)`, strings of exactly `L` characters.
  """
  import kipoiseq
  if not -(sequence_length // 2) < shift < sequence_length // 2:
    raise ValueError(f'shift {shift} moves the variant out of the '
                     f'{sequence_length}-bp window.')
  start = window_start(record, sequence_length, shift)
  interval = kipoiseq.Interval(record.chrom, start, start + sequence_length)
  reference = fasta.extract(record.chrom, start, start + sequence_length)
  applier = applier if applier is not None else variant_applier(fasta)
  alternative = applier.extract(interval, [record.to_kipoiseq()],
                                anchor=record.start, fixed_len=True)
  if len(alternative) != sequence_length:  # kipoiseq's contract; guard it.
    raise ValueError(f'The alternative window of {record.label} has '
                     f'{len(alternative)} bp, expected {sequence_length}.')
  return reference, alternative


# -- Scores -------------------------------------------------------------------


def sad_sar(ref, alt) -> Tuple[np.ndarray, np.ndarray]:
  """SAD and SAR of predictions `[..., bins, tracks]` -> `[..., tracks]`.

  SAD = mean over bins of `alt - ref`; SAR = mean over bins of
  `log2(1 + alt) - log2(1 + ref)`. Computed in float64, returned float32.
  """
  ref = np.asarray(ref, np.float64)
  alt = np.asarray(alt, np.float64)
  if ref.shape != alt.shape or ref.ndim < 2:
    raise ValueError(f'ref and alt predictions must have one shape [..., '
                     f'bins, tracks]; got {ref.shape} and {alt.shape}.')
  sad = np.mean(alt - ref, axis=-2)  # [..., tracks]
  sar = np.mean(np.log1p(alt) - np.log1p(ref), axis=-2) / np.log(2.0)
  return sad.astype(np.float32), sar.astype(np.float32)


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
  """SAD and SAR of variants under one head; see the module docstring.

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

  Raises:
    ValueError: unknown head or track, bad shifts or strand pairs, a
      non-positive batch size, or `rc` with output bins that are not
      centred in the window.
  """

  def __init__(self, model, fasta: genome.FastaExtractor, head: str, *,
               tracks: Optional[Sequence[int]] = None,
               track_names: Optional[Sequence[str]] = None,
               strand_pairs: Optional[Sequence[int]] = None,
               rc: bool = False, shifts: Sequence[int] = (0,),
               batch_size: int = 8, sequence_length: Optional[int] = None):
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
    self._applier = variant_applier(fasta)

  @property
  def windows_per_variant(self) -> int:
    """Windows predicted per variant: ref and alt, per shift (and strand)."""
    return 2 * len(self.shifts) * (2 if self.rc else 1)

  @property
  def variants_per_batch(self) -> int:
    """Variants whose windows fill about one model call."""
    return max(1, self.batch_size // self.windows_per_variant)

  def windows(self, record: vcf.VcfRecord, shift: int = 0) -> Tuple[str, str]:
    """`(reference, alternative)` window strings; see `variant_windows`."""
    return variant_windows(self.fasta, record, self.sequence_length, shift,
                           self._applier)

  def predict(self, x: np.ndarray) -> np.ndarray:
    """Chosen tracks of one-hot `x` `[n, L, 4]` -> `[n, bins, tracks]`.

    With `rc`, the mean of the prediction and that of the reverse
    complement, its bins flipped back and its tracks mapped through the
    strand pairs. Calls the model on at most `batch_size` sequences at once.
    """
    y = self._predict(x)  # [n, bins, head tracks]
    return y[..., list(self.track_indices)]  # [n, bins, tracks]

  def predictions(self, records: Sequence[vcf.VcfRecord]
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """`(ref, alt)` predictions `[n, bins, tracks]`, averaged over shifts."""
    sequences = []
    for record in records:
      pairs = [self.windows(record, shift) for shift in self.shifts]
      sequences += [ref for ref, _ in pairs] + [alt for _, alt in pairs]
    x = np.stack([encoding.one_hot_encode(s) for s in sequences])
    y = self.predict(x)  # [n * 2 * S, bins, tracks]
    y = y.reshape(len(records), 2, len(self.shifts), *y.shape[1:])
    y = y.mean(axis=2)  # [n, 2, bins, tracks]
    return y[:, 0], y[:, 1]

  def score(self, records: Sequence[vcf.VcfRecord]
            ) -> Tuple[np.ndarray, np.ndarray]:
    """`(sad, sar)`, float32 `[n, tracks]` each, of checked records."""
    if not records:
      empty = np.zeros((0, len(self.track_indices)), np.float32)
      return empty, empty.copy()
    return sad_sar(*self.predictions(records))


# -- Scoring a record stream --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ScoreBatch:
  """Scores of consecutive variants: `sad`, `sar` float32 `[n, tracks]`."""
  records: Tuple[vcf.VcfRecord, ...]
  sad: np.ndarray
  sar: np.ndarray

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
    `ScoreBatch`es of up to `scorer.variants_per_batch` variants, in order.
  """
  report = report if report is not None else vcf.SkipReport()
  pending, consumed = [], 0
  for record in records:
    consumed += 1
    problem = vcf.check_reference(record, scorer.fasta) if check else None
    if problem is not None:
      report.add(problem)
    else:
      pending.append(record)
    if len(pending) == scorer.variants_per_batch:
      yield ScoreBatch(tuple(pending), *scorer.score(pending))
      if progress is not None:
        progress(consumed)
      pending, consumed = [], 0
  if pending:
    yield ScoreBatch(tuple(pending), *scorer.score(pending))
  if progress is not None and consumed:
    progress(consumed)


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
    outputs: the files written (TSV, then HDF5 if asked for).
    track_names: the scored tracks, in column order.
  """
  num_scored: int
  report: vcf.SkipReport
  outputs: Tuple[str, ...]
  track_names: Tuple[str, ...]

  def message(self) -> str:
    """`'scored 10 variants, skipped 2 records (1 malformed, ...)'`."""
    noun = 'variant' if self.num_scored == 1 else 'variants'
    return f'scored {self.num_scored} {noun}, {self.report.summary()}'


def score_vcf(model, fasta: Union[str, genome.FastaExtractor], vcf_path: str,
              head: str, out: str, *, h5: Optional[str] = None,
              tracks: Optional[Sequence[int]] = None,
              track_names: Optional[Sequence[str]] = None,
              strand_pairs: Optional[Sequence[int]] = None, rc: bool = False,
              shifts: Sequence[int] = (0,), batch_size: int = 8,
              sequence_length: Optional[int] = None,
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
      sequence_length: see `VariantScorer`.
    on_skip: called with each `SkippedRecord` as it is met.
    progress: show a tqdm progress bar (on stderr) over the records.

  Returns:
    A `ScoringSummary`.

  Raises:
    FileNotFoundError: no VCF or FASTA.
    ValueError: unreadable VCF, unknown head or track, bad options or output
      paths: all found before anything is scored.
    ScoringInterrupted: a failure while scoring (the model, the disk, ...);
      the variants scored so far are kept in the `.partial` files it names.
      A KeyboardInterrupt keeps them the same way and propagates as is.
  """
  out = check_output_path(out, 'TSV')
  if h5 is not None:
    h5 = check_output_path(h5, 'HDF5')
    if h5 == out:
      raise ValueError(f'The TSV and HDF5 outputs are the same file {out}.')
  report = vcf.SkipReport(on_skip)
  owns_fasta = not isinstance(fasta, genome.FastaExtractor)
  extractor = genome.FastaExtractor(fasta) if owns_fasta else fasta
  try:
    scorer = VariantScorer(
        model, extractor, head, tracks=tracks, track_names=track_names,
        strand_pairs=strand_pairs, rc=rc, shifts=shifts,
        batch_size=batch_size, sequence_length=sequence_length)
    records = checked_records(vcf_path, extractor, report)
    writers = [TsvScoreWriter(out, scorer.track_names)]
    if h5 is not None:
      attrs = dict(head=head, rc=scorer.rc, shifts=list(scorer.shifts),
                   sequence_length=scorer.sequence_length,
                   vcf=os.path.abspath(vcf_path))
      try:
        writers.append(H5ScoreWriter(h5, scorer.track_names,
                                     scorer.track_indices, attrs))
      except BaseException:
        writers[0].abandon()
        raise
    num_scored = _write_all(scorer, records, report, writers, progress)
  finally:
    if owns_fasta:
      extractor.close()
  return ScoringSummary(num_scored, report,
                        tuple(w.path for w in writers), scorer.track_names)


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
