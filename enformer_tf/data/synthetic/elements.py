"""The ground truth: `Element`, one planted motif, and `elements.bed`, the
file that lists them (`write_elements`, `read_elements`).
"""
import dataclasses
from typing import List, Optional, Sequence, Tuple

ELEMENT_COLUMNS = ('chrom', 'start', 'end', 'name', 'score', 'strand', 'kind',
                   'variant', 'strength', 'partner', 'distance', 'motif',
                   'local_tracks', 'target_tracks')


@dataclasses.dataclass(frozen=True)
class Element:
  """One planted motif; see the package docstring for the fields."""
  chrom: str
  start: int
  end: int
  name: str
  kind: str
  strand: str
  variant: str
  strength: float
  partner: Optional[str]
  distance: Optional[int]
  motif: str
  local_tracks: Tuple[str, ...]
  target_tracks: Tuple[str, ...]

  @property
  def center(self) -> int:
    return self.start + (self.end - self.start) // 2


def read_elements(path: str) -> List[Element]:
  """Reads an `elements.bed` written by `make_synthetic_genome`."""
  def _opt(value, cast):
    return None if value == '.' else cast(value)

  def _tracks(value):
    return () if value == '.' else tuple(value.split(','))

  elements = []
  with open(path, encoding='ascii') as f:
    for line in f:
      if line.startswith('#') or not line.strip():
        continue
      row = dict(zip(ELEMENT_COLUMNS, line.rstrip('\n').split('\t')))
      elements.append(Element(
          chrom=row['chrom'], start=int(row['start']), end=int(row['end']),
          name=row['name'], kind=row['kind'], strand=row['strand'],
          variant=row['variant'], strength=float(row['strength']),
          partner=_opt(row['partner'], str),
          distance=_opt(row['distance'], int), motif=row['motif'],
          local_tracks=_tracks(row['local_tracks']),
          target_tracks=_tracks(row['target_tracks'])))
  return elements


def write_elements(path: str, elements: Sequence[Element]) -> None:
  """Writes `elements.bed` (the columns `ELEMENT_COLUMNS`; `read_elements`
  reads it back)."""
  def _field(value):
    if value is None or value == ():
      return '.'
    if isinstance(value, tuple):
      return ','.join(value)
    if isinstance(value, float):
      return f'{value:g}'
    return str(value)

  with open(path, 'w', encoding='ascii') as f:
    f.write('#' + '\t'.join(ELEMENT_COLUMNS) + '\n')
    for e in elements:
      row = (e.chrom, e.start, e.end, e.name, int(round(1000 * e.strength))
             if e.kind == 'promoter' else 0, e.strand, e.kind, e.variant,
             e.strength, e.partner, e.distance, e.motif, e.local_tracks,
             e.target_tracks)
      f.write('\t'.join(_field(v) for v in row) + '\n')
