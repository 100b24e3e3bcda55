"""Candidate element-gene pairs from CRISPRi screens, read with a column
mapping.

The screens publish one row per tested element-gene pair: the element's
coordinates, the gene, a significance call and usually the effect size and
the distance (REFERENCE.md section 10); their column names differ, so the
reader takes a `PairColumns` mapping, or the name of a preset:

  encode         the ENCODE / EngreitzLab `EPCrisprBenchmark` layout
                 (chrom, chromStart, chromEnd, name, measuredGeneSymbol,
                 startTSS, Regulated, EffectSize); the synthetic genome's
                 `crispri_pairs.tsv` uses it too.
  fulco2019      Fulco et al. 2019, supplementary table 6a (chr, start, end,
                 name, TargetGene, TargetGeneTSS, Significant, Fraction
                 change in gene expr).
  gasperini2019  Gasperini et al. 2019 at-scale table
                 (target_site.chr, target_site.start, target_site.stop,
                 gRNAgroup, target_gene_short, high_confidence_subset, beta).

The presets follow the column names of the published tables as the lead's
notes give them; check them against your file's header and give a mapping
(a `PairColumns` or a dict of its fields) where they differ.

Coordinates are read as 0-based half-open (BED) unless
`PairColumns.one_based` says the start is 1-based (the end is then the
same, closed). Every row becomes a `Pair` or a `RowProblem` naming its line
and what was wrong: nothing is dropped silently.
"""
import csv
import dataclasses
import gzip
import math
from typing import Dict, List, Mapping, Optional, Tuple, Union

TRUE_WORDS = frozenset({'true', 't', 'yes', 'y', '1', '1.0', 'significant'})
FALSE_WORDS = frozenset({'false', 'f', 'no', 'n', '0', '0.0',
                         'not significant', 'not_significant'})
MISSING_WORDS = frozenset({'', '.', 'na', 'nan', 'none', 'null'})


@dataclasses.dataclass(frozen=True)
class PairColumns:
  """Which columns of a pair table hold what.

  Attributes:
    chrom, start, end: the element's coordinates.
    gene: the target gene's name or id (matched to the annotation's ids,
      without version, then names).
    significant: the label (true/false, yes/no, 1/0).
    tss: the target gene's TSS (optional; used when the annotation lacks
      the gene).
    effect_size, distance, name: optional columns.
    one_based: the start (and TSS) columns are 1-based.
  """
  chrom: str
  start: str
  end: str
  gene: str
  significant: str
  tss: Optional[str] = None
  effect_size: Optional[str] = None
  distance: Optional[str] = None
  name: Optional[str] = None
  one_based: bool = False

  def required(self) -> Tuple[str, ...]:
    return (self.chrom, self.start, self.end, self.gene, self.significant)

  def used(self) -> Tuple[str, ...]:
    return tuple(c for c in (self.chrom, self.start, self.end, self.gene,
                             self.significant, self.tss, self.effect_size,
                             self.distance, self.name) if c)


PRESETS: Dict[str, PairColumns] = {
    'encode': PairColumns(
        chrom='chrom', start='chromStart', end='chromEnd',
        gene='measuredGeneSymbol', significant='Regulated', tss='startTSS',
        effect_size='EffectSize', name='name'),
    'fulco2019': PairColumns(
        chrom='chr', start='start', end='end', gene='TargetGene',
        significant='Significant', tss='TargetGeneTSS',
        effect_size='Fraction change in gene expr', name='name'),
    'gasperini2019': PairColumns(
        chrom='target_site.chr', start='target_site.start',
        end='target_site.stop', gene='target_gene_short',
        significant='high_confidence_subset', effect_size='beta',
        name='gRNAgroup'),
}


@dataclasses.dataclass(frozen=True)
class Pair:
  """One candidate element-gene pair.

  Attributes:
    row: the line number in the file (the header is line 1).
    chrom, start, end: the element, 0-based half-open.
    gene: the target gene as the table names it.
    significant: the label.
    tss: the table's TSS of the gene (0-based), if given.
    effect_size, distance: as given (`None` if absent).
    name: the element's name (default `chrom:start-end`).
    fields: the whole row, column -> text (extra columns are kept here).
  """
  row: int
  chrom: str
  start: int
  end: int
  gene: str
  significant: bool
  tss: Optional[int] = None
  effect_size: Optional[float] = None
  distance: Optional[float] = None
  name: str = ''
  fields: Tuple[Tuple[str, str], ...] = ()

  @property
  def center(self) -> int:
    return self.start + (self.end - self.start) // 2

  @property
  def label(self) -> str:
    return self.name or f'{self.chrom}:{self.start}-{self.end}'


@dataclasses.dataclass(frozen=True)
class RowProblem:
  """A row that was not used: its line number, why, and its text."""
  row: int
  reason: str
  text: str = ''


@dataclasses.dataclass
class PairTable:
  """The pairs of a table, the rows that failed, and the header."""
  pairs: List[Pair]
  problems: List[RowProblem]
  header: List[str]
  columns: PairColumns


def as_columns(columns: Union[str, PairColumns, Mapping[str, object]]
               ) -> PairColumns:
  """A `PairColumns` from a preset name, a dict of its fields or itself."""
  if isinstance(columns, PairColumns):
    return columns
  if isinstance(columns, str):
    if columns not in PRESETS:
      raise ValueError(f'Unknown pair table layout {columns!r}; expected '
                       f'one of {sorted(PRESETS)} or a column mapping.')
    return PRESETS[columns]
  fields = {f.name for f in dataclasses.fields(PairColumns)}
  unknown = sorted(set(columns) - fields)
  if unknown:
    raise ValueError(f'Unknown column mapping keys {unknown}; expected '
                     f'{sorted(fields)}.')
  try:
    return PairColumns(**columns)
  except TypeError as e:
    raise ValueError(f'The column mapping needs chrom, start, end, gene and '
                     f'significant ({e}).') from None


def parse_mapping(text: str) -> Dict[str, str]:
  """`'chrom=chr,start=start,...'` -> a dict for `as_columns`."""
  mapping = {}
  for part in text.split(','):
    if not part.strip():
      continue
    key, sep, value = part.partition('=')
    if not sep or not key.strip() or not value.strip():
      raise ValueError(f'Column mapping item {part!r} is not FIELD=COLUMN.')
    mapping[key.strip()] = value.strip()
  if 'one_based' in mapping:
    mapping['one_based'] = parse_label(mapping['one_based'])
  return mapping


def parse_label(text: str) -> bool:
  """A significance call as a bool; raises `ValueError` if unrecognised."""
  word = str(text).strip().lower()
  if word in TRUE_WORDS:
    return True
  if word in FALSE_WORDS:
    return False
  raise ValueError(f'significance {text!r} is not one of true/false, '
                   'yes/no, 1/0')


def _integer(text: str, what: str) -> int:
  try:
    value = float(text.replace(',', ''))
  except ValueError:
    raise ValueError(f'{what} {text!r} is not a number') from None
  if not math.isfinite(value) or value != int(value):
    raise ValueError(f'{what} {text!r} is not an integer')
  return int(value)


def _optional_float(text: Optional[str], what: str) -> Optional[float]:
  if text is None or text.strip().lower() in MISSING_WORDS:
    return None
  try:
    return float(text)
  except ValueError:
    raise ValueError(f'{what} {text!r} is not a number') from None


def _open(path: str):
  with open(path, 'rb') as f:
    gzipped = f.read(2) == b'\x1f\x8b'
  if gzipped:
    return gzip.open(path, 'rt', encoding='utf-8', newline='')
  return open(path, encoding='utf-8', newline='')


def _separator(path: str, first_line: str) -> str:
  name = path[:-3] if path.endswith('.gz') else path
  if name.endswith('.csv'):
    return ','
  return '\t' if '\t' in first_line or ',' not in first_line else ','


def parse_pair(row: int, fields: Mapping[str, str],
               columns: PairColumns) -> Pair:
  """One row as a `Pair`; raises `ValueError` naming what is wrong."""
  def value(column):
    return (fields.get(column) or '').strip()

  for column in columns.required():
    if value(column).lower() in MISSING_WORDS:
      raise ValueError(f'column {column!r} is empty')
  shift = 1 if columns.one_based else 0
  start = _integer(value(columns.start), f'start ({columns.start})') - shift
  end = _integer(value(columns.end), f'end ({columns.end})')
  if start < 0 or end <= start:
    raise ValueError(f'element {start}-{end} needs 0 <= start < end')
  tss = None
  if columns.tss and value(columns.tss).lower() not in MISSING_WORDS:
    tss = _integer(value(columns.tss), f'TSS ({columns.tss})') - shift
    if tss < 0:
      raise ValueError(f'TSS {tss} is negative')
  return Pair(
      row=row, chrom=value(columns.chrom), start=start, end=end,
      gene=value(columns.gene),
      significant=parse_label(value(columns.significant)), tss=tss,
      effect_size=_optional_float(
          fields.get(columns.effect_size) if columns.effect_size else None,
          'effect size'),
      distance=_optional_float(
          fields.get(columns.distance) if columns.distance else None,
          'distance'),
      name=value(columns.name) if columns.name else '',
      fields=tuple(fields.items()))


def read_pairs(path: str,
               columns: Union[str, PairColumns, Mapping[str, object]] = (
                   'encode')) -> PairTable:
  """Reads a pair table (TSV or CSV, plain or gzipped).

  Comment lines (`#`) before the header are skipped; a `#` line that
  names every mapped column is the header (BED style `#chrom ...`).
  Each data row is a `Pair` or a `RowProblem` (wrong number of fields, an
  empty required column, a coordinate that is not an integer, start >=
  end, an unknown label). Later `#` lines are comments.

  Args:
    path: the table.
    columns: a preset name (`PRESETS`), a `PairColumns` or a dict of its
      fields.

  Raises:
    ValueError: the table has no header or lacks a mapped column.
  """
  columns = as_columns(columns)
  with _open(path) as f:
    lines = f.read().splitlines()
  first, header = 0, None
  while first < len(lines):
    line = lines[first]
    if line.strip() and not line.startswith('#'):
      break
    if line.startswith('#') and not line.startswith('##'):
      # '#chrom<TAB>...': a header if it names the mapped columns.
      sep = _separator(path, line[1:])
      names = next(csv.reader([line[1:]], delimiter=sep))
      if all(c in names for c in columns.used()):
        header = names
        break
    first += 1
  if first == len(lines):
    raise ValueError(f'{path} has no header line.')
  if header is None:
    sep = _separator(path, lines[first])
    header = next(csv.reader([lines[first]], delimiter=sep))
  missing = [c for c in columns.used() if c not in header]
  if missing:
    fields = sorted(f.name for f in dataclasses.fields(PairColumns))
    raise ValueError(f'{path} lacks the columns {missing}; its header has '
                     f'{header[:12]}. Give a column mapping (PairColumns '
                     f'fields {fields}).')
  pairs, problems = [], []
  for index in range(first + 1, len(lines)):
    row, text = index + 1, lines[index]
    if not text.strip() or text.startswith('#'):
      continue
    values = next(csv.reader([text], delimiter=sep))
    if len(values) != len(header):
      problems.append(RowProblem(row, f'{len(values)} fields, expected '
                                 f'{len(header)}', text))
      continue
    try:
      pairs.append(parse_pair(row, dict(zip(header, values)), columns))
    except ValueError as e:
      problems.append(RowProblem(row, str(e), text))
  return PairTable(pairs, problems, header, columns)
