"""`enformer-predict`: predicted tracks over genome regions, as files.

    enformer-predict --model model.keras --fasta genome.fa \\
        --region chr3:200000-230000 --head human \\
        --targets targets.txt --tracks cage_promoter,dnase \\
        --out_dir predictions --format both --plot

Regions (`--region`, repeatable, or `--bed`) are 0-based half-open, like
BED. Each is centred in the model's input window (wider regions get several
abutting windows), read from the FASTA with `N` beyond chromosome ends and
predicted; see `enformer_tf.genomics.intervals`. The output directory,
written whole and then renamed into place:

  {track}.bw / {track}.bedgraph  one per chosen track, named by its
                                 targets.txt identifier (bins on the
                                 chromosome; see `track_writers`)
  predictions.tsv, .npz          every bin with its coordinates and values
  plots/{region}.png             with --plot: the tracks over each region

Errors are one line on stderr and a non-zero exit status.
"""
import argparse
import os
import shutil
import sys
import uuid
from typing import Optional, Sequence

from enformer_tf.genomics import cli_args

PROG = 'enformer-predict'
FORMATS = {'bigwig': ('bigwig',), 'bedgraph': ('bedgraph',),
           'both': ('bigwig', 'bedgraph'), 'none': ()}
MAX_TRACK_FILES = 100  # Per format, unless --tracks chooses them.


def build_parser() -> argparse.ArgumentParser:
  parser = cli_args.OneLineErrorParser(
      prog=PROG,
      description='Predict an Enformer head over genome regions; write '
      'bigWig / bedGraph per track, a table of every bin and optional PNGs.')
  parser.add_argument('--model', required=True, metavar='PATH',
                      help='a .keras file, an enformer-train directory or a '
                      'checkpoint prefix in one')
  parser.add_argument('--fasta', required=True, metavar='FILE',
                      help='the genome FASTA (plain or bgzip, indexed on '
                      'first use)')
  regions = parser.add_mutually_exclusive_group(required=True)
  regions.add_argument('--region', action='append', metavar='CHR:START-END',
                       help='a region, 0-based half-open (repeatable)')
  regions.add_argument('--bed', metavar='FILE',
                       help='regions in a BED file (column 4 names them)')
  parser.add_argument('--head', required=True,
                      help='the head (organism) to predict, e.g. human')
  parser.add_argument('--targets', metavar='FILE',
                      help="the head's targets.txt: names the tracks (and "
                      'files) by identifier and enables --tracks by name, '
                      '--observed and strand pairs for --rc')
  parser.add_argument('--tracks', metavar='LIST',
                      help='tracks to write: indices, ranges a-b and (with '
                      '--targets) identifiers, comma-separated, e.g. 0,2 or '
                      '4-6 or cage_promoter,dnase (default: all)')
  parser.add_argument('--out_dir', required=True, metavar='DIR',
                      help='output directory (must not exist or be empty, '
                      'unless --overwrite)')
  parser.add_argument('--format', choices=sorted(FORMATS), default='bigwig',
                      help='per-track files to write (default bigwig)')
  parser.add_argument('--overlap', choices=('error', 'mean'),
                      default='error',
                      help='regions whose predictions overlap: refuse '
                      '(default) or write the mean in the track files')
  parser.add_argument('--plot', action='store_true',
                      help='also write plots/{region}.png of the tracks')
  parser.add_argument('--observed', action='store_true',
                      help='with --plot: draw the observed bigWigs of '
                      'targets.txt behind the predictions')
  parser.add_argument('--rc', action='store_true',
                      help='average with the prediction of the reverse '
                      'complement')
  parser.add_argument('--batch_size', type=int, default=4,
                      help='windows per model call (default 4)')
  parser.add_argument('--sequence_length', type=int, default=None,
                      help='input length, for a model saved without one')
  parser.add_argument('--overwrite', action='store_true',
                      help='replace a non-empty --out_dir')
  return parser


def run(args: argparse.Namespace) -> dict:
  """Predicts and writes what `args` asks for; returns a summary."""
  from enformer_tf import atomic
  from enformer_tf.data import genome, make_data
  from enformer_tf.data import targets as targets_lib
  from enformer_tf import io as models
  from enformer_tf.genomics import intervals, plotting, track_writers

  if args.observed and not (args.plot and args.targets):
    raise ValueError('--observed needs --plot and --targets (the bigWigs are '
                     'the targets.txt files).')
  if args.batch_size < 1:
    raise ValueError(f'--batch_size must be positive, got {args.batch_size}.')
  if args.bed:
    regions = intervals.read_regions(args.bed)
  else:
    regions = [intervals.parse_region(text) for text in args.region]
  out_dir = os.path.abspath(args.out_dir)
  if os.path.isfile(out_dir) or (os.path.isdir(out_dir) and os.listdir(
      out_dir) and not args.overwrite):
    raise ValueError(f'--out_dir {args.out_dir} exists and is not an empty '
                     'directory; pass --overwrite to replace it.')

  with genome.FastaExtractor(args.fasta) as fasta:
    if args.bed:
      for region in regions:  # Name the BED in the message.
        fasta.check_chromosome(region.chrom, context=f'{args.bed}: ')
    intervals.check_regions(regions, fasta)
    targets = None
    if args.targets:
      targets = targets_lib.renumber_targets(targets_lib.read_targets(
          args.targets, required_columns=('identifier',)))
    model = models.load_model(args.model)
    heads = getattr(model, 'heads', {})
    if args.head not in heads:
      raise ValueError(f'Unknown head {args.head!r}; the model has heads '
                       f'{sorted(heads)}.')
    num_tracks = heads[args.head]
    identifiers = None
    if targets is not None:
      if len(targets) != num_tracks:
        raise ValueError(f'{args.targets} lists {len(targets)} tracks but '
                         f'head {args.head!r} has {num_tracks}; is it the '
                         f'targets file of this head?')
      identifiers = [t.identifier for t in targets]
    tracks = cli_args.parse_tracks(args.tracks, num_tracks, identifiers)
    formats = FORMATS[args.format]
    chosen = num_tracks if tracks is None else len(tracks)
    if formats and chosen > MAX_TRACK_FILES and args.tracks is None:
      raise ValueError(f'Head {args.head!r} has {num_tracks} tracks: choose '
                       f'the ones to write with --tracks (or --format none '
                       f'for the table only).')
    if args.observed:
      missing = [targets[i].identifier for i in (tracks or range(num_tracks))
                 if not targets[i].file]
      if missing:
        raise ValueError(f'--observed: {args.targets} gives no bigWig file '
                         f'for {", ".join(map(repr, missing))}.')
      for i in tracks or range(num_tracks):  # Before the predictions.
        where = (f'--observed: {args.targets}: bigWig {targets[i].file!r} '
                 f'of {targets[i].identifier!r}')
        if not os.path.isfile(targets[i].path):
          raise FileNotFoundError(f'{where} not found (looked for '
                                  f'{targets[i].path!r}).')
        if not make_data.is_bigwig_file(targets[i].path):
          raise ValueError(f'{where} is not a bigWig file.')
    strand_pairs = None
    if args.rc and targets is not None and any(
        t.strand_pair is not None for t in targets):
      strand_pairs = [t.index if t.strand_pair is None else t.strand_pair
                      for t in targets]
    predictions = intervals.predict_intervals(
        model, fasta, regions, args.head, tracks=tracks,
        track_names=identifiers, batch_size=args.batch_size,
        average_reverse_complement=args.rc, strand_pairs=strand_pairs,
        sequence_length=args.sequence_length)
    chrom_sizes = dict(fasta.chromosome_sizes)

  parent = os.path.dirname(out_dir)
  os.makedirs(parent, exist_ok=True)
  work = os.path.join(parent, f'.{os.path.basename(out_dir)}.tmp-'
                      f'{uuid.uuid4().hex[:8]}')
  os.makedirs(work)
  try:
    written = _write_outputs(work, predictions, chrom_sizes, formats, args,
                             targets, track_writers, plotting)
    atomic.swap_into_place(work, out_dir)
  except BaseException:
    shutil.rmtree(work, ignore_errors=True)
    raise
  return dict(out_dir=out_dir, regions=len(predictions),
              bins=sum(len(p.bin_starts) for p in predictions),
              tracks=list(predictions[0].track_names), **written)


def _write_outputs(work, predictions, chrom_sizes, formats, args, targets,
                   track_writers, plotting) -> dict:
  names = predictions[0].track_names
  written = {'bigwig': [], 'bedgraph': [], 'plots': []}
  suffixes = {'bigwig': '.bw', 'bedgraph': '.bedgraph'}
  writers = {'bigwig': track_writers.write_bigwig,
             'bedgraph': track_writers.write_bedgraph}
  for fmt in formats:
    for column, name in enumerate(track_writers.file_names(
        names, suffixes[fmt])):
      writers[fmt](os.path.join(work, name), predictions, column,
                   chrom_sizes, overlap=args.overlap)
      written[fmt].append(name)
  track_writers.write_table(os.path.join(work, 'predictions.tsv'),
                            predictions)
  track_writers.write_npz(os.path.join(work, 'predictions.npz'), predictions)
  if args.plot:
    chosen = [targets[i] for i in predictions[0].track_indices] if (
        targets) else None
    labels = ({c: f'{t.identifier}\n{t.description}' if t.description
               else t.identifier for c, t in enumerate(chosen)}
              if chosen else None)
    for prediction, name in zip(predictions, track_writers.file_names(
        [p.region.label for p in predictions], '.png')):
      observed = None
      if args.observed:
        observed = {c: plotting.observed_bins(
            t.path, prediction, t.sum_stat, t.scale, t.clip, t.clip_soft)
                    for c, t in enumerate(chosen)}
      path = os.path.join('plots', name)
      plotting.plot_tracks(prediction, os.path.join(work, path),
                           observed=observed, labels=labels)
      written['plots'].append(path)
  return written


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import tensorflow as tf

  try:
    summary = run(args)
  except (ValueError, OSError, tf.errors.OpError) as e:
    print(f'{PROG}: error: {cli_args.one_line(e)}', file=sys.stderr)
    return 1
  files = summary['bigwig'] + summary['bedgraph']
  print(f'{PROG}: {args.head} tracks {", ".join(summary["tracks"])} over '
        f'{summary["regions"]} region(s), {summary["bins"]} bins -> '
        f'{summary["out_dir"]}: {len(files)} track file(s), '
        f'predictions.tsv, predictions.npz'
        + (f', {len(summary["plots"])} plot(s)' if summary['plots'] else ''))
  return 0


if __name__ == '__main__':
  sys.exit(main())
