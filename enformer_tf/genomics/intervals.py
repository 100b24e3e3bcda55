"""Predictions for genome intervals, with the coordinates of every bin.

A region (`'chr1:1,000,000-1,010,000'`, a BED line, a `kipoiseq.Interval`)
becomes model input the way Enformer's usage notebook does it: the window of
the model's `sequence_length` centred on the region (`resize_interval`,
kipoiseq's rounding), read from the FASTA with `N` (all-zero one-hot rows)
wherever it runs off the chromosome. The model predicts `num_bins` bins of
128 bp over the centre of the window, so

    bin i covers [window.start + crop_bp + 128 * i, + 128)

with `crop_bp = ((sequence_length / 128 - num_bins) // 2) * 128`, the bins
`TargetLengthCrop1D` trims on the left. A region wider than one output span
(`num_bins * 128` bp; 114,688 bp for the published model) is covered by
several windows whose output spans abut, centred together on the region, and
comes back as one run of contiguous bins.

Coordinates are 0-based and half-open everywhere (BED, kipoiseq):
`chr1:100-200` is the 100 bases `[100, 200)`. Bins near a chromosome end may
lie partly or wholly off it (start < 0 or end > the chromosome size); they
are returned as predicted, and `IntervalPrediction.on_chromosome` /
`clipped` give the part a genome browser file can hold (what
`track_writers` writes).
"""
import dataclasses
import math
import re
from typing import (Any, Callable, Dict, Iterable, List, NamedTuple,
                    Optional, Sequence, Tuple, Union)

import numpy as np

from enformer_tf.constants import BIN_SIZE
from enformer_tf.data import encoding
from enformer_tf.data import genome


_REGION_PATTERN = re.compile(
    r'^(?P<chrom>[^\s:]+):(?P<start>[0-9][0-9,_]*)-(?P<end>[0-9][0-9,_]*)$')
_MAX_DIGITS = 18  # Coordinates fit an int64 (window starts are int64).


class Region(NamedTuple):
  """A genome interval `[start, end)` on `chrom`, 0-based; `name` optional.

  Works with `genome.resize_interval` and `FastaExtractor.extract`.
  """
  chrom: str
  start: int
  end: int
  name: str = ''

  def __str__(self) -> str:
    return f'{self.chrom}:{self.start}-{self.end}'

  @property
  def label(self) -> str:
    """`name` if set, else `chrom:start-end`."""
    return self.name or str(self)


RegionLike = Union[str, Region, Any]  # Any: has chrom, start, end.


def parse_region(text: str) -> Region:
  """`'chr1:1,000-2,000'` -> `Region('chr1', 1000, 2000)`.

  0-based, half-open coordinates as in BED (not the 1-based positions a
  genome browser shows); commas and underscores in numbers are ignored.
  The chromosome name may hold neither whitespace nor `:`.

  Raises:
    ValueError: `text` is not `CHROM:START-END` with `0 <= START < END`
      (each at most 18 digits, so that it fits an int64).
  """
  match = _REGION_PATTERN.match(str(text).strip())
  if not match:
    raise ValueError(
        f'Region {genome.shown(text)} is not CHROM:START-END (e.g. '
        'chr1:10000-20000, 0-based half-open coordinates).')
  digits = [re.sub('[,_]', '', match[key]) for key in ('start', 'end')]
  if max(len(d) for d in digits) > _MAX_DIGITS:
    raise ValueError(f'Region {genome.shown(text)} has a coordinate of more '
                     f'than {_MAX_DIGITS} digits.')
  start, end = (int(d) for d in digits)
  if end <= start:
    raise ValueError(f'Region {genome.shown(text)} has end <= start; '
                     'expected CHROM:START-END with START < END.')
  return Region(match['chrom'], start, end)


def as_region(region: RegionLike) -> Region:
  """A `Region` from a string, a `Region` or an interval-like object.

  Interval-like: has `chrom`, `start`, `end` (e.g. `kipoiseq.Interval`;
  its `name` is kept, its strand ignored: predictions are per genome
  position).

  Raises:
    TypeError: `region` is none of these.
    ValueError: a malformed string, or an interval whose chromosome is
      empty or holds whitespace, or whose start and end are not integers
      with `0 <= start < end < 10**18`.
  """
  if isinstance(region, Region):
    return region
  if isinstance(region, str):
    return parse_region(region)
  try:
    chrom, start, end = region.chrom, region.start, region.end
  except AttributeError:
    raise TypeError(f'Expected a region string CHROM:START-END or an '
                    f'interval with chrom, start and end; got '
                    f'{type(region).__name__}.') from None
  chrom = str(chrom)
  if not chrom or any(c.isspace() for c in chrom):
    raise ValueError(f'Interval chromosome must be a non-empty name without '
                     f'spaces, got {genome.shown(chrom)}.')
  start_int, end_int = _integer(start), _integer(end)
  if (start_int is None or end_int is None or
      not 0 <= start_int < end_int < 10**_MAX_DIGITS):
    raise ValueError(f'Interval {chrom}:{start!r}-{end!r}: expected integers '
                     f'with 0 <= start < end < 10**{_MAX_DIGITS}.')
  return Region(chrom, start_int, end_int,
                str(getattr(region, 'name', '') or ''))


def _integer(value) -> Optional[int]:
  """`value` as an int if it is an integral number (not a bool), else None."""
  if isinstance(value, (bool, np.bool_, str, bytes)):
    return None
  try:
    number = int(value)
  except (TypeError, ValueError, OverflowError):  # None, NaN, infinity.
    return None
  return number if number == value else None


def read_regions(path: str) -> List[Region]:
  """The regions of a BED file; column 4, if present, names the region.

  Blank lines, `#` comments and `track` / `browser` header lines are
  skipped; columns are tab-separated (whitespace if a line has no tab); see
  `genome.read_bed_records` for the rules.

  Raises:
    FileNotFoundError: no such file.
    ValueError: a malformed line (the message names file and line), a file
      that is not UTF-8 text, or no regions.
  """
  return [Region(record.chrom, record.start, record.end,
                 record.extra[0] if record.extra else '')
          for record in genome.read_bed_records(path)]


def check_regions(regions: Sequence[Region],
                  fasta: genome.FastaExtractor) -> None:
  """Raises a ValueError unless each region lies on a FASTA chromosome.

  Windows may run off the chromosome (they are padded with `N`); the
  regions themselves must be inside `[0, chromosome size)`.
  """
  for region in regions:
    context = f'region {region.label}: ' if region.name else ''
    fasta.check_chromosome(region.chrom, context=context)
    size = fasta.chromosome_sizes[region.chrom]
    if region.end > size:
      raise ValueError(
          f'{context}{region} runs past the end of {region.chrom} '
          f'({size:,} bp in {fasta.fasta_file!r}).')


# -- Geometry -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OutputLayout:
  """Where a model's output bins fall in its input window.

  Attributes:
    sequence_length: input window, bp.
    num_bins: output bins per window.
    crop_bp: bp between the window start and the first bin's start.
  """
  sequence_length: int
  num_bins: int
  crop_bp: int

  @property
  def span(self) -> int:
    """bp covered by one window's output bins."""
    return self.num_bins * BIN_SIZE

  @property
  def symmetric(self) -> bool:
    """Whether as many bp are cropped on the right as on the left."""
    return 2 * self.crop_bp + self.span == self.sequence_length


def output_layout(model, sequence_length: Optional[int] = None
                  ) -> OutputLayout:
  """The `OutputLayout` of an Enformer (`sequence_length`, `target_length`).

  Args:
    model: an `Enformer`, or anything with `sequence_length` and
      `target_length` attributes.
    sequence_length: input length to use; needed when the model's is `None`,
      otherwise it must equal the model's.

  Raises:
    ValueError: no usable input length, or one the model cannot take.
  """
  model_length = getattr(model, 'sequence_length', None)
  length = sequence_length if sequence_length is not None else model_length
  if length is None:
    raise ValueError('The model has no sequence_length; give the input '
                     'length (sequence_length=..., --sequence_length).')
  if model_length is not None and length != model_length:
    raise ValueError(f'sequence_length={length} differs from the model\'s '
                     f'sequence_length={model_length}.')
  target_length = getattr(model, 'target_length', None)
  if int(length) != length or length <= 0 or length % BIN_SIZE:
    raise ValueError(f'sequence_length must be a positive multiple of '
                     f'{BIN_SIZE}, got {length!r}.')
  length = int(length)
  trunk_bins = length // BIN_SIZE
  num_bins = trunk_bins if target_length is None else int(target_length)
  if num_bins > trunk_bins:
    raise ValueError(f'sequence_length={length:,} gives {trunk_bins} bins, '
                     f'fewer than the model\'s target_length={num_bins}.')
  # TargetLengthCrop1D trims (bins - target) // 2 on the left.
  return OutputLayout(length, num_bins, (trunk_bins - num_bins) // 2 *
                      BIN_SIZE)


def window_starts(region: Region, layout: OutputLayout) -> np.ndarray:
  """Input window starts `[windows]` whose output bins cover `region`.

  One window when the region fits in one output span: the
  `sequence_length` window centred on the region (kipoiseq rounding, as
  `genome.resize_interval`). Otherwise `ceil(width / span)` windows, each
  `span` bp after the previous, so their outputs abut; together they are
  centred on the region the same way.
  """
  count = max(1, math.ceil((region.end - region.start) / layout.span))
  block = genome.resize_interval(
      region, (count - 1) * layout.span + layout.sequence_length,
      use_strand=False)
  return block.start + layout.span * np.arange(count, dtype=np.int64)


def bin_coordinates(starts: np.ndarray, layout: OutputLayout):
  """`(bin_starts, bin_ends)`, int64 `[windows * num_bins]` each."""
  first = np.asarray(starts, np.int64)[:, None] + layout.crop_bp  # [W, 1]
  bin_starts = (first + BIN_SIZE * np.arange(layout.num_bins)).reshape(-1)
  return bin_starts, bin_starts + BIN_SIZE


# -- Results ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class IntervalPrediction:
  """One region's predictions and where every bin lies on the genome.

  Attributes:
    region: the region asked for.
    head: the model head (organism) predicted.
    chrom_size: length of `region.chrom` in the FASTA.
    window_starts: int64 `[windows]`, start of each input window (each
      `sequence_length` bp; may be negative or run past the chromosome end,
      padded with `N`).
    bin_starts: int64 `[bins]`, 0-based start of each output bin; bins are
      contiguous and 128 bp, so `bin_starts[i] = bin_starts[0] + 128 i`.
    bin_ends: int64 `[bins]`, `bin_starts + 128`.
    values: float32 `[bins, tracks]`, the model's output per bin.
    track_indices: the head's track index of each column of `values`.
    track_names: a name per column (targets.txt identifiers when given).
  """
  region: Region
  head: str
  chrom_size: int
  window_starts: np.ndarray
  bin_starts: np.ndarray
  bin_ends: np.ndarray
  values: np.ndarray
  track_indices: tuple
  track_names: tuple

  @property
  def chrom(self) -> str:
    return self.region.chrom

  @property
  def start(self) -> int:
    """Start of the first bin (may be negative)."""
    return int(self.bin_starts[0])

  @property
  def end(self) -> int:
    """End of the last bin (may be past the chromosome end)."""
    return int(self.bin_ends[-1])

  def track(self, track: Union[int, str]) -> np.ndarray:
    """The `[bins]` values of one column, by column position or name."""
    return self.values[:, self.column(track)]

  def column(self, track: Union[int, str]) -> int:
    """The column of `values` holding `track` (a name or column position)."""
    if isinstance(track, str):
      if track not in self.track_names:
        raise ValueError(f'No track {track!r} in these predictions; they '
                         f'have {list(self.track_names)}.')
      return self.track_names.index(track)
    if not 0 <= track < len(self.track_names):
      raise ValueError(f'Track column {track} is out of range: these '
                       f'predictions have {len(self.track_names)} tracks.')
    return int(track)

  def on_chromosome(self) -> np.ndarray:
    """bool `[bins]`: the bin overlaps `[0, chrom_size)`."""
    return (self.bin_ends > 0) & (self.bin_starts < self.chrom_size)

  def clipped(self):
    """`(starts, ends, values)` of the bins on the chromosome, clipped to it.

    Bins wholly off the chromosome are dropped; a bin that straddles an end
    keeps its value over the part on the chromosome. This is what bigWig
    and bedGraph files hold.
    """
    keep = self.on_chromosome()
    return (np.maximum(self.bin_starts[keep], 0),
            np.minimum(self.bin_ends[keep], self.chrom_size),
            self.values[keep])


# -- Prediction ---------------------------------------------------------------


def head_predictor(model, head: str) -> Callable[[np.ndarray], np.ndarray]:
  """`x [b, L, 4] -> [b, bins, head tracks]` of one head, in inference mode.

  Raises:
    ValueError: the model has `heads` and `head` is not one of them.
  """
  heads = getattr(model, 'heads', None)
  if heads is not None and head not in heads:
    raise ValueError(f'Unknown head {head!r}; this model has heads '
                     f'{sorted(heads)}.')
  if hasattr(model, 'predict_head'):
    return lambda x: model.predict_head(x, head, training=False)
  return lambda x: model(x, training=False)[head]


def check_strand_pairs(strand_pairs: Optional[Sequence[int]],
                       num_tracks: int) -> Optional[np.ndarray]:
  """`strand_pairs` as an array, checked to permute the head's tracks."""
  if strand_pairs is None:
    return None
  pairs = np.asarray(strand_pairs)
  if (pairs.shape != (num_tracks,) or
      sorted(pairs.tolist()) != list(range(num_tracks))):
    raise ValueError(f"strand_pairs must be a permutation of the head's "
                     f'{num_tracks} track indices.')
  return pairs


def window_predictor(model, head: str,
                     average_reverse_complement: bool = False,
                     strand_pairs: Optional[Sequence[int]] = None,
                     batch_size: Optional[int] = None
                     ) -> Callable[[np.ndarray], np.ndarray]:
  """`x [n, L, 4] -> float32 [n, bins, head tracks]` NumPy predictions.

  With `average_reverse_complement`, the mean of the prediction and that of
  the reverse complement, its bins flipped back into place and its tracks
  mapped through `strand_pairs` (track `t` on the reverse strand is track
  `strand_pairs[t]` on the forward one; default: every track unstranded).
  The model is called on at most `batch_size` sequences at once (default:
  all of `x`, and its reverse complement, in one call).
  """
  predict = head_predictor(model, head)
  pairs = None
  if strand_pairs is not None:
    pairs = check_strand_pairs(strand_pairs,
                               getattr(model, 'heads', {})[head])

  def run(x: np.ndarray) -> np.ndarray:
    inputs = [x]
    if average_reverse_complement:
      inputs.append(np.ascontiguousarray(
          encoding.reverse_complement_one_hot(x)))
    stacked = np.concatenate(inputs, axis=0)  # [n or 2n, L, 4]
    step = batch_size or len(stacked)
    y = np.concatenate([
        np.asarray(predict(stacked[i:i + step]), np.float32)
        for i in range(0, len(stacked), step)], axis=0)  # [n or 2n, bins, T]
    if not average_reverse_complement:
      return y
    forward, reverse = y[:len(x)], y[len(x):, ::-1]  # Bins back in order.
    if pairs is not None:
      reverse = reverse[..., np.argsort(pairs)]
    return (forward + reverse) / 2

  return run


def select_tracks(num_tracks: int, tracks: Optional[Sequence[int]] = None,
                  track_names: Optional[Sequence[str]] = None):
  """`(indices, names)` of the chosen tracks of a head with `num_tracks`.

  Args:
    num_tracks: tracks of the head.
    tracks: indices to keep (default all), in the order wanted.
    track_names: a name for each of the head's tracks (default `track_0`,
      `track_1`, ...).

  Raises:
    ValueError: an index out of range or repeated, or `track_names` of the
      wrong length.
  """
  if track_names is None:
    track_names = [f'track_{i}' for i in range(num_tracks)]
  elif len(track_names) != num_tracks:
    raise ValueError(f'Got {len(track_names)} track names for a head with '
                     f'{num_tracks} tracks.')
  indices = list(range(num_tracks)) if tracks is None else list(tracks)
  if not indices:
    raise ValueError('No tracks chosen.')
  for index in indices:
    if int(index) != index or not 0 <= index < num_tracks:
      raise ValueError(f'Track {index!r} is out of range: the head has '
                       f'{num_tracks} tracks (0-{num_tracks - 1}).')
  repeated = sorted({i for i in indices if indices.count(i) > 1})
  if repeated:
    raise ValueError(f'Tracks {repeated} are chosen more than once.')
  indices = tuple(int(i) for i in indices)
  return indices, tuple(str(track_names[i]) for i in indices)


def predict_intervals(model, fasta: Union[str, genome.FastaExtractor],
                      regions: Iterable[RegionLike], head: str, *,
                      tracks: Optional[Sequence[int]] = None,
                      track_names: Optional[Sequence[str]] = None,
                      batch_size: int = 4,
                      average_reverse_complement: bool = False,
                      strand_pairs: Optional[Sequence[int]] = None,
                      sequence_length: Optional[int] = None
                      ) -> List[IntervalPrediction]:
  """Predicts `head` over each region; see the module docstring.

  Args:
    model: an `Enformer` (or anything with `heads`, `sequence_length`,
      `target_length` and `predict_head(x, head, training=False)`).
    fasta: the genome FASTA, a path or an open `FastaExtractor`.
    regions: `'chr:start-end'` strings, `Region`s or interval-like objects
      (`kipoiseq.Interval`); each must lie on a FASTA chromosome.
    head: the head (organism) to predict, e.g. `'human'`.
    tracks: the head's track indices to keep (default all).
    track_names: a name for each of the head's tracks (e.g. targets.txt
      identifiers); default `track_0`, ...
    batch_size: windows per model call.
    average_reverse_complement: also predict the reverse complement of each
      window and average the two (bins reversed back into place).
    strand_pairs: with `average_reverse_complement`, the head's track index
      that track `i` becomes on the other strand (targets.txt
      `strand_pair`); default: every track is its own pair (unstranded).
    sequence_length: input length for a model without one.

  Returns:
    One `IntervalPrediction` per region, in order.

  Raises:
    ValueError: an unknown head, chromosome or track, a region off its
      chromosome or a malformed region string.
    FileNotFoundError: no FASTA at `fasta`.
  """
  if int(batch_size) != batch_size or batch_size < 1:
    raise ValueError(f'batch_size must be a positive integer, got '
                     f'{batch_size!r}.')
  regions = [as_region(r) for r in regions]
  predict = window_predictor(model, head, average_reverse_complement,
                             strand_pairs, batch_size)
  layout = output_layout(model, sequence_length)
  num_tracks = getattr(model, 'heads', {}).get(head)
  if num_tracks is None:
    raise ValueError(f'Cannot tell how many tracks head {head!r} has; the '
                     'model needs a `heads` dict.')
  indices, names = select_tracks(num_tracks, tracks, track_names)
  if average_reverse_complement and not layout.symmetric:
    raise ValueError(
        f'average_reverse_complement needs the output bins centred in the '
        f'window, but sequence_length={layout.sequence_length} and '
        f'{layout.num_bins} bins crop {layout.crop_bp} bp on the left and '
        f'{layout.sequence_length - layout.span - layout.crop_bp} on the '
        'right.')

  owns_fasta = not isinstance(fasta, genome.FastaExtractor)
  extractor = genome.FastaExtractor(fasta) if owns_fasta else fasta
  try:
    check_regions(regions, extractor)
    starts = [window_starts(region, layout) for region in regions]
    outputs = predict_windows(
        predict, extractor, [(region.chrom, int(s)) for region, region_starts
                             in zip(regions, starts) for s in region_starts],
        layout, indices, batch_size)
  finally:
    if owns_fasta:
      extractor.close()
  return assemble_predictions(regions, starts, outputs, layout, head,
                              extractor.chromosome_sizes, indices, names)


def predict_windows(predict: Callable[[np.ndarray], np.ndarray],
                    extractor: genome.FastaExtractor,
                    windows: Sequence[Tuple[str, int]],
                    layout: OutputLayout, indices: Sequence[int],
                    batch_size: int) -> List[np.ndarray]:
  """The chosen tracks `[bins, len(indices)]` of each window `(chrom,
  start)`, `batch_size` windows per `predict` (`window_predictor`) call,
  the first call from `windows[0]`: the model calls of `predict_intervals`
  (which the genome-scale pipeline cuts between)."""
  outputs = []  # [windows] of [num_bins, chosen tracks]
  for first in range(0, len(windows), batch_size):
    batch = windows[first:first + batch_size]
    x = np.stack([encoding.one_hot_encode(extractor.extract(
        chrom, start, start + layout.sequence_length))
                  for chrom, start in batch])  # [b, L, 4]
    y = predict(x)  # [b, bins, head tracks]
    outputs.extend(y[..., list(indices)])  # [b, bins, chosen]
  return outputs


def assemble_predictions(regions: Sequence[Region],
                         starts: Sequence[np.ndarray],
                         outputs: Sequence[np.ndarray],
                         layout: OutputLayout, head: str,
                         chrom_sizes: Dict[str, int], indices: Sequence[int],
                         names: Sequence[str]) -> List[IntervalPrediction]:
  """One `IntervalPrediction` per region from its windows' outputs
  (`outputs` region after region, `starts[r]` windows each)."""
  results, position = [], 0
  for region, region_starts in zip(regions, starts):
    count = len(region_starts)
    bin_starts, bin_ends = bin_coordinates(region_starts, layout)
    values = np.concatenate(outputs[position:position + count], axis=0)
    position += count
    results.append(IntervalPrediction(
        region=region, head=head, chrom_size=chrom_sizes[region.chrom],
        window_starts=region_starts, bin_starts=bin_starts, bin_ends=bin_ends,
        values=values.astype(np.float32), track_indices=tuple(indices),
        track_names=tuple(names)))
  return results


def predict_interval(model, fasta, region: RegionLike, head: str,
                     **kwargs) -> IntervalPrediction:
  """`predict_intervals` for one region."""
  return predict_intervals(model, fasta, [region], head, **kwargs)[0]
