"""`enformer-variant-benchmark`: the paper's variant benchmarks on scores.

    enformer-variant-benchmark classify --scores scores.tsv \\
        --labels eqtl_labels.tsv --stats SAD --group cage=cage_promoter \\
        --out classify.json
    enformer-variant-benchmark lasso --scores scores.h5 \\
        --effects mpra.tsv --stats SAD,logD2 --out lasso.json

`classify`: a random forest on the predicted difference vectors of
labelled variants (a TSV `chrom pos ref alt label`, label 0/1), in
stratified cross-validation: auROC and auPRC with bootstrap confidence
intervals, per `--group` of tracks. `lasso`: a cross-validated Lasso from
the scores to measured effects (a TSV `chrom pos ref alt effect`): Pearson
and Spearman correlations of its held-out predictions, beside those of the
single best track. Scores are the TSV or HDF5 of enformer-score-variants;
see `enformer_tf.genomics.variant_benchmarks` and docs/variant_effects.md.
The results are printed as JSON (and written to `--out`).
"""
import json
import sys
from typing import Optional, Sequence

from enformer_tf.cli import common

PROG = 'enformer-variant-benchmark'


def _parser() -> common.Parser:
  parser = common.Parser(PROG, 'Variant classification (random forest) and '
                         'effect regression (Lasso) from variant scores.')
  commands = parser.add_subparsers(dest='command', required=True)
  classify = commands.add_parser('classify', help='random-forest auROC/auPRC')
  lasso = commands.add_parser('lasso', help='cross-validated Lasso')
  for sub in (classify, lasso):
    sub.add_argument('--scores', required=True, metavar='FILE',
                     help='TSV or HDF5 of enformer-score-variants')
    sub.add_argument('--stats', default='SAD', metavar='LIST',
                     help='statistics whose columns are the features '
                     '(default SAD)')
    sub.add_argument('--folds', type=int, default=5,
                     help='cross-validation folds (default 5)')
    sub.add_argument('--seed', type=int, default=0)
    sub.add_argument('--out', metavar='FILE', help='also write the JSON here')
  classify.add_argument('--labels', required=True, metavar='FILE',
                        help='TSV: chrom pos ref alt label (0/1)')
  classify.add_argument('--group', action='append', default=[],
                        metavar='NAME=TRACKS',
                        help='a group of tracks to classify with, e.g. '
                        'cage=cage_promoter,cage_distal (repeatable; '
                        'default all columns)')
  classify.add_argument('--trees', type=int, default=200,
                        help='trees of the forest (default 200)')
  classify.add_argument('--bootstrap', type=int, default=1000,
                        help='bootstrap resamples (default 1000)')
  lasso.add_argument('--effects', required=True, metavar='FILE',
                     help='TSV: chrom pos ref alt effect')
  return parser


def _groups(items: Sequence[str]):
  groups = {}
  for item in items:
    name, eq, tracks = item.partition('=')
    if not eq or not name or not tracks:
      raise ValueError(f'--group {item!r}: expected NAME=TRACK[,TRACK...].')
    groups[name] = [t.strip() for t in tracks.split(',') if t.strip()]
  return groups


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  # pylint: disable=g-import-not-at-top  (--help does not wait for sklearn)
  from enformer_tf import atomic
  from enformer_tf.genomics import variant_benchmark_files as files
  stats = [s.strip() for s in args.stats.split(',') if s.strip()]
  try:
    if args.command == 'classify':
      result = files.classify_from_files(
          args.scores, args.labels, stats, _groups(args.group),
          n_splits=args.folds, n_estimators=args.trees,
          n_bootstrap=args.bootstrap, seed=args.seed)
    else:
      result = files.lasso_from_files(args.scores, args.effects, stats,
                                      n_splits=args.folds, seed=args.seed)
    text = json.dumps(result, indent=1)
    if args.out:
      atomic.write_atomically(args.out, text + '\n')
  except (ValueError, OSError) as e:
    return common.fail(PROG, e)
  print(text)
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
