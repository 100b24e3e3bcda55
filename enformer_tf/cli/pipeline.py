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
JOBS = ('variants',)


def _parser() -> common.Parser:
  parser = common.Parser(PROG, __doc__)
  parser.add_argument('job', choices=JOBS, help='the job to run')
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
  parser.add_argument('--work_dir', required=True, metavar='DIR',
                      help='shards, entries and manifest.json')
  parser.add_argument('--records_per_shard', type=int, default=256,
                      help='variants per work unit (default 256)')
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
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  args = _parser().parse_args(score_variants.joined_negative_values(argv))
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  import tensorflow as tf
  from enformer_tf.pipeline import driver, jobs

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
    job = jobs.VariantJob(
        args.model, args.fasta, args.vcf, args.head, args.out,
        skipped=args.skipped, targets=args.targets, tracks=args.tracks,
        rc=args.rc, shifts=tuple(score_variants.parse_shifts(args.shifts)),
        batch_size=args.batch_size, sequence_length=args.sequence_length,
        stats=args.stats, share_windows=args.share_windows,
        normalizer=args.normalizer,
        records_per_shard=args.records_per_shard)
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
  except (ValueError, OSError, ImportError, tf.errors.OpError) as e:
    return common.fail(PROG, e)
  print(f'{PROG}: {job.summary(summary.plan).message()}')
  print(f'{PROG}: {len(summary.computed)} shards computed, '
        f'{len(summary.reused)} reused; wrote {args.out}'
        + (f', {args.skipped}' if args.skipped else '')
        + f'; manifest {summary.manifest}')
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
