"""`enformer-contrib`: contribution scores over a region, as arrays and PNGs.

    enformer-contrib --model model.keras --fasta genome.fa \\
        --region chr3:120000-120014 --head human \\
        --targets targets.txt --tracks cage_promoter \\
        --method grad --method ism --method attention --out_dir contrib

The region (0-based half-open, like BED) is centred in the model's input
window, read from the FASTA with `N` beyond chromosome ends, and explained
through the mean prediction of the chosen tracks over the chosen output bins
(`--bins`, default the bins overlapping the region); see
`enformer_tf.genomics.contribution` (the work is
`enformer_tf.genomics.contribution_files.contributions_to_files`). Methods
(`--method`, repeatable, or `all`; default `grad`):

  grad       gradient x input    grad_x_input.npz, grad_x_input.png
  ism        in-silico mutagenesis over --ism_window (default the region)
                                 ism.npz, ism.png
  attention  each transformer layer's attention weights
                                 attention.npz, attention_layer_{i}.png

plus `contrib.json` describing the window, bins, tracks and files. Every
array comes with its genome coordinates (`positions`, `bin_starts`). The
output directory is written whole and then renamed into place. Errors are
one line on stderr and a non-zero exit status.
"""
import os
import sys
from typing import Optional, Sequence

from enformer_tf.cli import common

PROG = 'enformer-contrib'


def _parser() -> common.Parser:
  parser = common.Parser(
      PROG, 'Contribution scores of an Enformer prediction over a '
      'genome region: gradient x input, in-silico mutagenesis and attention '
      'maps, saved as arrays with coordinates and as PNGs.')
  common.add_model_argument(parser)
  parser.add_argument('--fasta', required=True, metavar='FILE',
                      help='the genome FASTA (plain or bgzip, indexed on '
                      'first use)')
  parser.add_argument('--region', required=True, metavar='CHR:START-END',
                      help='the region to explain, 0-based half-open; the '
                      "model's input window is centred on it")
  parser.add_argument('--head', required=True,
                      help='the head (organism) to explain, e.g. human')
  parser.add_argument('--targets', metavar='FILE',
                      help="the head's targets.txt: enables --tracks by "
                      'identifier and names the tracks in the outputs')
  parser.add_argument('--tracks', metavar='LIST',
                      help='tracks whose mean prediction is explained: '
                      'indices, ranges a-b and (with --targets) identifiers, '
                      'comma-separated, e.g. 0 or 0-2 or cage_promoter '
                      '(default: all)')
  parser.add_argument('--bins', metavar='A:B',
                      help='output bins to explain, 0-based half-open (A:B) '
                      'or one bin (A) (default: the bins overlapping the '
                      'region)')
  parser.add_argument('--method', action='append', metavar='METHOD',
                      help='grad, ism, attention or all (repeatable; '
                      'default grad)')
  parser.add_argument('--ism_window', metavar='WINDOW',
                      help='bases to mutate: CHR:START-END in the genome or '
                      'A:B offsets into the input sequence, inside the '
                      'input window (default: the region, if at most '
                      '1000 bp)')
  parser.add_argument('--batch_size', type=int, default=8,
                      help='mutants per model call in ISM (default 8)')
  parser.add_argument('--out_dir', required=True, metavar='DIR',
                      help='output directory (must not exist or be empty, '
                      'unless --overwrite)')
  parser.add_argument('--overwrite', action='store_true',
                      help='replace a non-empty --out_dir')
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  import tensorflow as tf
  from enformer_tf.genomics import contribution_files

  try:
    summary = contribution_files.contributions_to_files(
        args.model, args.fasta, args.region, args.head, args.out_dir,
        methods=args.method, targets=args.targets, tracks=args.tracks,
        bins=args.bins, ism_window=args.ism_window,
        batch_size=args.batch_size, overwrite=args.overwrite)
  except (ValueError, OSError, tf.errors.OpError) as e:
    return common.fail(PROG, e)
  print(f'{PROG}: {summary["head"]} {", ".join(summary["track_names"])} '
        f'over bins {summary["bins"][0]}-{summary["bins"][1] - 1} '
        f'({summary["window"]} input window)'
        + (f', mean prediction {summary["target"]:.4g}'
           if 'target' in summary else ''))
  if 'mutants' in summary:
    print(f'  ism: {summary["mutants"]} mutants over {summary["ism_window"]}')
  print(f'  wrote {summary["out_dir"]}: {", ".join(summary["files"])}')
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
