"""`enformer-predict`: predicted tracks over genome regions, as files.

    enformer-predict --model model.keras --fasta genome.fa \\
        --region chr3:200000-230000 --head human \\
        --targets targets.txt --tracks cage_promoter,dnase \\
        --out_dir predictions --format both --plot

Regions (`--region`, repeatable, or `--bed`) are 0-based half-open, like
BED. Each is centred in the model's input window (wider regions get several
abutting windows), read from the FASTA with `N` beyond chromosome ends and
predicted; see `enformer_tf.genomics.intervals`. The work is
`enformer_tf.genomics.interval_files.predict_to_files`. The output
directory, written whole and then renamed into place:

  {track}.bw / {track}.bedgraph  one per chosen track, named by its
                                 targets.txt identifier (bins on the
                                 chromosome; see `track_writers`)
  predictions.tsv, .npz          every bin with its coordinates and values
  plots/{region}.png             with --plot: the tracks over each region

Errors are one line on stderr and a non-zero exit status.
"""
import os
import sys
from typing import Optional, Sequence

from enformer_tf.cli import common

PROG = 'enformer-predict'
FORMATS = {'bigwig': ('bigwig',), 'bedgraph': ('bedgraph',),
           'both': ('bigwig', 'bedgraph'), 'none': ()}


def add_predict_arguments(parser: common.Parser) -> None:
  """The options of enformer-predict (also `enformer-pipeline intervals`).
  """
  common.add_model_argument(parser)
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


def _parser() -> common.Parser:
  parser = common.Parser(
      PROG, 'Predict an Enformer head over genome regions; write '
      'bigWig / bedGraph per track, a table of every bin and optional PNGs.')
  add_predict_arguments(parser)
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  import tensorflow as tf
  from enformer_tf.genomics import interval_files

  try:
    summary = interval_files.predict_to_files(
        args.model, args.fasta, args.head, args.out_dir,
        regions=args.region or (), bed=args.bed, targets=args.targets,
        tracks=args.tracks, formats=FORMATS[args.format],
        overlap=args.overlap, plot=args.plot, observed=args.observed,
        rc=args.rc, batch_size=args.batch_size,
        sequence_length=args.sequence_length, overwrite=args.overwrite)
  except (ValueError, OSError, tf.errors.OpError) as e:
    return common.fail(PROG, e)
  files = summary['bigwig'] + summary['bedgraph']
  print(f'{PROG}: {args.head} tracks {", ".join(summary["tracks"])} over '
        f'{summary["regions"]} region(s), {summary["bins"]} bins -> '
        f'{summary["out_dir"]}: {len(files)} track file(s), '
        f'predictions.tsv, predictions.npz'
        + (f', {len(summary["plots"])} plot(s)' if summary['plots'] else ''))
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
