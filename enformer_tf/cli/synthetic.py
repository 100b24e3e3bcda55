"""`enformer-synthetic`: the synthetic two-organism genome with its planted
long-range grammar (FASTA, bigWig tracks, targets.txt, ground truth).

  enformer-synthetic --out_dir data/synthetic [--seed 0]
      [--chrom_sizes 1500000,1000000,500000 | --genome_size_mb 3]

A thin command over `enformer_tf.data.synthetic.make_synthetic_genome`,
whose package documents the genome, the grammar and the files. Prints a
one-line summary; errors are one line on stderr (exit 2 for bad arguments,
1 for bad values); `--out_dir` appears only when complete.
"""
import argparse
import math
import os
import sys
import time
import warnings
from typing import Optional, Sequence

from enformer_tf.cli import common
from enformer_tf.data import synthetic

PROG = 'enformer-synthetic'


class _UsageError(Exception):
  pass


class _Parser(common.Parser):
  """Usage errors as exceptions, so they print as every other error here."""

  def error(self, message):
    raise _UsageError(message)


def _int_pair(text):
  try:
    values = tuple(int(v) for v in text.split(','))
  except ValueError:
    values = ()
  if len(values) != 2:
    raise argparse.ArgumentTypeError(f'expected two integers "MIN,MAX", got '
                                     f'{text!r}')
  return values


def _int_list(text):
  try:
    return tuple(int(v) for v in text.split(','))
  except ValueError:
    raise argparse.ArgumentTypeError(
        f'expected comma-separated integers, got {text!r}') from None


def _parser() -> common.Parser:
  defaults = synthetic.SyntheticGenomeSpec()
  parser = _Parser(
      PROG, 'Write the synthetic two-organism genome: FASTA, bigWig '
      'tracks, Basenji targets.txt and the planted elements (ground truth).')
  parser.add_argument('--out_dir', required=True,
                      help='output directory (must not exist or be empty)')
  parser.add_argument('--seed', type=int, default=0)
  size = parser.add_mutually_exclusive_group()
  size.add_argument('--chrom_sizes', type=_int_list,
                    help='bp per chromosome (default '
                    f'{",".join(map(str, defaults.chrom_sizes))})')
  size.add_argument('--genome_size_mb', type=float,
                    help='total Mb per organism, split K:K-1:..:1 over '
                    '--num_chromosomes')
  parser.add_argument('--num_chromosomes', type=int, default=3)
  parser.add_argument('--organisms', default='human,mouse',
                      help='comma-separated (default human,mouse)')
  parser.add_argument('--promoters_per_mb', type=float,
                      help=f'default {defaults.promoters_per_mb:g}')
  parser.add_argument('--enhancer_distance', type=_int_pair,
                      help='MIN,MAX promoter-enhancer distance in bp '
                      f'(default {defaults.enhancer_distance[0]},'
                      f'{defaults.enhancer_distance[1]})')
  parser.add_argument('--distance_margin', type=int,
                      help='bp around the range kept free of other enhancer '
                      f'motifs (default {defaults.distance_margin})')
  parser.add_argument('--min_element_spacing', type=int,
                      help=f'default {defaults.min_element_spacing}')
  parser.add_argument('--paired_probability', type=float,
                      help=f'default {defaults.paired_probability:g}')
  parser.add_argument('--near_decoy_probability', type=float,
                      help=f'default {defaults.near_decoy_probability:g}')
  parser.add_argument('--far_decoys_per_mb', type=float,
                      help=f'default {defaults.far_decoys_per_mb:g}')
  parser.add_argument('--track_step', type=int,
                      help=f'bp per bigWig value (default '
                      f'{defaults.track_step})')
  parser.add_argument('--homology', action='store_true',
                      help='copy syntenic segments of the first organism '
                      'into the second and write their chain, net and truth '
                      'files (SyntheticGenomeSpec.homology)')
  parser.add_argument('--overwrite', action='store_true',
                      help='replace a non-empty --out_dir')
  return parser


def spec_from_args(args: argparse.Namespace) -> synthetic.SyntheticGenomeSpec:
  """The spec the command-line options ask for (defaults for the rest).

  Raises:
    ValueError: a bad value (the message names the option or field).
  """
  overrides = {k: getattr(args, k) for k in (
      'promoters_per_mb', 'enhancer_distance', 'distance_margin',
      'min_element_spacing', 'paired_probability', 'near_decoy_probability',
      'far_decoys_per_mb', 'track_step')
               if getattr(args, k) is not None}
  if args.chrom_sizes is not None:
    overrides['chrom_sizes'] = args.chrom_sizes
  elif args.genome_size_mb is not None:
    if not (math.isfinite(args.genome_size_mb) and
            args.genome_size_mb > 0):
      raise ValueError('--genome_size_mb must be a positive number, got '
                       f'{args.genome_size_mb}.')
    overrides['chrom_sizes'] = synthetic.chrom_sizes_from_total(
        int(round(args.genome_size_mb * 1e6)), args.num_chromosomes)
  if args.homology:
    names = [o.strip() for o in args.organisms.split(',')]
    overrides['homology'] = synthetic.HomologySpec(
        **dict(zip(('source', 'copy'), names)) if len(names) == 2 else {})
  return synthetic.SyntheticGenomeSpec(seed=args.seed, **overrides)


def _summary(paths):
  parts = []
  for organism, info in paths.items():
    elements = synthetic.read_elements(info['elements'])
    promoters = [e for e in elements if e.kind == 'promoter']
    paired = sum(e.partner is not None for e in promoters)
    decoys = sum(e.kind == 'decoy' for e in elements)
    parts.append(f'{organism} {len(info["tracks"])} tracks, '
                 f'{len(promoters)} promoters ({paired} with enhancer), '
                 f'{decoys} decoys')
  return '; '.join(parts)


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`enformer-synthetic`: writes the dataset, prints a one-line summary."""
  started = time.time()
  try:
    args = _parser().parse_args(argv)
    spec = spec_from_args(args)
    organisms = tuple(o for o in args.organisms.split(',') if o)
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter('always')
      paths = synthetic.make_synthetic_genome(args.out_dir, spec, organisms,
                                              overwrite=args.overwrite)
  except (_UsageError, ValueError, OSError) as error:
    common.fail(PROG, error)
    return (common.EXIT_USAGE if isinstance(error, _UsageError) else
            common.EXIT_USER_ERROR)
  for warning in caught:
    print(f'{PROG}: warning: {warning.message}', file=sys.stderr)
  print(f'{PROG}: wrote {os.path.abspath(args.out_dir)} (seed '
        f'{spec.seed}, {len(spec.chrom_sizes)} chromosomes, '
        f'{sum(spec.chrom_sizes) / 1e6:.2f} Mb per organism): '
        f'{_summary(paths)} in {time.time() - started:.1f} s')
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
