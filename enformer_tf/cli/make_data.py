"""`enformer-make-data`: Basenji2 / Enformer TFRecords from a FASTA and bigWigs.

  enformer-make-data --fasta hg38.fa --targets targets.txt \\
      --tile --stride 65536 --valid_chroms chr8 --test_chroms chr9 \\
      --seq_length 196608 --target_length 896 --out_dir data/human

A thin command over `enformer_tf.data.make_data.make_data`, which documents
the inputs, the output layout and the binning. Errors are one line on
stderr and exit status 1; the output directory appears only when complete.
"""
import json
import sys
from typing import Optional, Sequence

from enformer_tf.cli import common
from enformer_tf.data.make_data import make_data

PROG = 'enformer-make-data'


def _parser() -> common.Parser:
  parser = common.Parser(
      PROG, ('Build Basenji2/Enformer TFRecords from a genome FASTA and one '
             'bigWig per track.'))
  parser.add_argument('--fasta', required=True, help='genome FASTA')
  parser.add_argument('--targets', required=True,
                      help='targets.txt: one bigWig per track, with clip, '
                      'scale, sum_stat')
  parser.add_argument('--out_dir', required=True, help='directory to create')
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument('--bed', help='regions; optional column 4 names the '
                      'split (train/valid/test)')
  source.add_argument('--tile', action='store_true',
                      help='tile the genome with seq_length windows')
  parser.add_argument('--stride', type=int,
                      help='tiling step in bp (default: seq_length)')
  parser.add_argument('--tile_regions', action='store_true',
                      help='with --bed: tile each region with seq_length '
                      'windows at --stride, inside the region (no window '
                      'crosses a split), instead of one centred window')
  parser.add_argument('--chroms', nargs='+',
                      help='use only these chromosomes')
  parser.add_argument('--valid_chroms', nargs='+', default=[],
                      help='chromosomes for the valid split')
  parser.add_argument('--test_chroms', nargs='+', default=[],
                      help='chromosomes for the test split')
  parser.add_argument('--folds', type=int,
                      help='split the regions into this many contiguous folds')
  parser.add_argument('--valid_fold', type=int, help='fold used as valid')
  parser.add_argument('--test_fold', type=int, help='fold used as test')
  parser.add_argument('--seq_length', type=int, default=131_072,
                      help='input sequence length in bp (default: 131072)')
  parser.add_argument('--pool_width', type=int, default=128,
                      help='bp per target bin (default: 128)')
  parser.add_argument('--crop_bp', type=int,
                      help='bp on each side without targets (default: 0, or '
                      'from --target_length)')
  parser.add_argument('--target_length', type=int,
                      help='bins per sequence; sets crop_bp')
  parser.add_argument('--seqs_per_file', type=int, default=256,
                      help='examples per TFRecord file (default: 256)')
  parser.add_argument('--seq_1hot', action='store_true',
                      help='store sequences as uint8 base indices instead of '
                      'one-hot booleans')
  parser.add_argument('--max_n_fraction', type=float,
                      help='drop regions with more non-ACGT bases than this '
                      'fraction (default: keep all)')
  parser.add_argument('--overwrite', action='store_true',
                      help='replace an existing out_dir')
  parser.add_argument('--quiet', action='store_true',
                      help='no progress bar or summary')
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`enformer-make-data`; returns the exit status."""
  args = _parser().parse_args(argv)
  try:
    stats = make_data(
        args.fasta, args.targets, args.out_dir, bed=args.bed, tile=args.tile,
        stride=args.stride, tile_bed=args.tile_regions, chroms=args.chroms,
        valid_chroms=args.valid_chroms, test_chroms=args.test_chroms,
        folds=args.folds, valid_fold=args.valid_fold,
        test_fold=args.test_fold, seq_length=args.seq_length,
        pool_width=args.pool_width, crop_bp=args.crop_bp,
        target_length=args.target_length, seqs_per_file=args.seqs_per_file,
        seq_1hot=args.seq_1hot, max_n_fraction=args.max_n_fraction,
        overwrite=args.overwrite, progress=not args.quiet)
  except (ValueError, OSError) as error:
    return common.fail(PROG, error)
  if not args.quiet:
    print(f'Wrote {args.out_dir}: ' + json.dumps(stats))
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
