"""Genome FASTA access with `N` padding beyond chromosome ends.

Enformer's usage notebook (deepmind-research `enformer/enformer-usage.ipynb`)
centres a `kipoiseq.Interval` on a region, resizes it to the model's input
length and reads it from the FASTA padding with `N` where the interval runs
off a chromosome; kipoiseq's own `FastaStringExtractor` truncates instead,
which would shift every base after a chromosome start. `FastaExtractor` pads.

kipoiseq is imported lazily: importing it is slow and creates `~/.kipoi`.
"""
import io
import os
import re
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Tuple

import pyfaidx

from enformer_tf.data import encoding
from enformer_tf.errors import one_line

# Any character of a FASTA sequence that is not a nucleotide code: a digit,
# a space or punctuation means a corrupt or wrong file, not an unknown base.
_NON_NUCLEOTIDE = re.compile(
    f'[^{encoding.IUPAC_CODES}{encoding.IUPAC_CODES.lower()}]')
# A BED coordinate: ASCII digits (int() would also take '+5', '1_000' and
# other scripts' digits), at most 18 so that it fits an int64.
_BED_COORDINATE = re.compile(r'-?[0-9]{1,18}')
_BED_HEADERS = ('track', 'browser')


def alternative_chromosome_name(chrom: str) -> str:
  """`chr1` <-> `1`, `chrM` <-> `MT`: the other common naming of `chrom`."""
  if chrom in ('chrM', 'chrMT'):
    return 'MT'
  if chrom in ('MT', 'M'):
    return 'chrM'
  if chrom.startswith('chr'):
    return chrom[3:]
  return 'chr' + chrom


def missing_chromosome_message(chrom: str, available: Iterable[str],
                               source: str) -> str:
  """One-line message: `source` has no `chrom`; lists a few names it has.

  Args:
    chrom: the chromosome that was asked for.
    available: the chromosome names `source` has.
    source: what was searched, e.g. `'FASTA genome.fa'`.

  Returns:
    A message that names `source`, shows up to five of its chromosomes and,
    when the other naming convention (`chr1` vs `1`) is present, says so.
  """
  available = list(available)
  shown = ', '.join(repr(name) for name in available[:5])
  if len(available) > 5:
    shown += f', ... ({len(available)} in all)'
  message = f'{source} has no chromosome {chrom!r} (it has {shown or "none"})'
  alternative = alternative_chromosome_name(chrom)
  if alternative in set(available):
    uses = 'with' if alternative.startswith('chr') else 'without'
    message += (f'; did you mean {alternative!r}? {source} names chromosomes '
                f"{uses} a 'chr' prefix")
  return message + '.'


def _coordinates(interval_or_chrom, start, end) -> Tuple[str, int, int, str]:
  """(chrom, start, end, strand) of an interval or of chrom/start/end."""
  if isinstance(interval_or_chrom, str):
    if start is None or end is None:
      raise ValueError('extract(chrom, start, end) needs start and end when '
                       f'given a chromosome name, got start={start!r}, '
                       f'end={end!r}.')
    chrom, strand = interval_or_chrom, '.'
  else:
    if start is not None or end is not None:
      raise ValueError('extract(interval) takes no start/end; pass either an '
                       'interval or chrom, start, end.')
    interval = interval_or_chrom
    chrom, start, end = interval.chrom, interval.start, interval.end
    strand = getattr(interval, 'strand', '.')
  if int(start) != start or int(end) != end:
    raise ValueError(f'Interval {chrom}:{start}-{end} must have integer '
                     'coordinates.')
  start, end = int(start), int(end)
  if end < start:
    raise ValueError(f'Interval {chrom}:{start}-{end} has end < start.')
  return chrom, start, end, strand


class FastaExtractor:
  """Reads intervals from an indexed FASTA, padding with `N` off the ends.

  The FASTA may be plain or bgzip-compressed; pyfaidx builds a `.fai` index
  beside it when there is none.

  Args:
    fasta_file: path of the genome FASTA.
    upper: upper-case the returned sequence (soft-masked repeats are lower
      case in most genome FASTAs). By default bases are returned as stored.
    use_strand: return the reverse complement of intervals on the `-`
      strand (intervals need a `strand` attribute, as `kipoiseq.Interval`).

  Example:
    with FastaExtractor('hg38.fa') as fasta:
      sequence = fasta.extract(resize_interval(interval, 196_608))
  """

  def __init__(self, fasta_file: str, upper: bool = False,
               use_strand: bool = False):
    fasta_file = os.fspath(fasta_file)
    if os.path.isdir(fasta_file):
      raise IsADirectoryError(f'FASTA file {fasta_file!r} is a directory; '
                              'expected a genome FASTA file.')
    if not os.path.isfile(fasta_file):
      raise FileNotFoundError(f'FASTA file {fasta_file!r} not found.')
    try:
      self._fasta = pyfaidx.Fasta(fasta_file, as_raw=True,
                                  sequence_always_upper=False)
    except Exception as e:  # pyfaidx raises several types for bad files.
      raise ValueError(f'Cannot read FASTA file {fasta_file!r}: '
                       f'{one_line(e)}') from e
    self.fasta_file = fasta_file
    self.upper = bool(upper)
    self.use_strand = bool(use_strand)
    self.chromosome_sizes: Dict[str, int] = {
        name: len(record) for name, record in self._fasta.records.items()}

  def __contains__(self, chrom: str) -> bool:
    return chrom in self.chromosome_sizes

  def check_chromosome(self, chrom: str, context: str = '') -> None:
    """Raises a ValueError naming the FASTA if it has no `chrom`.

    Args:
      chrom: chromosome name.
      context: prefix for the message, e.g. `'regions.bed line 3: '`.
    """
    if chrom not in self.chromosome_sizes:
      raise ValueError(context + missing_chromosome_message(
          chrom, self.chromosome_sizes, f'FASTA {self.fasta_file!r}'))

  def extract(self, interval_or_chrom: Any, start: Optional[int] = None,
              end: Optional[int] = None) -> str:
    """The sequence of `[start, end)`, `N` wherever it is off the chromosome.

    Args:
      interval_or_chrom: a `kipoiseq.Interval` (or anything with `chrom`,
        `start`, `end` and optionally `strand`), or a chromosome name.
      start: 0-based start when a chromosome name is given; may be negative.
      end: exclusive end when a chromosome name is given; may be past the
        chromosome end.

    Returns:
      A string of exactly `end - start` characters.

    Raises:
      ValueError: unknown chromosome (the message names the FASTA),
        `end < start`, or the FASTA holds a character that is no IUPAC
        nucleotide code (digits, spaces, ...) in the interval.
    """
    chrom, start, end, strand = _coordinates(interval_or_chrom, start, end)
    self.check_chromosome(chrom)
    size = self.chromosome_sizes[chrom]
    left, right = max(start, 0), min(end, size)
    if left < right:
      stored = self._fasta[chrom][left:right]
      bad = _NON_NUCLEOTIDE.search(stored)
      if bad:
        raise ValueError(
            f'FASTA {self.fasta_file!r} has {bad.group()!r} at '
            f'{chrom}:{left + bad.start()} (0-based), which is no '
            f'nucleotide code; expected A, C, G, T, N or another IUPAC code '
            f'({encoding.IUPAC_CODES}, either case). Is the file corrupt?')
      sequence = 'N' * (left - start) + stored + 'N' * (end - right)
    else:  # Entirely off the chromosome (or empty).
      sequence = 'N' * (end - start)
    if self.upper:
      sequence = sequence.upper()
    if self.use_strand and strand == '-':
      sequence = encoding.reverse_complement(sequence)
    return sequence

  def close(self) -> None:
    self._fasta.close()

  def __enter__(self) -> 'FastaExtractor':
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()


def resize_interval(interval: Any, width: int, use_strand: bool = True):
  """The interval of `width` bp centred on `interval`.

  Follows `kipoiseq.Interval.resize` exactly (so windows match the Enformer
  usage notebook): the centre is `(start + end) // 2`, rounded up when
  `start + end` is odd, and the odd base of an odd `width` goes left; on the
  `-` strand (with `use_strand`) both roundings go the other way, so resizing
  commutes with reverse complementing. Even widths around even-width
  intervals are exactly centred. Coordinates may become negative or run
  past the chromosome end; `FastaExtractor` pads those with `N`.

  Args:
    interval: a `kipoiseq.Interval`, or a NamedTuple with `chrom`, `start`,
      `end` fields (and optionally `strand`).
    width: the new width in bp, >= 0.
    use_strand: honour a `-` strand as described above.

  Returns:
    The same kind of object: a NamedTuple via `_replace`, otherwise a new
    `kipoiseq.Interval` keeping name, score, strand and attrs.
  """
  try:
    integral = int(width) == width
  except (TypeError, ValueError, OverflowError):  # None, NaN, inf, 'ten'.
    integral = False
  if not integral or width < 0:
    raise ValueError(f'resize_interval width must be a non-negative integer, '
                     f'got {width!r}.')
  width = int(width)
  start, end = int(interval.start), int(interval.end)
  negative = use_strand and getattr(interval, 'strand', '.') == '-'
  if negative:
    new_start = (start + end) // 2 - width // 2
  else:
    new_start = (start + end + 1) // 2 - width // 2 - width % 2
  new_end = new_start + width
  if hasattr(interval, '_replace'):
    return interval._replace(start=new_start, end=new_end)
  import kipoiseq
  return kipoiseq.Interval(
      interval.chrom, new_start, new_end,
      name=getattr(interval, 'name', ''), score=getattr(interval, 'score', 0),
      strand=getattr(interval, 'strand', '.'),
      attrs=dict(getattr(interval, 'attrs', None) or {}))


# -- BED files ------------------------------------------------------------------


class BedRecord(NamedTuple):
  """One region line of a BED file.

  Attributes:
    line: 1-based line number in the file.
    chrom: column 1, non-empty, without whitespace.
    start: column 2, 0-based, `0 <= start < end`.
    end: column 3, exclusive.
    extra: the columns after `end`, stripped (e.g. a name or split).
  """
  line: int
  chrom: str
  start: int
  end: int
  extra: Tuple[str, ...] = ()


def read_bed_records(path: str) -> List[BedRecord]:
  """The region lines of a BED file, validated.

  Blank lines, `#` comments and `track` / `browser` header lines (the
  keyword as the line's first word) are skipped; a contig named like
  `track_1` is a region. Columns are tab-separated, or whitespace-separated
  on a line without a tab. Lines end with LF, CRLF or CR; a UTF-8
  byte-order mark is ignored.

  Raises:
    FileNotFoundError: no such file.
    ValueError: the file is not UTF-8 text; a line has fewer than 3 columns,
      an empty chromosome name or one with whitespace, a start or end that
      is not an integer of ASCII digits, or not `0 <= start < end`; or the
      file has no regions. The message names the file and the line.
  """
  path = os.fspath(path)
  if os.path.isdir(path):
    raise IsADirectoryError(f'BED file {path!r} is a directory.')
  if not os.path.isfile(path):
    raise FileNotFoundError(f'BED file {path!r} not found.')
  with open(path, 'rb') as f:
    data = f.read()
  try:
    text = data.decode('utf-8-sig')
  except UnicodeDecodeError as e:
    offset = e.start + (3 if data.startswith(b'\xef\xbb\xbf') else 0)
    line = data.count(b'\n', 0, offset) + 1
    raise ValueError(f'{path} line {line}: not UTF-8 text (byte '
                     f'0x{data[offset]:02x}); expected a BED file.') from None
  records = []
  # newline=None: the universal newlines of a file opened in text mode.
  for number, line in enumerate(io.StringIO(text, newline=None), start=1):
    line = line.rstrip('\r\n')
    words = line.split(maxsplit=1)
    if not words or words[0].startswith('#') or words[0] in _BED_HEADERS:
      continue
    fields = line.split('\t') if '\t' in line else line.split()
    where = f'{path} line {number}'
    if len(fields) < 3:
      raise ValueError(f'{where}: expected at least 3 columns (chrom, '
                       f'start, end), got {len(fields)}: {shown(line)}.')
    chrom = fields[0].strip()
    if not chrom or any(c.isspace() for c in chrom):
      raise ValueError(f'{where}: the chromosome (column 1) must be a '
                       f'non-empty name without spaces, got {shown(chrom)}.')
    start_text, end_text = fields[1].strip(), fields[2].strip()
    if not (_BED_COORDINATE.fullmatch(start_text) and
            _BED_COORDINATE.fullmatch(end_text)):
      raise ValueError(f'{where}: start and end (columns 2 and 3) must be '
                       f'integers, got {shown(fields[1])} and '
                       f'{shown(fields[2])}.')
    start, end = int(start_text), int(end_text)
    if start < 0 or end <= start:
      raise ValueError(f'{where}: expected 0 <= start < end, got start='
                       f'{start}, end={end}.')
    records.append(BedRecord(number, chrom, start, end,
                             tuple(field.strip() for field in fields[3:])))
  if not records:
    raise ValueError(f'BED file {path!r} has no regions.')
  return records


def shown(text: str, limit: int = 60) -> str:
  """`repr(text)`, cut to about `limit` characters for an error message."""
  text = str(text)
  return repr(text) if len(text) <= limit else repr(text[:limit]) + '...'
