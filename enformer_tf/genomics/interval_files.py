"""Predicted tracks over genome regions, written as a directory of files
(the work of `enformer-predict`).

  predict_to_files(model, 'genome.fa', 'human', 'predictions',
                   regions=['chr3:200000-230000'], targets='targets.txt',
                   tracks='cage_promoter,dnase', formats=('bigwig',),
                   plot=True)

The output directory, written whole and then renamed into place
(`atomic.atomic_directory`):

  {track}.bw / {track}.bedgraph  one per chosen track, named by its
                                 targets.txt identifier (bins on the
                                 chromosome; see `track_writers`)
  predictions.tsv, .npz          every bin with its coordinates and values
  plots/{region}.png             with `plot`: the tracks over each region

Messages name the command's options (`--tracks`, `--out_dir`), as the
command passes them through unchanged.
"""
import dataclasses
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from enformer_tf import atomic
from enformer_tf.data import bigwig, genome
from enformer_tf.genomics import intervals, plotting, track_writers
from enformer_tf.genomics import tracks as tracks_lib

FILE_FORMATS = ('bigwig', 'bedgraph')
MAX_TRACK_FILES = 100  # Per format, unless `tracks` chooses them.
_SUFFIXES = {'bigwig': '.bw', 'bedgraph': '.bedgraph'}


def predict_to_files(model: Union[str, Any], fasta: str, head: str,
                     out_dir: str, *,
                     regions: Sequence[intervals.RegionLike] = (),
                     bed: Optional[str] = None,
                     targets: Optional[str] = None,
                     tracks: Optional[str] = None,
                     formats: Sequence[str] = ('bigwig',),
                     overlap: str = 'error', plot: bool = False,
                     observed: bool = False, rc: bool = False,
                     batch_size: int = 4,
                     sequence_length: Optional[int] = None,
                     overwrite: bool = False) -> Dict[str, Any]:
  """Predicts `head` over the regions and writes the output directory.

  Args:
    model: a `.keras` file, an enformer-train directory or a checkpoint
      prefix (read with `enformer_tf.io.load_model`), or a loaded model.
    fasta: the genome FASTA.
    head: the head (organism) to predict.
    out_dir: the directory to write; must not exist or be empty unless
      `overwrite`.
    regions: region strings `CHR:START-END`, `Region`s or intervals.
    bed: a BED file of regions instead (column 4 names them).
    targets: the head's targets.txt: names the tracks (and files), enables
      `tracks` by identifier, `observed` and strand pairs for `rc`.
    tracks: the `--tracks` text: indices, ranges and identifiers (default
      all; see `tracks.parse_tracks`).
    formats: per-track files, any of `FILE_FORMATS` (empty: the table only).
    overlap: `'error'` or `'mean'`, see `track_writers`.
    plot: also write `plots/{region}.png`.
    observed: with `plot` and `targets`: draw the observed bigWigs.
    rc: average with the prediction of the reverse complement.
    batch_size: windows per model call.
    sequence_length: input length, for a model saved without one.
    overwrite: replace a non-empty `out_dir`.

  Returns:
    `out_dir` (absolute), `regions` and `bins` (counts), `tracks` (names)
    and the files written: `bigwig`, `bedgraph`, `plots` (lists of names
    relative to `out_dir`).

  Raises:
    ValueError, OSError: bad input (one-line messages); nothing is written.
  """
  with genome.FastaExtractor(fasta) as extractor:
    request = prepare_request(
        model, extractor, head, out_dir, regions=regions, bed=bed,
        targets=targets, tracks=tracks, formats=formats, plot=plot,
        observed=observed, batch_size=batch_size, overwrite=overwrite)
    predictions = intervals.predict_intervals(
        request.model, extractor, request.regions, head,
        tracks=request.indices, track_names=request.identifiers,
        batch_size=batch_size,
        average_reverse_complement=rc,
        strand_pairs=request.strand_pairs if rc else None,
        sequence_length=sequence_length)
  return write_directory(request, predictions, formats, overlap=overlap,
                         plot=plot, observed=observed)


@dataclasses.dataclass
class IntervalRequest:
  """The checked inputs of `predict_to_files`, before any prediction.

  Attributes:
    model: the loaded model.
    out_dir: the output directory (absolute).
    regions: the regions, in order.
    indices, identifiers: the chosen tracks (`None`: all of the head's).
    strand_pairs: the head's strand pairs (for `rc`).
    targets: the head's targets (all rows), or `None`.
    chrom_sizes: the FASTA's `{chrom: size}`, in its order.
  """
  model: Any
  out_dir: str
  regions: List[intervals.Region]
  indices: Optional[Tuple[int, ...]]
  identifiers: Optional[Tuple[str, ...]]
  strand_pairs: Optional[Any]
  targets: Optional[Sequence[Any]]
  chrom_sizes: Dict[str, int]


def prepare_request(model: Union[str, Any],
                    extractor: genome.FastaExtractor, head: str,
                    out_dir: str, *,
                    regions: Sequence[intervals.RegionLike] = (),
                    bed: Optional[str] = None,
                    targets: Optional[str] = None,
                    tracks: Optional[str] = None,
                    formats: Sequence[str] = ('bigwig',),
                    plot: bool = False, observed: bool = False,
                    batch_size: int = 4,
                    overwrite: bool = False) -> IntervalRequest:
  """Checks the options of `predict_to_files` (arguments of the same
  names) against the open FASTA and the model (a path is loaded once the
  cheap checks pass); reads the regions.

  Raises:
    ValueError, OSError: bad input, one-line messages.
  """
  if observed and not (plot and targets):
    raise ValueError('--observed needs --plot and --targets (the bigWigs are '
                     'the targets.txt files).')
  if batch_size < 1:
    raise ValueError(f'--batch_size must be positive, got {batch_size}.')
  unknown = [f for f in formats if f not in FILE_FORMATS]
  if unknown:
    raise ValueError(f'formats must be among {list(FILE_FORMATS)}, got '
                     f'{unknown}.')
  if bed:
    regions = intervals.read_regions(bed)
  else:
    regions = [intervals.as_region(region) for region in regions]
    if not regions:  # The command requires --region or --bed.
      raise ValueError('No regions: give regions or a BED file.')
  given, out_dir = out_dir, os.path.abspath(out_dir)
  if os.path.isfile(out_dir) or (os.path.isdir(out_dir) and os.listdir(
      out_dir) and not overwrite):
    raise ValueError(f'--out_dir {given} exists and is not an empty '
                     'directory; pass --overwrite to replace it.')
  if bed:
    for region in regions:  # Name the BED in the message.
      extractor.check_chromosome(region.chrom, context=f'{bed}: ')
  intervals.check_regions(regions, extractor)
  model, chosen = tracks_lib.model_and_tracks(model, head, targets, tracks)
  num_tracks, chosen_targets = chosen.num_tracks, chosen.targets
  indices = chosen.indices
  count = num_tracks if indices is None else len(indices)
  if formats and count > MAX_TRACK_FILES and tracks is None:
    raise ValueError(f'Head {head!r} has {num_tracks} tracks: choose '
                     f'the ones to write with --tracks (or --format none '
                     f'for the table only).')
  if observed:
    check_observed_files(targets, chosen_targets,
                         indices or range(num_tracks))
  return IntervalRequest(model, out_dir, list(regions), indices,
                         chosen.identifiers,
                         chosen.strand_pairs(), chosen_targets,
                         dict(extractor.chromosome_sizes))


def write_directory(request: IntervalRequest, predictions: Sequence[
    intervals.IntervalPrediction], formats: Sequence[str], *,
                    overlap: str = 'error', plot: bool = False,
                    observed: bool = False) -> Dict[str, Any]:
  """Writes the output directory whole (`write_outputs`, then renamed
  into place) and returns `predict_to_files`'s summary."""
  with atomic.atomic_directory(request.out_dir) as work:
    written = write_outputs(work, predictions, request.chrom_sizes, formats,
                            overlap=overlap, plot=plot, observed=observed,
                            targets=request.targets)
  return dict(out_dir=request.out_dir, regions=len(predictions),
              bins=sum(len(p.bin_starts) for p in predictions),
              tracks=list(predictions[0].track_names), **written)


def check_observed_files(targets_path: str, targets: Sequence[Any],
                         indices: Sequence[int]) -> None:
  """Raises unless each chosen track's targets.txt `file` is a bigWig.

  Checked before the predictions, which may take minutes.

  Raises:
    ValueError: a track without a file, or a file that is not a bigWig.
    FileNotFoundError: a file that does not exist.
  """
  missing = [targets[i].identifier for i in indices if not targets[i].file]
  if missing:
    raise ValueError(f'--observed: {targets_path} gives no bigWig file '
                     f'for {", ".join(map(repr, missing))}.')
  for i in indices:
    where = (f'--observed: {targets_path}: bigWig {targets[i].file!r} '
             f'of {targets[i].identifier!r}')
    if not os.path.isfile(targets[i].path):
      raise FileNotFoundError(f'{where} not found (looked for '
                              f'{targets[i].path!r}).')
    if not bigwig.is_bigwig_file(targets[i].path):
      raise ValueError(f'{where} is not a bigWig file.')


def write_outputs(work: str, predictions: Sequence[
    intervals.IntervalPrediction], chrom_sizes: Dict[str, int],
                  formats: Sequence[str], *, overlap: str = 'error',
                  plot: bool = False, observed: bool = False,
                  targets: Optional[Sequence[Any]] = None
                  ) -> Dict[str, List[str]]:
  """Writes the track files, table, `.npz` and plots into `work`.

  Args:
    work: an existing directory.
    predictions: from `intervals.predict_intervals`, one per region.
    chrom_sizes: the FASTA's `{chrom: size}`, in its order.
    formats: per-track files, any of `FILE_FORMATS`.
    overlap, plot, observed: as in `predict_to_files`.
    targets: the head's targets (all of them), for plot labels and the
      observed bigWigs.

  Returns:
    The names written, relative to `work`: `{'bigwig': [...],
    'bedgraph': [...], 'plots': [...]}`.
  """
  names = predictions[0].track_names
  written = {'bigwig': [], 'bedgraph': [], 'plots': []}
  writers = {'bigwig': track_writers.write_bigwig,
             'bedgraph': track_writers.write_bedgraph}
  for fmt in formats:
    for column, name in enumerate(track_writers.file_names(
        names, _SUFFIXES[fmt])):
      writers[fmt](os.path.join(work, name), predictions, column,
                   chrom_sizes, overlap=overlap)
      written[fmt].append(name)
  track_writers.write_table(os.path.join(work, 'predictions.tsv'),
                            predictions)
  track_writers.write_npz(os.path.join(work, 'predictions.npz'), predictions)
  if plot:
    chosen = [targets[i] for i in predictions[0].track_indices] if (
        targets) else None
    labels = ({c: f'{t.identifier}\n{t.description}' if t.description
               else t.identifier for c, t in enumerate(chosen)}
              if chosen else None)
    for prediction, name in zip(predictions, track_writers.file_names(
        [p.region.label for p in predictions], '.png')):
      observed_values = None
      if observed:
        observed_values = {c: plotting.observed_bins(
            t.path, prediction, t.sum_stat, t.scale, t.clip, t.clip_soft)
                           for c, t in enumerate(chosen)}
      path = os.path.join('plots', name)
      plotting.plot_tracks(prediction, os.path.join(work, path),
                           observed=observed_values, labels=labels)
      written['plots'].append(path)
  return written
