"""VCF records for variant scoring, each with the line it came from.

`read_vcf` reads a plain or gzip/bgzip-compressed VCF (told apart by the
gzip magic bytes, not the file name) into `VcfRecord`s, one per ALT allele,
and a `SkipReport` of everything it could not use, each entry with its line
number and the reason. Nothing in the file stops the reading: a bad record
is skipped and reported, so a run scores every good record of a file with a
few bad lines. `check_reference` then compares each record's REF with the
genome FASTA.

What is read (VCF 4.x, tab-separated; a line without any tab is split on
whitespace, for hand-written files):

- `##` meta lines and the `#CHROM` header are skipped; blank lines too.
  A `#CHROM` header whose first columns are not `CHROM POS ID REF ALT`, or
  a file holding NUL bytes (binary, not a VCF), is an error of the whole
  file, not of a record.
- Columns used: CHROM, POS (1-based), ID, REF, ALT. A record needs at least
  these five; when a `#CHROM` header was seen it must have exactly as many
  columns as the header names (QUAL, FILTER, INFO, samples are not used).
- REF: one or more of `A C G T N` (either case; stored upper case).
- ALT: comma-separated alleles, each split into its own record
  (`allele` = 1, 2, ... is its position in ALT). An allele of `A C G T N`
  is scored; symbolic alleles (`<DEL>`, `<*>`), the spanning deletion `*`
  and breakends (`G]17:198982]`, `.A`) cannot be applied to a sequence and
  are skipped as `SYMBOLIC`; `.` (no ALT) is skipped as `NO_ALT`; an ALT
  equal to REF is malformed.

REF against the FASTA (`check_reference`): letter by letter, case-
insensitively, and `N` only matches `N`. A FASTA `N` under an `A/C/G/T` REF
base is a mismatch: the reference window would hold an unknown base where
the VCF claims a known one, and the score would compare ALT with `N`.
"""
import dataclasses
import gzip
import os
import re
from typing import Callable, Dict, Iterator, List, Optional, Tuple

# Reasons a record is skipped (`SkippedRecord.reason`).
MALFORMED = 'malformed'
SYMBOLIC = 'symbolic allele'
NO_ALT = 'no ALT allele'
UNKNOWN_CHROMOSOME = 'unknown chromosome'
REF_MISMATCH = 'REF mismatch'
REASONS = (MALFORMED, SYMBOLIC, NO_ALT, UNKNOWN_CHROMOSOME, REF_MISMATCH)

FIXED_COLUMNS = ('CHROM', 'POS', 'ID', 'REF', 'ALT')
_BASES = re.compile(r'^[ACGTN]+$')
_GZIP_MAGIC = b'\x1f\x8b'
_SHOWN_TEXT = 80  # Characters of a skipped line kept in its report.
_SNIFF_BYTES = 8192  # Bytes (decompressed) checked for NULs, binary files'.


@dataclasses.dataclass(frozen=True)
class VcfRecord:
  """One ALT allele of one VCF line.

  Attributes:
    chrom: CHROM.
    pos: POS, 1-based: the first base of REF.
    id: ID (`.` when the VCF has none).
    ref: REF, upper case.
    alt: this ALT allele, upper case.
    line: the line number in the VCF (1-based, header lines counted).
    allele: the allele's position in the ALT column (1 for the first).
  """
  chrom: str
  pos: int
  id: str
  ref: str
  alt: str
  line: int
  allele: int = 1

  @property
  def start(self) -> int:
    """0-based position of the first REF base."""
    return self.pos - 1

  @property
  def end(self) -> int:
    """0-based exclusive end of REF."""
    return self.start + len(self.ref)

  @property
  def label(self) -> str:
    """`chrom:pos:REF>ALT`, the kipoiseq spelling of the variant."""
    return f'{self.chrom}:{self.pos}:{self.ref}>{self.alt}'

  def to_kipoiseq(self):
    """This record as a `kipoiseq.Variant` (kipoiseq imported lazily)."""
    import kipoiseq
    return kipoiseq.Variant(self.chrom, self.pos, self.ref, self.alt,
                            id=self.id)


@dataclasses.dataclass(frozen=True)
class SkippedRecord:
  """A line (or one allele of it) that was not scored, and why.

  Attributes:
    line: the line number in the VCF (1-based).
    reason: one of `REASONS`.
    message: what exactly was wrong.
    text: the start of the line, for the report.
  """
  line: int
  reason: str
  message: str
  text: str = ''

  def __str__(self) -> str:
    return f'line {self.line}: {self.reason}: {self.message}'


class SkipReport:
  """The skipped records of a run, in the order they were met.

  Args:
    on_skip: called with each `SkippedRecord` as it is added (the CLI
      prints them as they come).
  """

  def __init__(self, on_skip: Optional[Callable[[SkippedRecord], None]] = None):
    self.records: List[SkippedRecord] = []
    self.on_skip = on_skip

  def add(self, record: SkippedRecord) -> None:
    self.records.append(record)
    if self.on_skip is not None:
      self.on_skip(record)

  def __len__(self) -> int:
    return len(self.records)

  def __iter__(self) -> Iterator[SkippedRecord]:
    return iter(self.records)

  def counts(self) -> Dict[str, int]:
    """`{reason: count}` of the reasons that occurred, in `REASONS` order."""
    counts = {}
    for reason in REASONS:
      count = sum(record.reason == reason for record in self.records)
      if count:
        counts[reason] = count
    return counts

  def summary(self) -> str:
    """`'skipped 3 records (2 malformed, 1 REF mismatch)'`."""
    total = len(self.records)
    text = f'skipped {total} record{"" if total == 1 else "s"}'
    if total:
      text += ' (' + ', '.join(f'{count} {reason}' for reason, count in
                               self.counts().items()) + ')'
    return text


def is_gzipped(path: str) -> bool:
  """Whether `path` starts with the gzip magic bytes (gzip and bgzip do)."""
  with open(path, 'rb') as f:
    return f.read(2) == _GZIP_MAGIC


def _open_text(path: str):
  if is_gzipped(path):
    # bgzip is a series of gzip members, which `gzip` reads as one stream.
    return gzip.open(path, 'rt', encoding='utf-8', errors='replace')
  return open(path, encoding='utf-8', errors='replace')


def _check_text(path: str) -> None:
  """Raises if the start of the (decompressed) file is binary.

  Raises:
    ValueError: a NUL byte in the first `_SNIFF_BYTES` bytes.
  """
  opener = gzip.open if is_gzipped(path) else open
  try:
    with opener(path, 'rb') as f:
      head = f.read(_SNIFF_BYTES)
  except (EOFError, gzip.BadGzipFile):
    return  # Truncated or corrupt gzip: reported as the lines are read.
  nul = head.find(b'\0')
  if nul >= 0:
    raise ValueError(f'VCF {path!r} is not a text file (a NUL byte at byte '
                     f'{nul:,}); expected a VCF, plain or gzip/bgzip.')


def _check_header(fields: List[str], path: str, line: int) -> int:
  """The column count of a `#CHROM` header; raises if it is malformed.

  Raises:
    ValueError: its first columns are not `#CHROM POS ID REF ALT`.
  """
  names = [field.strip().upper() for field in fields]
  names[0] = names[0].lstrip('#')
  if names[:len(FIXED_COLUMNS)] != list(FIXED_COLUMNS):
    shown = ' '.join(fields[:len(FIXED_COLUMNS)])
    if len(shown) > _SHOWN_TEXT:
      shown = shown[:_SHOWN_TEXT] + '...'
    raise ValueError(f'VCF {path!r} line {line}: malformed header: expected '
                     f'columns #CHROM POS ID REF ALT, got {shown!r}.')
  return len(fields)


def _split(line: str) -> List[str]:
  return line.split('\t') if '\t' in line else line.split()


def _classify_alt(allele: str) -> Optional[Tuple[str, str]]:
  """`None` for a scorable ALT allele, else `(reason, message)`."""
  if allele == '.':
    return NO_ALT, 'ALT is "." (no alternative allele)'
  if allele == '*':
    return SYMBOLIC, ('ALT "*" (an allele removed by an upstream deletion) '
                      'cannot be applied to a sequence')
  if (allele.startswith('<') and allele.endswith('>')) or any(
      c in allele for c in '[]') or (len(allele) > 1 and '.' in (
          allele[0], allele[-1])):
    return SYMBOLIC, (f'ALT {allele!r} is a symbolic allele or breakend; '
                      'only sequence alleles (A, C, G, T, N) can be scored')
  if not _BASES.match(allele.upper()):
    return MALFORMED, (f'ALT {allele!r} is not a sequence of A, C, G, T, N '
                       'nor a symbolic allele')
  return None


def parse_record(fields: List[str], line: int,
                 num_columns: Optional[int] = None
                 ) -> Tuple[List[VcfRecord], List[SkippedRecord]]:
  """The records of one data line (one per ALT allele) and its skips.

  Args:
    fields: the line's columns.
    line: its line number, kept in every record and skip.
    num_columns: the column count of the `#CHROM` header, if there was one.

  Returns:
    `(records, skipped)`; a malformed line gives no records and one skip.
  """
  text = '\t'.join(fields)
  if len(text) > _SHOWN_TEXT:
    text = text[:_SHOWN_TEXT] + '...'

  def skip(reason, message):
    return SkippedRecord(line, reason, message, text)

  if len(fields) < len(FIXED_COLUMNS):
    return [], [skip(MALFORMED, f'expected at least {len(FIXED_COLUMNS)} '
                     f'columns ({", ".join(FIXED_COLUMNS)}), got '
                     f'{len(fields)}')]
  if num_columns is not None and len(fields) != num_columns:
    return [], [skip(MALFORMED, f'expected {num_columns} columns as in the '
                     f'#CHROM header, got {len(fields)}')]
  chrom, pos_text, variant_id, ref, alt_text = (
      field.strip() for field in fields[:5])
  if not chrom:
    return [], [skip(MALFORMED, 'CHROM is empty')]
  try:
    pos = int(pos_text)
  except ValueError:
    return [], [skip(MALFORMED, f'POS {pos_text!r} is not an integer')]
  if pos < 1:
    return [], [skip(MALFORMED, f'POS {pos} is not a 1-based position '
                     '(>= 1)')]
  if not _BASES.match(ref.upper()):
    return [], [skip(MALFORMED, f'REF {ref!r} is not a sequence of A, C, G, '
                     'T, N')]
  ref = ref.upper()
  records, skipped = [], []
  for allele, alt in enumerate(alt_text.split(','), start=1):
    alt = alt.strip()
    problem = _classify_alt(alt) if alt else (MALFORMED, 'an ALT allele is '
                                              'empty')
    if problem is None and alt.upper() == ref:
      problem = MALFORMED, f'ALT {alt!r} equals REF'
    if problem is not None:
      reason, message = problem
      if ',' in alt_text:
        message = f'allele {allele} of ALT {alt_text!r}: {message}'
      skipped.append(skip(reason, message))
      continue
    records.append(VcfRecord(chrom, pos, variant_id or '.', ref, alt.upper(),
                             line, allele))
  return records, skipped


def iter_vcf(path: str, report: Optional[SkipReport] = None
             ) -> Iterator[VcfRecord]:
  """Yields the records of a VCF, adding what it skips to `report`.

  Args:
    path: a plain, gzip or bgzip VCF.
    report: receives a `SkippedRecord` per skipped line or allele.

  Yields:
    `VcfRecord`s in file order, one per usable ALT allele.

  Raises:
    FileNotFoundError: no such file.
    ValueError: the file cannot be read as text (e.g. a truncated gzip
      stream; the message names the file and the last line read), is
      binary, or has a malformed `#CHROM` header.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'VCF file {path!r} not found.')
  _check_text(path)
  report = report if report is not None else SkipReport()
  num_columns = None
  number = 0
  try:
    with _open_text(path) as f:
      for number, line in enumerate(f, start=1):
        line = line.rstrip('\r\n')
        if not line.strip() or line.startswith('##'):
          continue
        if line.startswith('#'):
          if line.upper().startswith('#CHROM'):
            num_columns = _check_header(_split(line), path, number)
          continue
        records, skipped = parse_record(_split(line), number, num_columns)
        for record in skipped:
          report.add(record)
        yield from records
  except (OSError, EOFError, gzip.BadGzipFile) as e:
    raise ValueError(f'Cannot read VCF {path!r} after line {number}: '
                     f'{" ".join(str(e).split()) or type(e).__name__}'
                     ) from e


def read_vcf(path: str, report: Optional[SkipReport] = None
             ) -> Tuple[List[VcfRecord], SkipReport]:
  """All records of a VCF and the report of what was skipped.

  See `iter_vcf`; returns `(records, report)` (a new report unless one is
  given).
  """
  report = report if report is not None else SkipReport()
  return list(iter_vcf(path, report)), report


def check_reference(record: VcfRecord, fasta) -> Optional[SkippedRecord]:
  """`None` if `record` can be scored on `fasta`, else why not.

  Args:
    record: a parsed record.
    fasta: a `genome.FastaExtractor`.

  Returns:
    A `SkippedRecord` (`UNKNOWN_CHROMOSOME` or `REF_MISMATCH`) or `None`.
  """
  if record.chrom not in fasta:
    from enformer_tf.data import genome
    return SkippedRecord(record.line, UNKNOWN_CHROMOSOME,
                         genome.missing_chromosome_message(
                             record.chrom, fasta.chromosome_sizes,
                             f'FASTA {fasta.fasta_file!r}'), record.label)
  size = fasta.chromosome_sizes[record.chrom]
  if record.end > size:
    return SkippedRecord(
        record.line, REF_MISMATCH,
        f'REF {record.ref!r} at {record.chrom}:{record.pos} runs past the '
        f'end of {record.chrom} ({size:,} bp in the FASTA)', record.label)
  genomic = fasta.extract(record.chrom, record.start, record.end).upper()
  if genomic != record.ref:
    return SkippedRecord(
        record.line, REF_MISMATCH,
        f'REF {record.ref!r} at {record.chrom}:{record.pos} differs from the '
        f'FASTA, which has {genomic!r}'
        + (' (N only matches N)' if 'N' in genomic else ''), record.label)
  return None
