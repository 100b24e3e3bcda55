"""`enformer-pipeline`: genome-scale jobs on Apache Beam, sharded and
resumable.

    enformer-pipeline variants --model model.keras --fasta genome.fa \\
        --vcf cohort.vcf.gz --head human --targets targets.txt \\
        --tracks cage_promoter,dnase --out scores.tsv --skipped skipped.tsv \\
        --rc --shifts -1,0,1 --work_dir work/ --workers 4

`variants` scores a VCF as `enformer-score-variants` does (same options,
same TSV byte for byte, same skipped report), cut into work units of
`--records_per_shard` variants run on Beam's RunInference: locally by the
DirectRunner's engine in `--workers` processes, or on any Beam runner with
`--beam_arg=--runner=DataflowRunner --beam_arg=--project=...` (the work
directory must then be shared by the workers). Each worker loads the model
once per local device (`--devices`, default every GPU, else the CPU).

The other jobs take their command's options (but `--resume`) and write
its files byte for byte: `intervals` (enformer-predict; `--windows_per_shard`
input windows per unit), `genes` (enformer-predict-genes;
`--windows_per_shard` gene windows) and `enhancers`
(enformer-prioritize-enhancers; `--genes_per_shard` genes, evaluated once
after the merge). `enformer-pipeline JOB --help` lists a job's options.

`--work_dir` holds the shards, their entries and `manifest.json`. Run the
same command again after a crash: shards whose files match the manifest
(row count and sha256) are kept, only the others are computed. A work
directory of another job (other options, model or inputs) is an error.
`--attempts N` re-runs a failed Beam job up to N times in all, each run
resuming from the shards done (the local runner does not retry bundles).
Needs `pip install 'enformer_tf[beam]'`. Errors are one line on stderr and
a non-zero exit.
"""
import os
import sys
from typing import Optional, Sequence

from enformer_tf.cli import common
from enformer_tf.cli import score_variants

PROG = 'enformer-pipeline'
JOBS = ('variants', 'intervals', 'genes', 'enhancers')


def _add_variant_arguments(parser: common.Parser) -> None:
  common.add_model_argument(parser)
  parser.add_argument('--fasta', required=True, metavar='FILE',
                      help='the genome FASTA')
  parser.add_argument('--vcf', required=True, metavar='FILE',
                      help='the variants: a VCF, plain or gzip/bgzip')
  parser.add_argument('--head', required=True, help='the head, e.g. human')
  parser.add_argument('--out', required=True, metavar='FILE',
                      help='the merged TSV of scores')
  parser.add_argument('--skipped', metavar='FILE',
                      help='write every skipped record to this TSV')
  parser.add_argument('--targets', metavar='FILE',
                      help="the head's targets.txt")
  parser.add_argument('--tracks', metavar='LIST',
                      help='tracks to score, as enformer-score-variants')
  parser.add_argument('--rc', action='store_true',
                      help='average over the reverse complement')
  parser.add_argument('--shifts', default='0', metavar='LIST',
                      help='window shifts in bp, e.g. -1,0,1 (default 0)')
  parser.add_argument('--stats', default='SAD,SAR', metavar='LIST',
                      help='bin statistics (default SAD,SAR)')
  parser.add_argument('--share_windows', type=int, default=None,
                      metavar='BP', help='share windows of substitutions '
                      'within BP of their centre')
  parser.add_argument('--normalizer', metavar='FILE',
                      help='a normaliser JSON: also z-scores and PCs')
  parser.add_argument('--batch_size', type=int, default=8,
                      help='sequences per model call (default 8)')
  parser.add_argument('--sequence_length', type=int, default=None,
                      help='window length, for a model saved without one')


def _add_pipeline_arguments(parser: common.Parser, unit: str, default: int,
                            what: str) -> None:
  """The options of the engine, and `unit`: inputs per work unit."""
  parser.add_argument('--work_dir', required=True, metavar='DIR',
                      help='shards, entries and manifest.json')
  parser.add_argument(f'--{unit}', type=int, default=default,
                      help=f'{what} per work unit (default {default})')
  parser.add_argument('--workers', type=int, default=2,
                      help='local worker processes (default 2)')
  parser.add_argument('--devices', metavar='LIST',
                      help='devices per worker, e.g. /GPU:0,/GPU:1 '
                      '(default every GPU, else the CPU)')
  parser.add_argument('--attempts', type=int, default=1,
                      help='Beam runs at most, each resuming (default 1)')
  parser.add_argument('--beam_arg', action='append', default=[],
                      metavar='ARG', help='a Beam pipeline option, e.g. '
                      '--beam_arg=--runner=DataflowRunner (repeatable)')


def _parser() -> common.Parser:
  # pylint: disable=g-import-not-at-top  (siblings: their argument lists)
  from enformer_tf.cli import predict, predict_genes, prioritize_enhancers
  parser = common.Parser(PROG, __doc__)
  subparsers = parser.add_subparsers(dest='job', required=True,
                                     metavar='JOB', parser_class=common.Parser)
  variants = subparsers.add_parser(
      'variants', help='variant scores of a VCF, as enformer-score-variants')
  _add_variant_arguments(variants)
  _add_pipeline_arguments(variants, 'records_per_shard', 256, 'variants')
  intervals = subparsers.add_parser(
      'intervals', help='predictions over regions, as enformer-predict')
  predict.add_predict_arguments(intervals)
  _add_pipeline_arguments(intervals, 'windows_per_shard', 64,
                          'input windows')
  genes = subparsers.add_parser(
      'genes', help='expression at the TSSs, as enformer-predict-genes')
  common.add_model_argument(genes)
  predict_genes.add_gene_arguments(genes)
  predict_genes.add_output_arguments(genes)
  _add_pipeline_arguments(genes, 'windows_per_shard', 64, 'gene windows')
  enhancers = subparsers.add_parser(
      'enhancers', help='enhancer-gene pair scores, as '
      'enformer-prioritize-enhancers')
  prioritize_enhancers.add_enhancer_arguments(enhancers)
  enhancers.add_argument('--no_progress', action='store_true',
                         help='accepted for the command\'s sake; no bar')
  _add_pipeline_arguments(enhancers, 'genes_per_shard', 8, 'genes')
  return parser


def _make_job(args):
  """The job of the parsed arguments."""
  # pylint: disable=g-import-not-at-top
  from enformer_tf.cli import predict, predict_genes
  from enformer_tf.pipeline import jobs
  if args.job == 'variants':
    return jobs.VariantJob(
        args.model, args.fasta, args.vcf, args.head, args.out,
        skipped=args.skipped, targets=args.targets, tracks=args.tracks,
        rc=args.rc, shifts=tuple(score_variants.parse_shifts(args.shifts)),
        batch_size=args.batch_size, sequence_length=args.sequence_length,
        stats=args.stats, share_windows=args.share_windows,
        normalizer=args.normalizer,
        records_per_shard=args.records_per_shard)
  if args.job == 'intervals':
    from enformer_tf.pipeline import interval_job
    return interval_job.IntervalJob(
        args.model, args.fasta, args.head, args.out_dir,
        regions=tuple(args.region or ()), bed=args.bed,
        targets=args.targets, tracks=args.tracks,
        formats=predict.FORMATS[args.format], overlap=args.overlap,
        plot=args.plot, observed=args.observed, rc=args.rc,
        batch_size=args.batch_size, sequence_length=args.sequence_length,
        overwrite=args.overwrite, windows_per_shard=args.windows_per_shard)
  types = predict_genes.gene_types(args.gene_types)
  types = None if types is None else tuple(types)
  if args.job == 'genes':
    from enformer_tf.pipeline import gene_job
    return gene_job.GeneJob(
        args.model, args.fasta, args.genes, args.head, args.out, h5=args.h5,
        targets=args.targets, tracks=args.tracks, observed=args.observed,
        gene_types=types, max_tss_offset=args.max_tss_offset,
        flank_bins=args.flank_bins, rc=args.rc, batch_size=args.batch_size,
        windows_per_shard=args.windows_per_shard)
  from enformer_tf.pipeline import enhancer_job
  return enhancer_job.EnhancerJob(
      args.model, args.fasta, args.genes, args.pairs, args.head, args.out,
      columns=args.columns, targets=args.targets, tracks=args.tracks,
      gene_types=types, flank_bins=args.flank_bins,
      perturbation=args.perturbation, seed=args.seed,
      batch_size=args.batch_size, n_bootstrap=args.bootstrap,
      genes_per_shard=args.genes_per_shard)


def main(argv: Optional[Sequence[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  args = _parser().parse_args(score_variants.joined_negative_values(argv))
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  import tensorflow as tf
  from enformer_tf.pipeline import driver

  def echo(line):
    print(f'{PROG}: {line}', file=sys.stderr)

  shown = [0]

  def printer(record):  # As enformer-score-variants prints its skips.
    shown[0] += 1
    if shown[0] <= score_variants.MAX_SHOWN_SKIPS:
      echo(f'{args.vcf} {record}; skipped')
    elif shown[0] == score_variants.MAX_SHOWN_SKIPS + 1:
      echo('more records skipped; not shown one by one'
           + ('' if args.skipped else ' (--skipped FILE lists them all)'))

  try:
    job = _make_job(args)
    summary = driver.run_job(job, args.work_dir, num_workers=args.workers,
                             attempts=args.attempts, devices=args.devices,
                             beam_args=args.beam_arg, on_skip=printer,
                             log=echo)
  except driver.PipelineFailed as e:
    return common.fail(PROG, e)
  except KeyboardInterrupt:
    print(f'{PROG}: interrupted; the shards done are kept in '
          f'{args.work_dir}: run again to resume.', file=sys.stderr)
    return common.EXIT_INTERRUPTED
  except (ValueError, KeyError, OSError, ImportError,
          tf.errors.OpError) as e:
    return common.fail(PROG, e)
  print(f'{PROG}: {job.summary(summary.plan).message()}')
  print(f'{PROG}: {len(summary.computed)} shards computed, '
        f'{len(summary.reused)} reused; wrote {", ".join(job.outputs())}'
        f'; manifest {summary.manifest}')
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
