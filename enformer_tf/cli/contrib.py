"""`enformer-contrib`: contribution scores over a region, as arrays and PNGs.

    enformer-contrib --model model.keras --fasta genome.fa \\
        --region chr3:120000-120014 --head human \\
        --targets targets.txt --tracks cage_promoter \\
        --method grad --method ism --method attention --out_dir contrib

The region (0-based half-open, like BED) is centred in the model's input
window, read from the FASTA with `N` beyond chromosome ends, and explained
through the mean prediction of the chosen tracks over the chosen output bins
(`--bins`, default the bins overlapping the region); see
`enformer_tf.genomics.contribution`. Methods (`--method`, repeatable, or
`all`; default `grad`):

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
import argparse
import json
import os
import re
import shutil
import sys
import uuid
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from enformer_tf.constants import BIN_SIZE
from enformer_tf.genomics import cli_args

PROG = 'enformer-contrib'
METHODS = ('grad', 'ism', 'attention')
# A default ISM window (the region) wider than this needs an explicit
# --ism_window: every base costs three forward passes.
MAX_DEFAULT_ISM_BP = 1000

_GENOMIC = re.compile(
    r'^(?P<chrom>[^\s:]+):(?P<start>[0-9][0-9,_]*)-(?P<end>[0-9][0-9,_]*)$')
_OFFSETS = re.compile(r'^(?P<start>[0-9]+):(?P<end>[0-9]+)$')


class Region(NamedTuple):
  """`[start, end)` on `chrom`, 0-based (works with `resize_interval`)."""
  chrom: str
  start: int
  end: int

  def __str__(self) -> str:
    return f'{self.chrom}:{self.start}-{self.end}'


def build_parser() -> argparse.ArgumentParser:
  parser = cli_args.OneLineErrorParser(
      prog=PROG,
      description='Contribution scores of an Enformer prediction over a '
      'genome region: gradient x input, in-silico mutagenesis and attention '
      'maps, saved as arrays with coordinates and as PNGs.')
  parser.add_argument('--model', required=True, metavar='PATH',
                      help='a .keras file, an enformer-train directory or a '
                      'checkpoint prefix in one')
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
                      help=f'{", ".join(METHODS)} or all (repeatable; '
                      'default grad)')
  parser.add_argument('--ism_window', metavar='WINDOW',
                      help='bases to mutate: CHR:START-END in the genome or '
                      'A:B offsets into the input sequence, inside the '
                      f'input window (default: the region, if at most '
                      f'{MAX_DEFAULT_ISM_BP} bp)')
  parser.add_argument('--batch_size', type=int, default=8,
                      help='mutants per model call in ISM (default 8)')
  parser.add_argument('--out_dir', required=True, metavar='DIR',
                      help='output directory (must not exist or be empty, '
                      'unless --overwrite)')
  parser.add_argument('--overwrite', action='store_true',
                      help='replace a non-empty --out_dir')
  return parser


# -- Parsing -------------------------------------------------------------------


def parse_region(text: str, what: str = '--region') -> Region:
  """`'chr1:1,000-2,000'` -> `Region('chr1', 1000, 2000)` (0-based)."""
  match = _GENOMIC.match(str(text).strip())
  if not match:
    raise ValueError(f'{what} {text!r} is not CHR:START-END (e.g. '
                     'chr1:10000-10100, 0-based half-open).')
  start, end = (int(re.sub('[,_]', '', match[k])) for k in ('start', 'end'))
  if end <= start:
    raise ValueError(f'{what} {text!r} has END <= START.')
  return Region(match['chrom'], start, end)


def parse_methods(values: Optional[Sequence[str]]) -> List[str]:
  """`['grad', 'ism']`, `['all']` -> methods in `METHODS` order."""
  chosen = set()
  for value in values or ['grad']:
    for item in (part.strip() for part in value.split(',')):
      if item == 'all':
        chosen.update(METHODS)
      elif item in METHODS:
        chosen.add(item)
      else:
        raise ValueError(f'--method {item!r} is not one of '
                         f'{", ".join(METHODS)} or all.')
  return [m for m in METHODS if m in chosen]


def parse_bins(text: str, num_bins: int) -> range:
  """`'2:5'` -> `range(2, 5)`, `'3'` -> `range(3, 4)`, within the bins."""
  match = re.match(r'^(\d+)(?::(\d+))?$', text.strip())
  if not match:
    raise ValueError(f'--bins {text!r} is not A:B or A (0-based output '
                     'bins).')
  start = int(match[1])
  end = int(match[2]) if match[2] is not None else start + 1
  if not 0 <= start < end <= num_bins:
    raise ValueError(f'--bins {text!r} is outside the model\'s {num_bins} '
                     f'output bins: expected 0 <= A < B <= {num_bins}.')
  return range(start, end)


def parse_ism_window(text: str, window: Region) -> Tuple[int, int]:
  """`--ism_window` -> `(start, end)` offsets into the input window.

  Args:
    text: `CHR:START-END` in the genome or `A:B` offsets into the input.
    window: the model's input window.

  Raises:
    ValueError: neither form, or not inside the input window.
  """
  length = window.end - window.start
  offsets = _OFFSETS.match(text.strip())
  if offsets:
    start, end = int(offsets['start']), int(offsets['end'])
    if not 0 <= start < end <= length:
      raise ValueError(f'--ism_window {text!r} is not inside the input '
                       f'sequence: expected offsets 0 <= A < B <= {length}.')
    return start, end
  region = parse_region(text, '--ism_window')
  if region.chrom != window.chrom or not (
      window.start <= region.start and region.end <= window.end):
    raise ValueError(f'--ism_window {text} is not inside the input window '
                     f'{window}.')
  return region.start - window.start, region.end - window.start


# -- Running -------------------------------------------------------------------


def _check_out_dir(path: str, overwrite: bool) -> str:
  out_dir = os.path.abspath(path)
  if os.path.isfile(out_dir) or (os.path.isdir(out_dir) and os.listdir(
      out_dir) and not overwrite):
    raise ValueError(f'--out_dir {path} exists and is not an empty '
                     'directory; pass --overwrite to replace it.')
  ancestor = os.path.dirname(out_dir)
  while not os.path.exists(ancestor):
    ancestor = os.path.dirname(ancestor)
  if not os.path.isdir(ancestor):
    raise ValueError(f'--out_dir {path} cannot be made: {ancestor} is a '
                     'file, not a directory.')
  return out_dir


def _read_window(fasta_path: str, region: Region, sequence_length: int
                 ) -> Tuple[Region, np.ndarray]:
  """The input window centred on `region` and its one-hot `[L, 4]`."""
  from enformer_tf.data import encoding, genome
  with genome.FastaExtractor(fasta_path) as fasta:
    fasta.check_chromosome(region.chrom)
    size = fasta.chromosome_sizes[region.chrom]
    if region.start >= size:
      raise ValueError(f'--region {region} starts past the end of '
                       f'{region.chrom} ({size:,} bp).')
    window = genome.resize_interval(region, sequence_length)
    sequence = fasta.extract(window)
  return window, encoding.one_hot_encode(sequence)


def _default_bins(region: Region, bin_starts: np.ndarray) -> range:
  """The output bins overlapping `region`."""
  overlapping = np.flatnonzero((bin_starts < region.end) &
                               (bin_starts + BIN_SIZE > region.start))
  if not len(overlapping):
    raise ValueError(f'--region {region} overlaps none of the output bins '
                     f'({bin_starts[0]}-{bin_starts[-1] + BIN_SIZE}); give '
                     '--bins.')
  return range(int(overlapping[0]), int(overlapping[-1]) + 1)


def run(args: argparse.Namespace) -> dict:
  """Computes and writes what `args` asks for; returns a summary."""
  from enformer_tf import atomic
  from enformer_tf.data import targets as targets_lib
  from enformer_tf import io as models
  from enformer_tf.genomics import contribution

  methods = parse_methods(args.method)
  region = parse_region(args.region)
  if args.batch_size < 1:
    raise ValueError(f'--batch_size must be positive, got {args.batch_size}.')
  out_dir = _check_out_dir(args.out_dir, args.overwrite)
  identifiers = None
  if args.targets:
    identifiers = [t.identifier for t in targets_lib.read_targets(
        args.targets, required_columns=('identifier',))]

  model = models.load_model(args.model)
  num_tracks = contribution.check_head(model, args.head)
  if identifiers is not None and len(identifiers) != num_tracks:
    raise ValueError(f'{args.targets} lists {len(identifiers)} tracks but '
                     f'head {args.head!r} has {num_tracks}; is it the '
                     'targets file of this head?')
  if model.sequence_length is None:
    raise ValueError('The model has no fixed sequence_length, so the input '
                     'window is undefined; save it with one.')
  if 'attention' in methods and not model.num_transformer_layers:
    raise ValueError('--method attention: the model has no transformer '
                     'layers.')
  length = int(model.sequence_length)
  window, one_hot = _read_window(args.fasta, region, length)
  num_bins = contribution.output_bins(model, length)
  crop_bp = ((length // BIN_SIZE - num_bins) // 2) * BIN_SIZE
  bin_starts = window.start + crop_bp + BIN_SIZE * np.arange(num_bins)
  bins = (parse_bins(args.bins, num_bins) if args.bins
          else _default_bins(region, bin_starts))
  tracks = cli_args.parse_tracks(args.tracks, num_tracks, identifiers)
  mask = contribution.target_mask(num_bins, num_tracks, bins, tracks)
  ism_window = None
  if 'ism' in methods:
    if args.ism_window:
      ism_window = parse_ism_window(args.ism_window, window)
    else:
      start = max(region.start, window.start) - window.start
      end = min(region.end, window.end) - window.start
      if end - start > MAX_DEFAULT_ISM_BP:
        raise ValueError(
            f'--method ism: the region is {end - start:,} bp, which would '
            f'take {3 * (end - start):,} forward passes; choose the bases '
            f'with --ism_window (the default is the region only up to '
            f'{MAX_DEFAULT_ISM_BP} bp).')
      ism_window = (start, end)

  selected = sorted(set(tracks)) if tracks is not None else list(
      range(num_tracks))
  names = [identifiers[t] if identifiers else str(t) for t in selected]
  positions = window.start + np.arange(length)  # [L] genome coordinates
  common = dict(chrom=np.array(window.chrom), mask=mask,
                bin_starts=bin_starts, bins=np.array(list(bins)),
                tracks=np.array(selected), track_names=np.array(names))
  arrays: Dict[str, dict] = {}
  summary = dict(out_dir=out_dir, region=str(region), window=str(window),
                 head=args.head, bins=[bins.start, bins.stop],
                 bin_span=[int(bin_starts[bins.start]),
                           int(bin_starts[bins.stop - 1] + BIN_SIZE)],
                 tracks=selected, track_names=names, methods=methods,
                 files=[])

  if 'grad' in methods:
    result = contribution.gradient_times_input(model, one_hot, args.head,
                                               mask)
    arrays['grad_x_input'] = dict(
        scores=result.scores, contributions=result.contributions,
        gradients=result.gradients, one_hot=one_hot, positions=positions,
        target=np.float32(result.target), **common)
    summary['target'] = float(result.target)
  if 'ism' in methods:
    result = contribution.in_silico_mutagenesis(
        model, one_hot, args.head, ism_window, mask,
        batch_size=args.batch_size)
    arrays['ism'] = dict(
        effects=result.effects, mean_effect=result.mean_effect,
        reference=result.reference,
        positions=positions[ism_window[0]:ism_window[1]],
        reference_score=np.float32(result.reference_score), **common)
    summary['target'] = result.reference_score
    summary['ism_window'] = (
        f'{window.chrom}:{window.start + ism_window[0]}-'
        f'{window.start + ism_window[1]}')
    summary['mutants'] = int((1 - result.reference).sum())
  if 'attention' in methods:
    maps = contribution.attention_maps(model, one_hot)
    arrays['attention'] = {f'layer_{i}': m for i, m in enumerate(maps)}
    arrays['attention'].update(
        chrom=np.array(window.chrom),
        bin_starts=window.start + BIN_SIZE * np.arange(length // BIN_SIZE))
    summary['attention_layers'] = len(maps)

  parent = os.path.dirname(out_dir)
  os.makedirs(parent, exist_ok=True)
  work = os.path.join(parent, f'.{os.path.basename(out_dir)}.tmp-'
                      f'{uuid.uuid4().hex[:8]}')
  os.makedirs(work)
  try:
    summary['files'] = _write_outputs(work, arrays, summary, region)
    with open(os.path.join(work, 'contrib.json'), 'w', encoding='utf-8') as f:
      json.dump(summary, f, indent=1)
    summary['files'].append('contrib.json')
    atomic.swap_into_place(work, out_dir)
  except BaseException:
    shutil.rmtree(work, ignore_errors=True)
    raise
  return summary


def _write_outputs(work: str, arrays: Dict[str, dict], summary: dict,
                   region: Region) -> List[str]:
  """Writes the `.npz` files and PNGs into `work`; returns their names."""
  from enformer_tf.genomics import contribution_plots as plots
  written = []
  explained = (f'{summary["head"]} {",".join(summary["track_names"])}, bins '
               f'{summary["bins"][0]}-{summary["bins"][1] - 1}')
  for name, values in arrays.items():
    np.savez(os.path.join(work, f'{name}.npz'), **values)
    written.append(f'{name}.npz')
  if 'grad_x_input' in arrays:
    grad = arrays['grad_x_input']
    positions = grad['positions']
    zoom = (max(region.start, int(positions[0])),
            min(region.end, int(positions[-1]) + 1))
    plots.plot_contribution_track(
        grad['scores'], grad['one_hot'],
        os.path.join(work, 'grad_x_input.png'), positions=positions,
        zoom=zoom, highlight=tuple(summary['bin_span']),
        title=f'gradient x input of {explained} (mean prediction '
        f'{summary["target"]:.3g})', xlabel=f'{region.chrom} position')
    written.append('grad_x_input.png')
  if 'ism' in arrays:
    ism = arrays['ism']
    plots.plot_ism_heatmap(
        ism['effects'], ism['reference'], os.path.join(work, 'ism.png'),
        positions=ism['positions'],
        title=f'in-silico mutagenesis of {explained} (reference '
        f'{float(ism["reference_score"]):.3g})',
        xlabel=f'{region.chrom} position')
    written.append('ism.png')
  if 'attention' in arrays:
    attention = arrays['attention']
    labels = [f'{s:,}' for s in attention['bin_starts']]
    for i in range(summary['attention_layers']):
      name = f'attention_layer_{i}.png'
      plots.plot_attention_maps(
          attention[f'layer_{i}'], os.path.join(work, name),
          bin_labels=labels,
          title=f'attention of transformer layer {i} over '
          f'{summary["window"]} (128-bp bins)')
      written.append(name)
  return written


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import tensorflow as tf

  try:
    summary = run(args)
  except (ValueError, OSError, tf.errors.OpError) as e:
    print(f'{PROG}: error: {cli_args.one_line(e)}', file=sys.stderr)
    return 1
  print(f'{PROG}: {summary["head"]} {", ".join(summary["track_names"])} '
        f'over bins {summary["bins"][0]}-{summary["bins"][1] - 1} '
        f'({summary["window"]} input window)'
        + (f', mean prediction {summary["target"]:.4g}'
           if 'target' in summary else ''))
  if 'mutants' in summary:
    print(f'  ism: {summary["mutants"]} mutants over {summary["ism_window"]}')
  print(f'  wrote {summary["out_dir"]}: {", ".join(summary["files"])}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
