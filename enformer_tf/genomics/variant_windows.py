"""The model windows of variants: reference and alternative sequences.

A variant's window is `sequence_length` (`L`) bp of the FASTA. By default
it is centred on the variant as in Enformer's usage notebook,
`[start - L // 2 + shift, + L)`, where `start` is the variant's 0-based first
REF base (`N`, all-zero one-hot, off the chromosome). The alternative is
the same window with ALT in place of REF, applied by kipoiseq's
`VariantSeqExtractor` anchored at the variant: the bases left of the variant
are the reference ones, ALT starts where REF did, and the right flank
follows it, cut (insertions) or extended from the FASTA (deletions) so that
the window keeps exactly `L` bp.

Shared windows (`group_variants`): substitutions (REF and ALT of one length,
e.g. SNVs) on one chromosome whose first bases lie within `2 * tolerance` bp
of each other share one window centred on the middle of the cluster, so one
reference prediction serves them all; each variant then lies at most
`tolerance` bp from the window's centre. Indels keep their own window
centred on them (their alternative windows have exactly `L` bp, anchored at
the variant, and share nothing).
"""
import dataclasses
from typing import Iterable, Iterator, List, Optional, Tuple

from enformer_tf.data import genome
from enformer_tf.genomics import vcf


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


def is_substitution(record: vcf.VcfRecord) -> bool:
  """REF and ALT of one length (SNVs, MNVs): can share a window."""
  return len(record.ref) == len(record.alt)


def variant_windows(fasta: genome.FastaExtractor, record: vcf.VcfRecord,
                    sequence_length: int, shift: int = 0,
                    applier=None, start: Optional[int] = None
                    ) -> Tuple[str, str]:
  """The reference and alternative windows of one variant.

  Args:
    fasta: the genome.
    record: the variant; its REF should match `fasta` (`vcf.check_reference`).
    sequence_length: window length `L`, bp.
    shift: move the window `shift` bp to the right; the variant's first base
      is at index `L // 2 - shift` (centred windows).
    applier: a `variant_applier(fasta)` to reuse (made if `None`).
    start: the unshifted window start, for a shared window (default: the
      window centred on `record`); then `record` must be a substitution
      lying inside the window.

  Returns:
    `(reference, alternative)`, strings of exactly `L` characters.
  """
  import kipoiseq
  if not -(sequence_length // 2) < shift < sequence_length // 2:
    raise ValueError(f'shift {shift} moves the variant out of the '
                     f'{sequence_length}-bp window.')
  if start is not None:
    first = start + shift
    offset = record.start - first
    if not is_substitution(record) or not (
        0 <= offset and offset + len(record.ref) <= sequence_length):
      raise ValueError(f'{record.label} cannot use the shared window '
                       f'[{first}, {first + sequence_length}): only '
                       'substitutions inside it can.')
    reference = fasta.extract(record.chrom, first, first + sequence_length)
    alternative = (reference[:offset] + record.alt +
                   reference[offset + len(record.ref):])
    return reference, alternative
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


@dataclasses.dataclass(frozen=True)
class WindowGroup:
  """Consecutive variants predicted in one window.

  Attributes:
    start: the unshifted window start (0-based).
    records: the variants; more than one only if `shared`.
    shared: the records use the window at `start` (substitutions); if not,
      the single record's window is the one centred on it (`start` is that
      window's start).
  """
  start: int
  records: Tuple[vcf.VcfRecord, ...]
  shared: bool


def group_variants(records: Iterable[vcf.VcfRecord], sequence_length: int,
                   tolerance: Optional[int] = None) -> Iterator[WindowGroup]:
  """Consecutive records grouped into shared windows (module doc).

  Args:
    records: the variants, in order (sorted by position for most sharing).
    sequence_length: window length `L`.
    tolerance: bp a variant may lie from its shared window's centre;
      `None` shares nothing (every variant its own centred window); `0`
      shares only the windows of substitutions at one position (identical
      to their own centred windows).

  Yields:
    `WindowGroup`s covering `records` in order.
  """
  if tolerance is not None:
    check_tolerance(tolerance, sequence_length)
  pending: List[vcf.VcfRecord] = []

  def flush():
    starts = [r.start for r in pending]
    centre = (min(starts) + max(starts)) // 2
    return WindowGroup(centre - sequence_length // 2, tuple(pending),
                       shared=True)

  for record in records:
    if tolerance is None or not is_substitution(record):
      if pending:
        yield flush()
        pending = []
      yield WindowGroup(window_start(record, sequence_length), (record,),
                        shared=False)
      continue
    if pending and (record.chrom != pending[0].chrom or max(
        r.start for r in pending + [record]) - min(
            r.start for r in pending + [record]) > 2 * tolerance):
      yield flush()
      pending = []
    pending.append(record)
  if pending:
    yield flush()


def check_tolerance(tolerance: int, sequence_length: int) -> int:
  """`tolerance` if it is an integer in `[0, L // 4]`; raises otherwise."""
  if (int(tolerance) != tolerance or not
      0 <= tolerance <= sequence_length // 4):
    raise ValueError(f'share_windows tolerance must be an integer from 0 to '
                     f'{sequence_length // 4} bp (a quarter of the '
                     f'{sequence_length}-bp window), got {tolerance!r}.')
  return int(tolerance)
