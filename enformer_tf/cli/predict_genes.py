"""`enformer-predict-genes`: predicted expression of every gene at its TSSs.

    enformer-predict-genes --model model.keras --fasta genome.fa \\
        --genes gencode.v44.annotation.gtf.gz --head human \\
        --targets targets.txt --tracks CNhs11250 --out genes.tsv \\
        --h5 genes.h5 --observed observed.tsv

For each gene of the annotation (GTF, GFF3 or TSS BED; protein-coding by
default, `--gene_types all` for every type) the chosen tracks are summed
over the 128-bp bins holding its TSSs (`--flank_bins` more on either side),
each bin once; windows are centred on the TSSs, shared by TSSs within
`--max_tss_offset` bp of each other. The genes x tracks matrix goes to a TSV
(one row per gene: id, name, type, chrom, strand, 0-based TSSs, one column
per track) and optionally HDF5. Rows appear in `OUT.partial` as genes are
finished; `--resume` continues after the genes a failed run wrote.
`--observed` also sums the targets' bigWigs over the same bins, binned as
training targets are. See `enformer_tf.genomics.genes`.
"""
import os
import sys
from typing import Optional, Sequence

from enformer_tf.cli import common

PROG = 'enformer-predict-genes'


def add_gene_arguments(parser: common.Parser) -> None:
  """The options every gene command shares."""
  parser.add_argument('--fasta', required=True, metavar='FILE',
                      help='the genome FASTA')
  parser.add_argument('--genes', required=True, metavar='FILE',
                      help='gene annotation: GTF, GFF3 or TSS BED (plain or '
                      'gzipped)')
  parser.add_argument('--head', required=True,
                      help='the head (organism), e.g. human')
  parser.add_argument('--tracks', metavar='LIST',
                      help='tracks: indices, ranges a-b and (with --targets) '
                      'identifiers, comma-separated (default: all)')
  parser.add_argument('--gene_types', default='protein_coding',
                      metavar='LIST',
                      help='gene types to keep, comma-separated, or "all" '
                      '(default protein_coding)')
  parser.add_argument('--max_tss_offset', type=int, default=0, metavar='BP',
                      help='TSSs within 2x this of each other share a '
                      'window (default 0: each TSS position centred)')
  parser.add_argument('--flank_bins', type=int, default=0,
                      help='bins on either side of each TSS bin to sum too '
                      '(default 0)')
  parser.add_argument('--rc', action='store_true',
                      help='average over the reverse complement')
  parser.add_argument('--batch_size', type=int, default=4,
                      help='windows per model call (default 4)')
  parser.add_argument('--no_progress', action='store_true',
                      help='no progress bar')


def gene_types(text: str) -> Optional[Sequence[str]]:
  """`'all'` -> None (every type), else the comma-separated types."""
  if text.strip().lower() == 'all':
    return None
  types = [t.strip() for t in text.split(',') if t.strip()]
  if not types:
    raise ValueError('--gene_types is empty; give types or "all".')
  return types


def add_output_arguments(parser: common.Parser) -> None:
  """--targets and the outputs of enformer-predict-genes (also
  `enformer-pipeline genes`)."""
  parser.add_argument('--targets', metavar='FILE',
                      help="the head's targets.txt: track names, --tracks "
                      'by name, strand pairs for --rc, and the bigWigs for '
                      '--observed')
  parser.add_argument('--out', required=True, metavar='FILE',
                      help='the genes x tracks TSV to write')
  parser.add_argument('--h5', metavar='FILE',
                      help='also write the matrix to this HDF5 file')
  parser.add_argument('--observed', metavar='FILE',
                      help='also write the observed expression (the '
                      "targets' bigWigs over the same bins) to this TSV")


def _parser() -> common.Parser:
  parser = common.Parser(PROG, __doc__.split('\n')[0].split(': ', 1)[1])
  common.add_model_argument(parser)
  add_gene_arguments(parser)
  add_output_arguments(parser)
  parser.add_argument('--resume', action='store_true',
                      help='continue the OUT.partial of a failed run')
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  import tensorflow as tf
  from enformer_tf.genomics import gene_files

  try:
    paths = gene_files.predict_genes_to_files(
        args.model, args.fasta, args.genes, args.head, args.out, h5=args.h5,
        targets=args.targets, tracks=args.tracks, observed=args.observed,
        gene_types=gene_types(args.gene_types),
        max_tss_offset=args.max_tss_offset, flank_bins=args.flank_bins,
        rc=args.rc, batch_size=args.batch_size, resume=args.resume,
        progress=not args.no_progress)
  except KeyboardInterrupt:
    print(f'{PROG}: interrupted; finished genes are in {args.out}.partial '
          '(--resume continues).', file=sys.stderr)
    return common.EXIT_INTERRUPTED
  except (ValueError, KeyError, OSError, tf.errors.OpError) as e:
    return common.fail(PROG, e)
  print(f'{PROG}: wrote {", ".join(paths.values())}')
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
