"""`enformer-fit-variant-normalizer`: z-score and PCA normalisers of scores.

    enformer-score-variants ... --vcf background.vcf.gz --h5 background.h5
    enformer-fit-variant-normalizer --h5 background.h5 --stat SAD \\
        --scaler standard --pca 20 --out sad_normalizer.json
    enformer-score-variants ... --normalizer sad_normalizer.json

Fits, on the scores of a background variant set (an HDF5 file of
`enformer-score-variants`), a per-track scaler (`standard`: mean and
standard deviation; `robust`: median and interquartile range) and
optionally a PCA of the scaled scores (the top `--pca` components), with
scikit-learn, and saves them as a versioned JSON file (no pickle). See
`enformer_tf.genomics.variant_normalization` and docs/variant_effects.md.
"""
import sys
from typing import Optional, Sequence

from enformer_tf.cli import common

PROG = 'enformer-fit-variant-normalizer'


def _parser() -> common.Parser:
  parser = common.Parser(PROG, 'Fit per-track scalers and a PCA on the '
                         'scores of background variants.')
  parser.add_argument('--h5', required=True, metavar='FILE',
                      help='scores of the background variants '
                      '(enformer-score-variants --h5)')
  parser.add_argument('--stat', default='SAD',
                      help='the statistic to normalise (default SAD)')
  parser.add_argument('--scaler', default='standard',
                      choices=['standard', 'robust'],
                      help='per-track scaler (default standard)')
  parser.add_argument('--pca', type=int, default=None, metavar='K',
                      help='also fit a PCA and keep the top K components')
  parser.add_argument('--out', required=True, metavar='FILE',
                      help='the normaliser JSON to write')
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  # pylint: disable=g-import-not-at-top  (--help does not wait for sklearn)
  from enformer_tf.genomics import variant_normalization
  try:
    normalizer = variant_normalization.fit_normalizer_to_file(
        args.h5, args.out, args.stat, args.scaler, args.pca)
  except (ValueError, OSError) as e:
    return common.fail(PROG, e)
  pcs = ''
  if normalizer.num_components:
    explained = float(normalizer.explained_variance_ratio.sum())
    pcs = (f', {normalizer.num_components} principal components '
           f'({explained:.1%} of the variance)')
  print(f'{PROG}: fitted a {normalizer.scaler} scaler on '
        f'{normalizer.num_background} variants x '
        f'{len(normalizer.track_names)} tracks of {normalizer.stat}{pcs}; '
        f'wrote {args.out}')
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
