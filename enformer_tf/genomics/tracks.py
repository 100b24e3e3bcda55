"""A head's tracks as the genomics workflows choose them: the head, its
targets.txt, `--tracks` and the strand pairs for reverse complementing.

Shared by the `*_files` workflows: `choose_tracks` is the one way they turn
a head, its targets.txt and `--tracks` into track indices, names and strand
pairs.
"""
import dataclasses
import os
from typing import Any, List, Optional, Sequence, Tuple

from enformer_tf import io as models
from enformer_tf.data import targets as targets_lib


def read_head_targets(path: str) -> List[targets_lib.Target]:
  """A head's targets.txt (an `identifier` column required), renumbered
  0..n-1 in file order."""
  return targets_lib.renumber_targets(targets_lib.read_targets(
      path, required_columns=('identifier',)))


def head_num_tracks(model, head: str) -> int:
  """The tracks of `head`; raises `ValueError` if the model has no such
  head."""
  heads = getattr(model, 'heads', {})
  if head not in heads:
    raise ValueError(f'Unknown head {head!r}; the model has heads '
                     f'{sorted(heads)}.')
  return heads[head]


def check_targets_match(path: str, num_targets: int, head: str,
                        num_tracks: int) -> None:
  """Raises `ValueError` unless the targets file at `path` lists as many
  tracks as `head` has."""
  if num_targets != num_tracks:
    raise ValueError(f'{path} lists {num_targets} tracks but head {head!r} '
                     f'has {num_tracks}; is it the targets file of this '
                     'head?')


def strand_pairs(targets: Sequence[targets_lib.Target]
                 ) -> Optional[List[int]]:
  """Each track's opposite-strand track (its own if unstranded), or `None`
  if no track has a `strand_pair`."""
  if not any(t.strand_pair is not None for t in targets):
    return None
  return [t.index if t.strand_pair is None else t.strand_pair
          for t in targets]


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


@dataclasses.dataclass(frozen=True)
class HeadTracks:
  """A head's tracks as a workflow chose them.

  Attributes:
    num_tracks: tracks of the head.
    targets: the head's targets.txt rows (`None` without one).
    indices: the chosen track indices in order (`None`: all).
  """
  num_tracks: int
  targets: Optional[List[targets_lib.Target]]
  indices: Optional[List[int]]

  @property
  def identifiers(self) -> Optional[List[str]]:
    """Every track's identifier (targets.txt), or `None`."""
    if self.targets is None:
      return None
    return [t.identifier for t in self.targets]

  def strand_pairs(self) -> Optional[List[int]]:
    """As `strand_pairs` of the targets (`None` without targets)."""
    return None if self.targets is None else strand_pairs(self.targets)


def choose_tracks(num_tracks: int, head: str, tracks: Optional[str] = None,
                  targets_path: Optional[str] = None,
                  targets: Optional[Sequence[targets_lib.Target]] = None
                  ) -> HeadTracks:
  """The tracks `--tracks` names, checked against the head's targets.txt.

  Args:
    num_tracks: tracks of the head (`head_num_tracks`).
    head: the head, for messages.
    tracks: the `--tracks` text (`parse_tracks`); `None` means all.
    targets_path: the head's targets.txt, read here unless `targets` (its
      rows, read earlier) is given.
    targets: the rows of `targets_path`, if already read.

  Raises:
    ValueError: targets.txt lists another number of tracks than the head
      has, or `--tracks` names no such track.
  """
  if targets is None and targets_path:
    targets = read_head_targets(targets_path)
  if targets is not None:
    check_targets_match(targets_path, len(targets), head, num_tracks)
    targets = list(targets)
  chosen = HeadTracks(num_tracks, targets, None)
  return dataclasses.replace(chosen, indices=parse_tracks(
      tracks, num_tracks, chosen.identifiers))


def model_and_tracks(model: Any, head: str, targets: Optional[str] = None,
                     tracks: Optional[str] = None) -> Tuple[Any, HeadTracks]:
  """`(model, choose_tracks(...))`: the model loaded if given as a path
  (`enformer_tf.load_model`), and the head's tracks chosen from
  `targets.txt` and `--tracks`. Targets are read first, so a bad targets
  file fails before a model loads."""
  chosen_targets = read_head_targets(targets) if targets else None
  if isinstance(model, (str, os.PathLike)):
    model = models.load_model(model)
  return model, choose_tracks(head_num_tracks(model, head), head, tracks,
                              targets, chosen_targets)
