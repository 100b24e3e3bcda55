"""`enformer-score-variants`: SAD, SAR and other scores of VCF variants.

    enformer-score-variants --model model.keras --fasta genome.fa \\
        --vcf variants.vcf.gz --head human --targets targets.txt \\
        --tracks cage_promoter,dnase --out scores.tsv --h5 scores.h5 \\
        --rc --shifts -1,0,1

For each variant (plain or bgzipped VCF; one record per ALT allele) the
model predicts the window centred on it with REF and with ALT, and writes
per chosen track SAD (mean over bins of alt - ref) and SAR (mean over bins
of log2(1 + alt) - log2(1 + ref)); see `enformer_tf.genomics.variant_effects`
(the work is `enformer_tf.genomics.variant_files.score_variants_to_files`).
`--rc` and `--shifts` average the predictions over the reverse complement
and over windows moved by a few bp.

`--stats SAD,SAR,D1,D2,logD1,logD2,MAX,JS,logJS` chooses the statistics
(default SAD,SAR; formulas in docs/variant_effects.md). `--genes FILE
--gene_out FILE` also writes, per variant and per gene with a TSS in the
window's output bins, SED and logSED at the gene's TSS bins (a row with gene
`.` for a variant with no gene in range). `--profiles LIST` keeps the ref
and alt predictions of those tracks in the HDF5 file. `--share_windows BP`
predicts one reference for substitutions within BP of a shared window's
centre (indels keep their own windows). `--normalizer FILE` adds z-scores
and principal components against a background
(`enformer-fit-variant-normalizer`).

Records that cannot be scored (malformed lines, symbolic alleles, unknown
chromosomes, a REF that differs from the FASTA) are reported on stderr with
their VCF line and skipped; `--skipped FILE` lists them all. The run goes
on, and ends with `scored N variants, skipped K records (...)`. Outputs are
written batch by batch to `OUT.partial` and renamed when complete; if the
run fails midway, the rows scored so far stay in the `.partial` files and
the error says so. Errors are one line on stderr and a non-zero exit.
"""
import os
import sys
from typing import List, Optional, Sequence

from enformer_tf.cli import common

PROG = 'enformer-score-variants'
MAX_SHOWN_SKIPS = 100  # Skipped records printed one by one; the rest counted.


def _parser() -> common.Parser:
  parser = common.Parser(
      PROG, 'Score the variants of a VCF with an Enformer head: SAD '
      'and SAR per track, to TSV (and HDF5).')
  common.add_model_argument(parser)
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
  parser.add_argument('--stats', default='SAD,SAR', metavar='LIST',
                      help='statistics, comma-separated: SAD, SAR, D1, D2, '
                      'logD1, logD2, MAX, JS, logJS and with --genes SED, '
                      'logSED (default SAD,SAR)')
  parser.add_argument('--genes', metavar='FILE',
                      help='gene annotation (GTF, GFF3 or TSS BED): score '
                      'each gene with a TSS in the window (needs '
                      '--gene_out)')
  parser.add_argument('--gene_out', metavar='FILE',
                      help='the TSV of gene scores (one row per variant and '
                      'gene)')
  parser.add_argument('--gene_types', default='protein_coding',
                      metavar='LIST',
                      help='gene types to keep, comma-separated, or "all" '
                      '(default protein_coding)')
  parser.add_argument('--flank_bins', type=int, default=0,
                      help='bins on either side of each TSS bin to sum too '
                      '(default 0)')
  parser.add_argument('--profiles', metavar='LIST',
                      help='tracks (as --tracks) whose ref and alt '
                      'predictions to write to --h5')
  parser.add_argument('--share_windows', type=int, default=None,
                      metavar='BP',
                      help='substitutions within BP of a shared window\'s '
                      'centre reuse one reference prediction (default: '
                      'each variant its own centred window)')
  parser.add_argument('--normalizer', metavar='FILE',
                      help='a normaliser JSON (enformer-fit-variant-'
                      'normalizer): also write z-scores and principal '
                      'components of its statistic')
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


def joined_negative_values(argv: Sequence[str]) -> List[str]:
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


def _skip_printer(vcf_path: str, listed: bool, echo):
  """`on_skip` for the library: the first `MAX_SHOWN_SKIPS` skipped records
  one line each, then one line saying the rest are not shown."""
  shown = [0]

  def on_skip(record):
    shown[0] += 1
    if shown[0] <= MAX_SHOWN_SKIPS:
      echo(f'{PROG}: {vcf_path} {record}; skipped')
    elif shown[0] == MAX_SHOWN_SKIPS + 1:
      echo(f'{PROG}: more records skipped; not shown one by one'
           + ('' if listed else ' (--skipped FILE lists them all)'))

  return on_skip


def main(argv: Optional[Sequence[str]] = None) -> int:
  argv = sys.argv[1:] if argv is None else argv
  args = _parser().parse_args(joined_negative_values(argv))
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  import tensorflow as tf
  from tqdm import tqdm
  from enformer_tf.cli.predict_genes import gene_types
  from enformer_tf.genomics import score_writers, variant_files
  from enformer_tf.genomics import variant_scoring

  def echo(line):  # Above the progress bar, not through it.
    tqdm.write(line, file=sys.stderr)

  try:
    summary = variant_files.score_variants_to_files(
        args.model, args.fasta, args.vcf, args.head, args.out, h5=args.h5,
        skipped=args.skipped, targets=args.targets, tracks=args.tracks,
        rc=args.rc, shifts=parse_shifts(args.shifts),
        batch_size=args.batch_size, sequence_length=args.sequence_length,
        stats=args.stats, genes=args.genes, gene_out=args.gene_out,
        gene_types=gene_types(args.gene_types), flank_bins=args.flank_bins,
        share_windows=args.share_windows, profiles=args.profiles,
        normalizer=args.normalizer,
        on_skip=_skip_printer(args.vcf, bool(args.skipped), echo),
        progress=not args.no_progress)
  except variant_scoring.ScoringInterrupted as e:
    print(f'{PROG}: error: {e}', file=sys.stderr)
    print(f'{PROG}: {e.num_scored} scored before the failure; '
          f'{e.report.summary()}', file=sys.stderr)
    return common.EXIT_USER_ERROR
  except KeyboardInterrupt:
    kept = [score_writers.partial_path(p)
            for p in (args.out, args.h5, args.gene_out)
            if p and os.path.exists(score_writers.partial_path(p))]
    print(f'{PROG}: interrupted; '
          + (f'the variants scored so far are in {" and ".join(kept)}'
             if kept else 'nothing was written'), file=sys.stderr)
    return common.EXIT_INTERRUPTED
  except (ValueError, OSError, tf.errors.OpError) as e:
    return common.fail(PROG, e)
  print(f'{PROG}: {summary.message()}')
  print(f'{PROG}: wrote {", ".join(summary.outputs)} '
        f'({len(summary.track_names)} tracks: '
        f'{", ".join(summary.track_names[:5])}'
        f'{", ..." if len(summary.track_names) > 5 else ""})')
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
