"""What the genomics CLIs share: one-line argument errors, `--tracks`."""
import argparse
from typing import List, Optional, Sequence


def one_line(error: BaseException) -> str:
  """An exception's message on one line (its type if it has none)."""
  return ' '.join(str(error).split()) or type(error).__name__


class OneLineErrorParser(argparse.ArgumentParser):
  """An argument parser whose errors are one line, not usage + error."""

  def error(self, message):
    self.exit(2, f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def parse_tracks(text: Optional[str], num_tracks: int,
                 identifiers: Optional[Sequence[str]] = None
                 ) -> Optional[List[int]]:
  """`'0,2,4-6,dnase'` -> track indices, in the order given.

  Args:
    text: the `--tracks` value; `None` means all tracks (returns `None`).
    num_tracks: tracks of the head.
    identifiers: the head's track identifiers (targets.txt), if known.

  Raises:
    ValueError: an item is no index, range or known identifier, or an
      index is out of range.
  """
  if text is None:
    return None
  by_name = {name: i for i, name in enumerate(identifiers or ())}
  indices = []
  for item in (part.strip() for part in text.split(',')):
    if not item:
      raise ValueError(f'--tracks {text!r} has an empty item.')
    if item in by_name:
      indices.append(by_name[item])
      continue
    first, dash, last = item.partition('-')
    if first.isdigit() and (not dash or last.isdigit()):
      low, high = int(first), int(last) if dash else int(first)
      if low > high:
        raise ValueError(f'--tracks: range {item!r} is decreasing.')
      if high >= num_tracks:
        raise ValueError(f'--tracks: track {high} is out of range; the head '
                         f'has {num_tracks} tracks (0-{num_tracks - 1}).')
      indices.extend(range(low, high + 1))
    elif identifiers is None:
      raise ValueError(f'--tracks: {item!r} is not a track index or range; '
                       'give --targets to choose tracks by identifier.')
    else:
      shown = ', '.join(repr(n) for n in list(by_name)[:5])
      more = f', ... ({len(by_name)} in all)' if len(by_name) > 5 else ''
      raise ValueError(f'--tracks: no track {item!r} in the targets file '
                       f'(it has {shown}{more}).')
  return indices
