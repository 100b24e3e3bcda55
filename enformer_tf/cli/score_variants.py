"""`enformer-score-variants`: SAD and SAR of the variants of a VCF.

    enformer-score-variants --model model.keras --fasta genome.fa \\
        --vcf variants.vcf.gz --head human --targets targets.txt \\
        --tracks cage_promoter,dnase --out scores.tsv --h5 scores.h5 \\
        --rc --shifts -1,0,1

For each variant (plain or bgzipped VCF; one record per ALT allele) the
model predicts the window centred on it with REF and with ALT, and writes
per chosen track SAD (mean over bins of alt - ref) and SAR (mean over bins
of log2(1 + alt) - log2(1 + ref)); see `enformer_tf.genomics.variant_effects`.
`--rc` and `--shifts` average the predictions over the reverse complement
and over windows moved by a few bp.

Records that cannot be scored (malformed lines, symbolic alleles, unknown
chromosomes, a REF that differs from the FASTA) are reported on stderr with
their VCF line and skipped; `--skipped FILE` lists them all. The run goes
on, and ends with `scored N variants, skipped K records (...)`. Outputs are
written batch by batch to `OUT.partial` and renamed when complete; if the
run fails midway, the rows scored so far stay in the `.partial` files and
the error says so. Errors are one line on stderr and a non-zero exit.
"""
import argparse
import os
import sys
from typing import List, Optional, Sequence

from enformer_tf.genomics import cli_args

PROG = 'enformer-score-variants'
MAX_SHOWN_SKIPS = 100  # Skipped records printed one by one; the rest counted.


def build_parser() -> argparse.ArgumentParser:
  parser = cli_args.OneLineErrorParser(
      prog=PROG,
      description='Score the variants of a VCF with an Enformer head: SAD '
      'and SAR per track, to TSV (and HDF5).')
  parser.add_argument('--model', required=True, metavar='PATH',
                      help='a .keras file, an enformer-train directory or a '
                      'checkpoint prefix in one')
  parser.add_argument('--fasta', required=True, metavar='FILE',
                      help='the genome FASTA the VCF refers to (plain or '
                      'bgzip, indexed on first use)')
  parser.add_argument('--vcf', required=True, metavar='FILE',
                      help='the variants: a VCF, plain or gzip/bgzip')
  parser.add_argument('--head', required=True,
                      help='the head (organism) to score, e.g. human')
  parser.add_argument('--targets', metavar='FILE',
                      help="the head's targets.txt: names the tracks by "
                      'identifier, enables --tracks by name and strand '
                      'pairs for --rc')
  parser.add_argument('--tracks', metavar='LIST',
                      help='tracks to score: indices, ranges a-b and (with '
                      '--targets) identifiers, comma-separated (default: '
                      'all)')
  parser.add_argument('--out', required=True, metavar='FILE',
                      help='the TSV of scores to write')
  parser.add_argument('--h5', metavar='FILE',
                      help='also write the scores to this HDF5 file')
  parser.add_argument('--skipped', metavar='FILE',
                      help='write every skipped record (line, reason, '
                      'message) to this TSV')
  parser.add_argument('--rc', action='store_true',
                      help='average over the reverse complement')
  parser.add_argument('--shifts', default='0', metavar='LIST',
                      help='window shifts in bp to average over, comma-'
                      'separated, |shift| < 128, e.g. -1,0,1 (default 0)')
  parser.add_argument('--batch_size', type=int, default=8,
                      help='sequences per model call (default 8)')
  parser.add_argument('--sequence_length', type=int, default=None,
                      help='window length, for a model saved without one')
  parser.add_argument('--no_progress', action='store_true',
                      help='no progress bar')
  return parser


def parse_shifts(text: str) -> List[int]:
  """`'-1,0,1'` -> `[-1, 0, 1]`.

  Raises:
    ValueError: an item is not an integer.
  """
  shifts = []
  for item in text.split(','):
    try:
      shifts.append(int(item.strip()))
    except ValueError:
      raise ValueError(f'--shifts {text!r}: {item.strip()!r} is not an '
                       'integer; expected e.g. -1,0,1.') from None
  return shifts


def _joined_negative_values(argv: Sequence[str]) -> List[str]:
  """`['--shifts', '-1,0,1']` -> `['--shifts=-1,0,1']`.

  argparse takes a value starting with `-` (other than one plain negative
  number) for an option, so `--shifts -1,0,1` would fail without this.
  """
  argv = list(argv)
  joined = []
  i = 0
  while i < len(argv):
    if argv[i] == '--shifts' and i + 1 < len(argv) and argv[i + 1][:1] == '-':
      joined.append(f'--shifts={argv[i + 1]}')
      i += 2
    else:
      joined.append(argv[i])
      i += 1
  return joined


def _write_skipped(path: str, report) -> None:
  """All skipped records as TSV (`line reason message`), written atomically."""
  from enformer_tf.genomics import score_writers
  path = score_writers.check_output_path(path, '--skipped')
  temporary = score_writers.partial_path(path)
  with open(temporary, 'w', encoding='utf-8') as f:
    f.write('vcf_line\treason\tmessage\n')
    for record in report:
      message = ' '.join(record.message.split())
      f.write(f'{record.line}\t{record.reason}\t{message}\n')
  os.replace(temporary, path)


def run(args: argparse.Namespace, echo=print):
  """Scores what `args` asks for; returns the
  `variant_effects.ScoringSummary`.

  Args:
    args: parsed arguments.
    echo: prints one line to stderr (skipped records, as they come).
  """
  from enformer_tf.data import genome
  from enformer_tf.data import targets as targets_lib
  from enformer_tf import io as models
  from enformer_tf.genomics import score_writers, variant_effects

  if args.batch_size < 1:
    raise ValueError(f'--batch_size must be positive, got {args.batch_size}.')
  shifts = parse_shifts(args.shifts)
  for path, flag in ((args.vcf, '--vcf'), (args.fasta, '--fasta')):
    if not os.path.isfile(path):
      raise FileNotFoundError(f'{flag} {path} not found.')
  if args.skipped:  # Checked now: it is written only after the scoring.
    skipped = score_writers.check_output_path(args.skipped, '--skipped')
    if skipped in (os.path.abspath(p) for p in (args.out, args.h5) if p):
      raise ValueError(f'--skipped {args.skipped} is also an output of the '
                       'scores; give it a file of its own.')
  targets = None
  if args.targets:
    targets = targets_lib.renumber_targets(targets_lib.read_targets(
        args.targets, required_columns=('identifier',)))
  model = models.load_model(args.model)
  heads = getattr(model, 'heads', {})
  if args.head not in heads:
    raise ValueError(f'Unknown head {args.head!r}; the model has heads '
                     f'{sorted(heads)}.')
  num_tracks = heads[args.head]
  identifiers = None
  strand_pairs = None
  if targets is not None:
    if len(targets) != num_tracks:
      raise ValueError(f'{args.targets} lists {len(targets)} tracks but head '
                       f'{args.head!r} has {num_tracks}; is it the targets '
                       'file of this head?')
    identifiers = [t.identifier for t in targets]
    if args.rc and any(t.strand_pair is not None for t in targets):
      strand_pairs = [t.index if t.strand_pair is None else t.strand_pair
                      for t in targets]
  tracks = cli_args.parse_tracks(args.tracks, num_tracks, identifiers)

  shown = [0]

  def on_skip(record):
    shown[0] += 1
    if shown[0] <= MAX_SHOWN_SKIPS:
      echo(f'{PROG}: {args.vcf} {record}; skipped')
    elif shown[0] == MAX_SHOWN_SKIPS + 1:
      echo(f'{PROG}: more records skipped; not shown one by one'
           + ('' if args.skipped else ' (--skipped FILE lists them all)'))

  with genome.FastaExtractor(args.fasta) as fasta:
    try:
      summary = variant_effects.score_vcf(
          model, fasta, args.vcf, args.head, args.out, h5=args.h5,
          tracks=tracks, track_names=identifiers, strand_pairs=strand_pairs,
          rc=args.rc, shifts=shifts, batch_size=args.batch_size,
          sequence_length=args.sequence_length, on_skip=on_skip,
          progress=not args.no_progress)
    except variant_effects.ScoringInterrupted as interrupted:
      if args.skipped:
        _write_skipped(args.skipped, interrupted.report)
      raise
  if args.skipped:
    _write_skipped(args.skipped, summary.report)
  return summary


def main(argv: Optional[Sequence[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  args = build_parser().parse_args(_joined_negative_values(argv))
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import tensorflow as tf
  from tqdm import tqdm
  from enformer_tf.genomics import score_writers, variant_effects

  def echo(line):  # Above the progress bar, not through it.
    tqdm.write(line, file=sys.stderr)

  try:
    summary = run(args, echo)
  except variant_effects.ScoringInterrupted as e:
    print(f'{PROG}: error: {e}', file=sys.stderr)
    print(f'{PROG}: {e.num_scored} scored before the failure; '
          f'{e.report.summary()}', file=sys.stderr)
    return 1
  except KeyboardInterrupt:
    kept = [score_writers.partial_path(p) for p in (args.out, args.h5)
            if p and os.path.exists(score_writers.partial_path(p))]
    print(f'{PROG}: interrupted; '
          + (f'the variants scored so far are in {" and ".join(kept)}'
             if kept else 'nothing was written'), file=sys.stderr)
    return 130
  except (ValueError, OSError, tf.errors.OpError) as e:
    print(f'{PROG}: error: {cli_args.one_line(e)}', file=sys.stderr)
    return 1
  print(f'{PROG}: {summary.message()}')
  print(f'{PROG}: wrote {", ".join(summary.outputs)} '
        f'({len(summary.track_names)} tracks: '
        f'{", ".join(summary.track_names[:5])}'
        f'{", ..." if len(summary.track_names) > 5 else ""})')
  return 0


if __name__ == '__main__':
  sys.exit(main())
