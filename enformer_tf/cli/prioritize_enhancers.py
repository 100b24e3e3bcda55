"""`enformer-prioritize-enhancers`: score CRISPRi element-gene pairs.

    enformer-prioritize-enhancers --model model.keras --fasta hg38.fa \\
        --genes gencode.v44.annotation.gtf.gz --pairs fulco2019.tsv \\
        --columns fulco2019 --head human --targets targets.txt \\
        --tracks CNhs12336 --out enhancers/

For each gene of the pair table the window is centred on its main TSS (the
annotated TSS with the highest predicted CAGE in --tracks) and every
candidate element gets three scores from one forward/backward pass:
gradient x input at the TSS bins summed (absolute) over the element's
bases, attention from the TSS bins to the element's bins (mean over heads
and layers), and the change of the TSS prediction when the element is
shuffled (--perturbation shuffle, seeded) or set to N, plus the distance
baseline. Writes pair_scores.tsv, main_tss.tsv, problems.tsv (every pair
not scored, with its row and reason), evaluation.tsv (auPRC, auROC by
distance, with bootstrap intervals) and pr_curves.png into --out. Genes
are written as they finish; --resume continues a failed run. --columns
takes a preset (encode, fulco2019, gasperini2019) or a mapping
FIELD=COLUMN,... with the fields chrom, start, end, gene, significant and
optionally tss, effect_size, distance, name, one_based. See
enformer_tf.genomics.enhancers.
"""
import os
import sys
from typing import Optional, Sequence

from enformer_tf.cli import common

PROG = 'enformer-prioritize-enhancers'


def add_enhancer_arguments(parser: common.Parser) -> None:
  """The options of enformer-prioritize-enhancers but --resume (also
  `enformer-pipeline enhancers`)."""
  common.add_model_argument(parser)
  parser.add_argument('--fasta', required=True, metavar='FILE',
                      help='the genome FASTA')
  parser.add_argument('--genes', required=True, metavar='FILE',
                      help='gene annotation: GTF, GFF3 or TSS BED')
  parser.add_argument('--pairs', required=True, metavar='FILE',
                      help='the element-gene pair table (TSV or CSV)')
  parser.add_argument('--columns', default='encode', metavar='LAYOUT',
                      help='a layout preset (encode, fulco2019, '
                      'gasperini2019; default encode) or FIELD=COLUMN,...')
  parser.add_argument('--head', required=True,
                      help='the head (organism), e.g. human')
  parser.add_argument('--tracks', required=True, metavar='LIST',
                      help='track(s) to explain: indices or (with --targets) '
                      "identifiers, e.g. the cell type's CAGE")
  parser.add_argument('--targets', metavar='FILE',
                      help="the head's targets.txt (tracks by identifier)")
  parser.add_argument('--gene_types', default='all', metavar='LIST',
                      help='annotation gene types to keep, comma-separated, '
                      'or "all" (default)')
  parser.add_argument('--flank_bins', type=int, default=0,
                      help='bins on either side of the TSS bin (default 0)')
  parser.add_argument('--perturbation', choices=('shuffle', 'N'),
                      default='shuffle',
                      help='replace each element by a seeded shuffle of its '
                      'bases (default) or by N')
  parser.add_argument('--seed', type=int, default=0,
                      help='seed of the shuffles and the bootstrap')
  parser.add_argument('--bootstrap', type=int, default=1000, metavar='N',
                      help='bootstrap resamples for the intervals (default '
                      '1000; 0: none)')
  parser.add_argument('--batch_size', type=int, default=8,
                      help='perturbed sequences per model call (default 8)')
  parser.add_argument('--out', required=True, metavar='DIR',
                      help='the output directory')


def _parser() -> common.Parser:
  parser = common.Parser(PROG, __doc__.split('\n')[0].split(': ', 1)[1])
  add_enhancer_arguments(parser)
  parser.add_argument('--resume', action='store_true',
                      help='continue the *.partial files of a failed run')
  parser.add_argument('--no_progress', action='store_true',
                      help='no progress bar')
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  import tensorflow as tf
  from enformer_tf.cli.predict_genes import gene_types
  from enformer_tf.data import crispri_pairs
  from enformer_tf.genomics import enhancer_files

  try:
    columns = args.columns
    if '=' in columns:
      columns = crispri_pairs.parse_mapping(columns)
    result = enhancer_files.prioritize_enhancers_to_files(
        args.model, args.fasta, args.genes, args.pairs, args.head, args.out,
        columns=columns, targets=args.targets, tracks=args.tracks,
        gene_types=gene_types(args.gene_types), flank_bins=args.flank_bins,
        perturbation=args.perturbation, seed=args.seed,
        batch_size=args.batch_size, resume=args.resume,
        n_bootstrap=args.bootstrap, progress=not args.no_progress)
  except KeyboardInterrupt:
    print(f'{PROG}: interrupted; finished genes are in {args.out}/*.partial '
          '(--resume continues).', file=sys.stderr)
    return common.EXIT_INTERRUPTED
  except (ValueError, KeyError, OSError, tf.errors.OpError) as e:
    return common.fail(PROG, e)
  print(f'{PROG}: scored {result["scored"]} pairs, {result["problems"]} not '
        f'scored (see problems.tsv); wrote '
        f'{", ".join(result["paths"].values())}')
  evaluation = result['evaluation']
  if evaluation is not None:
    shown = evaluation[evaluation['distance_bin'] == 'all']
    for row in shown.itertuples():
      print(f'  {row.score:<13} auPRC {row.auprc:.3f} '
            f'[{row.auprc_low:.3f}, {row.auprc_high:.3f}]  auROC '
            f'{row.auroc:.3f}  chance {row.positive_fraction:.3f}')
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
