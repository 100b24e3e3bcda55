"""`enformer-evaluate-genes`: the paper's gene-level evaluation.

    enformer-evaluate-genes --model model.keras --fasta genome.fa \\
        --genes genes.gtf --head human --targets targets.txt \\
        --split_bed data/human/sequences.bed --out_dir eval_genes
    enformer-evaluate-genes --model enformer=model.keras \\
        --model conv_only=conv.keras ...          # side by side

On the held-out genes (every TSS in a `--split` region of `--split_bed`,
the records' sequences.bed) it predicts each gene's expression (the tracks
summed at its TSS bins) and reads the observed one from the targets'
bigWigs over the same bins, takes log2(1 + x) and reports, per track,
Pearson and Spearman R across genes and, after quantile-normalising across
tracks and centring each gene, across tracks (Avsec et al. 2021, Fig. 1;
calico/basenji basenji_test_genes.py). Writes per model LABEL_tracks.tsv,
LABEL_summary.tsv, LABEL_genes.tsv, LABEL_predicted.tsv and scatter plots,
observed.tsv, and with two models comparison.tsv and comparison.png. See
`enformer_tf.genomics.gene_evaluation`.
"""
import os
import sys
from typing import Dict, Optional, Sequence

from enformer_tf.cli import common
from enformer_tf.cli.predict_genes import add_gene_arguments, gene_types

PROG = 'enformer-evaluate-genes'


def _parser() -> common.Parser:
  parser = common.Parser(PROG, __doc__.split('\n')[0].split(': ', 1)[1])
  parser.add_argument('--model', required=True, action='append',
                      metavar='[LABEL=]PATH',
                      help='a model to evaluate (repeatable, LABEL=PATH to '
                      'name it; default label: model, model2, ...)')
  add_gene_arguments(parser)
  parser.add_argument('--targets', required=True, metavar='FILE',
                      help="the head's targets.txt (its bigWigs are the "
                      'observed expression)')
  parser.add_argument('--split_bed', metavar='FILE',
                      help='BED with the split in column 4 (e.g. the '
                      "records' sequences.bed): evaluate genes held out in "
                      '--split only (default: all genes)')
  parser.add_argument('--split', default='test',
                      help='the split(s) whose genes are evaluated, comma-'
                      'separated, e.g. valid,test (default test)')
  parser.add_argument('--out_dir', required=True, metavar='DIR',
                      help='tables and plots go here')
  return parser


def model_labels(values: Sequence[str]) -> Dict[str, str]:
  """`['a=x.keras', 'y.keras']` -> `{'a': 'x.keras', 'model2': 'y.keras'}`.

  Raises:
    ValueError: a label given twice.
  """
  labels = {}
  for i, value in enumerate(values):
    label, equals, path = value.partition('=')
    if not equals or os.path.exists(value):
      label, path = ('model' if i == 0 else f'model{i + 1}'), value
    if label in labels:
      raise ValueError(f'--model label {label!r} is given twice.')
    labels[label] = path
  return labels


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  import tensorflow as tf
  from enformer_tf.genomics import gene_files

  try:
    result = gene_files.evaluate_genes_to_files(
        model_labels(args.model), args.fasta, args.genes, args.head,
        args.targets, args.out_dir, split_bed=args.split_bed,
        split=[s.strip() for s in args.split.split(',')],
        tracks=args.tracks,
        gene_types=gene_types(args.gene_types),
        max_tss_offset=args.max_tss_offset, flank_bins=args.flank_bins,
        rc=args.rc, batch_size=args.batch_size,
        progress=not args.no_progress)
  except KeyboardInterrupt:
    print(f'{PROG}: interrupted.', file=sys.stderr)
    return common.EXIT_INTERRUPTED
  except (ValueError, KeyError, OSError, tf.errors.OpError) as e:
    return common.fail(PROG, e)
  print(f'{PROG}: {result["num_genes"]} genes')
  for label, summary in result['summaries'].items():
    print(f'{PROG}: {label}: mean Pearson R across genes '
          f'{summary["mean_pearson_r"]:.3f}, across tracks '
          f'{summary["mean_pearson_r_across_tracks"]:.3f} '
          f'({summary["num_tracks"]} tracks)')
  print(f'{PROG}: tables and plots in {args.out_dir}')
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
