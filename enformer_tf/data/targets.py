"""Track metadata `targets.txt`: read, validate, write.

The Basenji / Enformer format (calico/basenji `manuscripts/cross2020/
targets_human.txt`, calico/baskerville `tests/data/tiny/hg38/targets.txt`):
tab-separated with a header; the first column is the track index, named
`index` or left unnamed; then `identifier, file, clip, scale, sum_stat,
description` and, in newer calico files, `clip_soft` and `strand_pair`.
Files written by pandas may omit the index name from the header altogether
(one header field fewer than each row); all three forms are read, and other
columns (e.g. `genome`) are kept. Relative `file` paths resolve against the
directory of the targets.txt.
"""
import dataclasses
import io
import math
import os
from typing import Dict, Iterable, List, Optional, Sequence

# What `enformer-make-data` needs in every row.
REQUIRED_COLUMNS = ('identifier', 'file', 'clip', 'scale', 'sum_stat',
                    'description')
OPTIONAL_COLUMNS = ('clip_soft', 'strand_pair')
_DEFAULTS = {'file': '', 'clip': '', 'scale': '1', 'sum_stat': 'sum',
             'description': '', 'clip_soft': '', 'strand_pair': ''}
_NONE_STRINGS = ('', 'none', 'nan', 'na')


@dataclasses.dataclass(frozen=True)
class Target:
  """One row of targets.txt: a track and how to bin it.

  Attributes:
    index: the track's index (its position in the target tensor when the
      file is numbered 0..n-1).
    identifier: unique track name, e.g. `ENCFF833POA`.
    file: coverage file as written in targets.txt (bigWig for make_data).
    clip: hard clip applied after binning (`None` = none).
    scale: per-base multiplier applied before binning.
    sum_stat: bin statistic (`sum`, `mean`, ...).
    description: free text, e.g. `DNASE:cerebellum`.
    clip_soft: soft clip threshold (`None` = none).
    strand_pair: index of the opposite-strand track (own index if
      unstranded; `None` when the file has no such column).
    path: `file` resolved against the targets.txt directory.
    extra: other columns, by name (e.g. `genome`).
  """
  index: int
  identifier: str
  file: str
  clip: Optional[float] = None
  scale: float = 1.0
  sum_stat: str = 'sum'
  description: str = ''
  clip_soft: Optional[float] = None
  strand_pair: Optional[int] = None
  path: str = ''
  extra: Dict[str, str] = dataclasses.field(default_factory=dict)


class _Row:
  """Field access that reports file, line and column on bad values."""

  def __init__(self, path, line_number, values):
    self.path, self.line_number, self.values = path, line_number, values

  def error(self, column, message):
    return ValueError(f'{self.path} line {self.line_number}, column '
                      f'{column!r}: {message}')

  def text(self, column):
    return self.values.get(column, _DEFAULTS.get(column, '')).strip()

  def number(self, column, optional, positive):
    text = self.text(column)
    if optional and text.lower() in _NONE_STRINGS:
      return None
    try:
      value = float(text)
    except ValueError:
      raise self.error(column, f'expected a number, got {text!r}.') from None
    if not math.isfinite(value) or (positive and value <= 0):
      kind = 'a positive' if positive else 'a finite'
      raise self.error(column, f'expected {kind} number, got {text!r}.')
    return value

  def integer(self, column, optional):
    text = self.text(column)
    if optional and text.lower() in _NONE_STRINGS:
      return None
    try:
      return int(text)
    except ValueError:
      raise self.error(column, f'expected an integer, got {text!r}.') from None


def read_targets(path: str,
                 required_columns: Sequence[str] = REQUIRED_COLUMNS,
                 sum_stats: Optional[Iterable[str]] = None) -> List[Target]:
  """Reads and validates a targets.txt.

  Args:
    path: the targets.txt.
    required_columns: columns every file must have; the defaults are what
      `enformer-make-data` needs. Pass `('identifier',)` to read track names
      only. Missing optional columns take defaults (no clip, scale 1,
      `sum_stat` 'sum', empty description).
    sum_stats: if given, the allowed `sum_stat` values.

  Returns:
    The targets in file order.

  Raises:
    FileNotFoundError: no such file.
    ValueError: a malformed file; the message names the file, the line and
      the column.
  """
  path = os.fspath(path)
  if os.path.isdir(path):
    raise IsADirectoryError(f'targets file {path!r} is a directory.')
  if not os.path.isfile(path):
    raise FileNotFoundError(f'targets file {path!r} not found.')
  with open(path, 'rb') as f:
    data = f.read()
  try:
    text = data.decode('utf-8-sig')  # A spreadsheet may add a BOM.
  except UnicodeDecodeError as e:
    offset = e.start + (3 if data.startswith(b'\xef\xbb\xbf') else 0)
    line = data.count(b'\n', 0, offset) + 1
    raise ValueError(f'{path} line {line}: not UTF-8 text (byte '
                     f'0x{data[offset]:02x}); expected a tab-separated '
                     'targets.txt.') from None
  # newline=None: the universal newlines of a file opened in text mode.
  lines = [(number, line.rstrip('\r\n')) for number, line in enumerate(
      io.StringIO(text, newline=None), start=1)]
  lines = [(number, line) for number, line in lines if line.strip()]
  if not lines:
    raise ValueError(f'{path} is empty; expected a tab-separated header with '
                     f'columns {", ".join(REQUIRED_COLUMNS)}.')
  header_line, header = lines[0][0], lines[0][1].split('\t')
  first_row = lines[1][1].split('\t') if len(lines) > 1 else []
  if header[0].strip() in ('', 'index'):
    columns = ['index'] + header[1:]
  elif len(first_row) == len(header) + 1:  # pandas: unnamed index column.
    columns = ['index'] + header
  else:
    columns = header
  columns = [column.strip() for column in columns]
  duplicated = sorted({c for c in columns if columns.count(c) > 1})
  if duplicated:
    raise ValueError(f'{path} line {header_line}: duplicated columns '
                     f'{duplicated}.')
  missing = [c for c in required_columns if c not in columns]
  if missing:
    raise ValueError(
        f'{path} line {header_line}: missing columns {missing}; expected a '
        f'tab-separated header with {", ".join(REQUIRED_COLUMNS)} (and '
        f'optionally {", ".join(OPTIONAL_COLUMNS)}), got {columns}.')

  directory = os.path.dirname(path)
  targets = []
  sum_stats = None if sum_stats is None else tuple(sum_stats)
  known = {'index', *REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}
  for position, (number, line) in enumerate(lines[1:]):
    fields = line.split('\t')
    if len(fields) != len(columns):
      raise ValueError(f'{path} line {number}: expected {len(columns)} '
                       f'tab-separated columns ({", ".join(columns)}), got '
                       f'{len(fields)}.')
    row = _Row(path, number, dict(zip(columns, fields)))
    index = row.integer('index', optional=False) if 'index' in columns else (
        position)
    identifier = row.text('identifier')
    if not identifier:
      raise row.error('identifier', 'is empty.')
    file = row.text('file')
    if 'file' in required_columns and not file:
      raise row.error('file', 'is empty.')
    sum_stat = row.text('sum_stat')
    if sum_stats is not None and sum_stat not in sum_stats:
      raise row.error('sum_stat', f'expected one of {list(sum_stats)}, got '
                      f'{sum_stat!r}.')
    targets.append(Target(
        index=index, identifier=identifier, file=file,
        clip=row.number('clip', optional=True, positive=True),
        scale=row.number('scale', optional=False, positive=False),
        sum_stat=sum_stat, description=row.text('description'),
        clip_soft=row.number('clip_soft', optional=True, positive=True),
        strand_pair=row.integer('strand_pair', optional=True),
        path=os.path.join(directory, file) if file else '',
        extra={c: v for c, v in zip(columns, fields) if c not in known}))
  if not targets:
    raise ValueError(f'{path} has a header but no targets.')
  validate_targets(targets, source=path)
  return targets


def validate_targets(targets: Sequence[Target], source: str = 'targets'):
  """Checks indices and identifiers are unique and strand pairs are mutual.

  Args:
    targets: the targets.
    source: named in error messages (the targets.txt path).

  Raises:
    ValueError: a duplicated index or identifier, or a `strand_pair` that
      names no target or whose partner does not point back.
  """
  by_index = {}
  identifiers = set()
  for target in targets:
    if target.index in by_index:
      raise ValueError(f'{source}: index {target.index} is used twice '
                       f'({by_index[target.index].identifier!r} and '
                       f'{target.identifier!r}).')
    if target.identifier in identifiers:
      raise ValueError(f'{source}: identifier {target.identifier!r} is used '
                       'twice; identifiers must be unique.')
    by_index[target.index] = target
    identifiers.add(target.identifier)
  for target in targets:
    if target.strand_pair is None:
      continue
    pair = by_index.get(target.strand_pair)
    if pair is None:
      raise ValueError(f'{source}: target {target.identifier!r} has '
                       f'strand_pair {target.strand_pair}, which is no '
                       'target index.')
    if pair.strand_pair != target.index:
      raise ValueError(f'{source}: strand pairs must be mutual, but '
                       f'{target.identifier!r} (index {target.index}) pairs '
                       f'with index {pair.index} ({pair.identifier!r}), whose '
                       f'strand_pair is {pair.strand_pair}.')


def renumber_targets(targets: Sequence[Target]) -> List[Target]:
  """Targets numbered 0..n-1 in order, `strand_pair` following its partner."""
  new_index = {target.index: i for i, target in enumerate(targets)}
  return [dataclasses.replace(
      target, index=i,
      strand_pair=(None if target.strand_pair is None
                   else new_index[target.strand_pair]))
          for i, target in enumerate(targets)]


def write_targets(path: str, targets: Sequence[Target]) -> None:
  """Writes targets.txt: `index, identifier, file, clip, [clip_soft,] scale,
  sum_stat, [strand_pair,] description`, then any extra columns.

  `file` is written as given; optional columns appear when any target has a
  value. Readable by `read_targets` and by
  `pandas.read_csv(path, sep='\\t', index_col=0)`.
  """
  validate_targets(targets, source=os.fspath(path))
  columns = ['identifier', 'file', 'clip']
  if any(t.clip_soft is not None for t in targets):
    columns.append('clip_soft')
  columns += ['scale', 'sum_stat']
  if any(t.strand_pair is not None for t in targets):
    columns.append('strand_pair')
  columns.append('description')
  extra = []
  for target in targets:
    extra += [c for c in target.extra if c not in extra]
  for target in targets:
    for column, value in [('identifier', target.identifier),
                          ('file', target.file),
                          ('sum_stat', target.sum_stat),
                          ('description', target.description),
                          *target.extra.items()]:
      if '\t' in value or '\n' in value:
        raise ValueError(f'Cannot write {path}: target '
                         f'{target.identifier!r} has a tab or newline in '
                         f'{column!r}.')
  with open(path, 'w', encoding='utf-8') as f:
    f.write('\t'.join(['index'] + columns + extra) + '\n')
    for target in targets:
      values = {'identifier': target.identifier, 'file': target.file,
                'clip': _format(target.clip),
                'clip_soft': _format(target.clip_soft),
                'scale': _format(target.scale), 'sum_stat': target.sum_stat,
                'strand_pair': _format(target.strand_pair),
                'description': target.description}
      fields = ([str(target.index)] + [values[c] for c in columns] +
                [target.extra.get(c, '') for c in extra])
      f.write('\t'.join(fields) + '\n')


def write_scaled_targets(path: str, scale: float) -> str:
  """Writes `<name>_scaled.txt` beside targets.txt `path`, with every track's
  `scale` set to `scale`; returns its path.

  Written in the same folder, so relative `file` paths still resolve. Used
  to bring synthetic tracks (peaks of hundreds per bin) to a few units,
  where a Poisson loss is better conditioned.
  """
  path = os.fspath(path)
  scaled = [dataclasses.replace(target, scale=float(scale))
            for target in read_targets(path, required_columns=('identifier',
                                                                'file'))]
  stem, _ = os.path.splitext(path)
  out = stem + '_scaled.txt'
  write_targets(out, scaled)
  return out


def _format(value) -> str:
  if value is None:
    return ''
  if isinstance(value, float) and value.is_integer():
    return str(int(value))
  return repr(value)
