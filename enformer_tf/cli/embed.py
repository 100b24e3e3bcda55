"""`enformer-embed`: Enformer embeddings of regions or TSSs, to HDF5.

    enformer-embed --model model.keras --fasta genome.fa --bed peaks.bed \\
        --out peaks.h5
    enformer-embed --model model.keras --fasta genome.fa \\
        --genes genes.gtf --pooling none --out tss.h5

Each site (a BED region, or a gene's TSS) gets the model's input window
centred on it; the trunk's output (`[bins, 2C]`, the embedding the heads
read) is written per bin (`--pooling none`) or averaged over the bins the
site overlaps (`--pooling mean`, the default; a TSS's own bin). The HDF5
file holds `embeddings` and per-site `chrom`, `start`, `end`, `name`,
`first_bin_start`, ready for a ridge or logistic probe. See
`enformer_tf.genomics.embeddings` and docs/fine_tuning.md.
"""
import os
import sys
from typing import Optional, Sequence

from enformer_tf.cli import common

PROG = 'enformer-embed'


def _parser() -> common.Parser:
  parser = common.Parser(PROG, __doc__.split('\n')[0].split(': ', 1)[1])
  common.add_model_argument(parser)
  parser.add_argument('--fasta', required=True, metavar='FILE',
                      help='the genome FASTA')
  sites = parser.add_mutually_exclusive_group(required=True)
  sites.add_argument('--bed', metavar='FILE',
                     help='regions to embed (BED; column 4 names them)')
  sites.add_argument('--genes', metavar='FILE',
                     help='gene annotation (GTF, GFF3 or TSS BED): embed '
                     'each gene\'s TSS')
  parser.add_argument('--all_tss', action='store_true',
                      help='with --genes: every TSS of a gene, not the first')
  parser.add_argument('--gene_types', default='all', metavar='LIST',
                      help='with --genes: types to keep, comma-separated, '
                      'or "all" (default)')
  parser.add_argument('--pooling', choices=('mean', 'none'), default='mean',
                      help='mean over the site\'s bins (default) or every '
                      'bin')
  parser.add_argument('--batch_size', type=int, default=4,
                      help='windows per model call (default 4)')
  parser.add_argument('--out', required=True, metavar='FILE',
                      help='the HDF5 file to write')
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  import tensorflow as tf
  from enformer_tf.genomics import embeddings

  types = None
  if args.gene_types.strip().lower() != 'all':
    types = [t.strip() for t in args.gene_types.split(',') if t.strip()]
  try:
    count = embeddings.embed_to_file(
        args.model, args.fasta, args.out, bed=args.bed, genes=args.genes,
        pooling=args.pooling, batch_size=args.batch_size,
        all_tss=args.all_tss, gene_types=types)
  except (ValueError, KeyError, OSError, tf.errors.OpError) as e:
    return common.fail(PROG, e)
  print(f'{PROG}: wrote {count} embeddings to {args.out}')
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
