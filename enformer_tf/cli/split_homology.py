"""`enformer-split-homology`: train / valid / test splits of two genomes that
keep homologous sequence in one split (the Enformer paper's procedure).

  enformer-split-homology --target_fasta hg38.fa --query_fasta mm10.fa \\
      --alignment hg38.mm10.syn.net.gz --names human mouse --out_dir splits

Both genomes are cut into regions (--region_size, 1 Mb); regions with more
than --min_aligned_bp (100 kb) aligned bases between them are joined; the
connected components go to the splits at random (--seed) near the target
fractions. Writes {out_dir}/{name}.bed per genome (chrom, start, end, split)
for `enformer-make-data --bed {name}.bed --tile_regions`, and report.json;
prints the report. A thin command over
`enformer_tf.data.homology_split.split_homology`, which documents the
procedure. Errors are one line on stderr and exit status 1.
"""
import sys
from typing import Optional, Sequence

from enformer_tf.cli import common
from enformer_tf.data import homology_split

PROG = 'enformer-split-homology'


def _parser() -> common.Parser:
  parser = common.Parser(PROG, __doc__)
  parser.add_argument('--target_fasta', required=True,
                      help="FASTA of the alignment's target (first) genome")
  parser.add_argument('--query_fasta', required=True,
                      help="FASTA of the alignment's query (second) genome")
  parser.add_argument('--alignment', required=True,
                      help='UCSC chain or net file (plain or gzipped), '
                      'target = the first genome')
  parser.add_argument('--out_dir', required=True, help='directory to create')
  parser.add_argument('--names', nargs=2, default=['human', 'mouse'],
                      metavar=('TARGET', 'QUERY'),
                      help='organism names for the BED files and the report '
                      '(default: human mouse)')
  parser.add_argument('--region_size', type=int,
                      default=homology_split.DEFAULT_REGION_SIZE,
                      help='bp per region (default: 1000000)')
  parser.add_argument('--min_aligned_bp', type=int,
                      default=homology_split.DEFAULT_MIN_ALIGNED_BP,
                      help='join regions with more aligned bp than this '
                      '(default: 100000)')
  parser.add_argument('--valid_fraction', type=float,
                      default=homology_split.DEFAULT_FRACTIONS['valid'],
                      help='target fraction of sequence in valid '
                      '(default: 0.05)')
  parser.add_argument('--test_fraction', type=float,
                      default=homology_split.DEFAULT_FRACTIONS['test'],
                      help='target fraction of sequence in test '
                      '(default: 0.05)')
  parser.add_argument('--seed', type=int, default=0,
                      help='seed of the assignment (default: 0)')
  parser.add_argument('--target_chroms', nargs='+',
                      help='split only these target chromosomes')
  parser.add_argument('--query_chroms', nargs='+',
                      help='split only these query chromosomes')
  parser.add_argument('--baseline_valid_chroms', nargs='+',
                      help='also report the leakage of a chromosome split '
                      'with these valid chromosomes (both genomes)')
  parser.add_argument('--baseline_test_chroms', nargs='+',
                      help='... and these test chromosomes')
  parser.add_argument('--overwrite', action='store_true',
                      help='replace an existing out_dir')
  parser.add_argument('--quiet', action='store_true', help='no report')
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`enformer-split-homology`; returns the exit status."""
  args = _parser().parse_args(argv)
  baseline = None
  if args.baseline_valid_chroms or args.baseline_test_chroms:
    baseline = (args.baseline_valid_chroms or [],
                args.baseline_test_chroms or [])
  fractions = {'train': 1 - args.valid_fraction - args.test_fraction,
               'valid': args.valid_fraction, 'test': args.test_fraction}
  try:
    report = homology_split.split_homology(
        args.target_fasta, args.query_fasta, args.alignment, args.out_dir,
        names=tuple(args.names), region_size=args.region_size,
        min_aligned_bp=args.min_aligned_bp, fractions=fractions,
        seed=args.seed, target_chroms=args.target_chroms,
        query_chroms=args.query_chroms, baseline_chroms=baseline,
        overwrite=args.overwrite)
  except (ValueError, OSError) as error:
    return common.fail(PROG, error)
  if not args.quiet:
    print(f'Wrote {args.out_dir}: ' + ', '.join(
        f'{name}.bed' for name in args.names) + ', report.json')
    print(homology_split.format_report(report))
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
