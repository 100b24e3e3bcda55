"""`enformer-extend-records`: Basenji2 records with longer sequences, the
flanks read from the genome (131,072 -> 196,608 bp for the paper's model).

  enformer-extend-records --data_dir basenji2/human --fasta hg38.fa \\
      --out_dir basenji2_196k/human

Each region of sequences.bed gets --extend_bp (32,768) more bp on each side
from the FASTA (N beyond chromosome ends); targets are unchanged, and
statistics.json gets the new seq_length and crop_bp (target_length stays).
Every record's sequence must equal the FASTA's centre exactly, or the
command stops naming the record and the first differing base. A thin
command over `enformer_tf.data.extend_records.extend_records`. Errors are
one line on stderr and exit status 1; the output directory appears only
when complete.
"""
import json
import sys
from typing import Optional, Sequence

import tensorflow as tf

from enformer_tf.cli import common
from enformer_tf.data import extend_records as extend_lib

PROG = 'enformer-extend-records'


def _parser() -> common.Parser:
  parser = common.Parser(PROG, __doc__)
  parser.add_argument('--data_dir', required=True,
                      help='Basenji2 data directory (one organism)')
  parser.add_argument('--fasta', required=True,
                      help='the genome FASTA the records were made from')
  parser.add_argument('--out_dir', required=True, help='directory to create')
  parser.add_argument('--extend_bp', type=int,
                      default=extend_lib.DEFAULT_EXTEND_BP,
                      help='bp added on each side (default: 32768, i.e. '
                      '131072 -> 196608)')
  parser.add_argument('--seqs_per_file', type=int, default=256,
                      help='records per TFRecord file (default: 256)')
  parser.add_argument('--overwrite', action='store_true',
                      help='replace an existing out_dir')
  parser.add_argument('--quiet', action='store_true',
                      help='no progress bar or summary')
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`enformer-extend-records`; returns the exit status."""
  args = _parser().parse_args(argv)
  try:
    stats = extend_lib.extend_records(
        args.data_dir, args.fasta, args.out_dir, extend_bp=args.extend_bp,
        seqs_per_file=args.seqs_per_file, overwrite=args.overwrite,
        progress=not args.quiet)
  except (ValueError, OSError, tf.errors.OpError) as error:
    return common.fail(PROG, error)
  if not args.quiet:
    print(f'Wrote {args.out_dir}: ' + json.dumps(stats))
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
