"""Contribution scores over a genome region, written as arrays and PNGs
(the work of `enformer-contrib`).

  contributions_to_files('model.keras', 'genome.fa', 'chr3:120000-120014',
                         'human', 'contrib', methods=['grad', 'ism'],
                         targets='targets.txt', tracks='cage_promoter')

The region (0-based half-open, like BED) is centred in the model's input
window, read from the FASTA with `N` beyond chromosome ends, and explained
through the mean prediction of the chosen tracks over the chosen output bins
(default the bins overlapping the region); the methods are those of
`contribution`:

  grad       gradient x input    grad_x_input.npz, grad_x_input.png
  ism        in-silico mutagenesis over the ISM window (default the region)
                                 ism.npz, ism.png
  attention  each transformer layer's attention weights
                                 attention.npz, attention_layer_{i}.png

plus `contrib.json` describing the window, bins, tracks and files. Every
array comes with its genome coordinates (`positions`, `bin_starts`). The
output directory is written whole and then renamed into place
(`atomic.atomic_directory`). Messages name the command's options
(`--region`, `--bins`, `--ism_window`), as the command passes them through
unchanged.
"""
import json
import os
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from enformer_tf import atomic
from enformer_tf import io as models
from enformer_tf.constants import BIN_SIZE
from enformer_tf.data import encoding, genome
from enformer_tf.data import targets as targets_lib
from enformer_tf.genomics import contribution
from enformer_tf.genomics import contribution_plots as plots
from enformer_tf.genomics import tracks as tracks_lib
from enformer_tf.genomics.intervals import Region

METHODS = ('grad', 'ism', 'attention')
# A default ISM window (the region) wider than this needs an explicit
# ISM window: every base costs three forward passes.
MAX_DEFAULT_ISM_BP = 1000

_GENOMIC = re.compile(
    r'^(?P<chrom>[^\s:]+):(?P<start>[0-9][0-9,_]*)-(?P<end>[0-9][0-9,_]*)$')
_OFFSETS = re.compile(r'^(?P<start>[0-9]+):(?P<end>[0-9]+)$')


# -- Parsing -------------------------------------------------------------------


def parse_region(text: str, what: str = '--region') -> Region:
  """`'chr1:1,000-2,000'` -> `Region('chr1', 1000, 2000)` (0-based).

  Like `intervals.parse_region`, with messages naming the option `what`.
  """
  match = _GENOMIC.match(str(text).strip())
  if not match:
    raise ValueError(f'{what} {text!r} is not CHR:START-END (e.g. '
                     'chr1:10000-10100, 0-based half-open).')
  start, end = (int(re.sub('[,_]', '', match[k])) for k in ('start', 'end'))
  if end <= start:
    raise ValueError(f'{what} {text!r} has END <= START.')
  return Region(match['chrom'], start, end)


def parse_methods(values: Optional[Sequence[str]]) -> List[str]:
  """`['grad', 'ism']`, `['all']`, `['grad,ism']` -> methods in `METHODS`
  order; `None` -> `['grad']`."""
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


def check_out_dir(path: str, overwrite: bool) -> str:
  """`path` made absolute, if it may be written: missing or an empty
  directory (any directory with `overwrite`), under a directory.

  Raises:
    ValueError: it may not; checked before the minutes of computing.
  """
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


def read_window(fasta_path: str, region: Region, sequence_length: int
                ) -> Tuple[Region, np.ndarray]:
  """The input window centred on `region` and its one-hot `[L, 4]`."""
  with genome.FastaExtractor(fasta_path) as fasta:
    fasta.check_chromosome(region.chrom)
    size = fasta.chromosome_sizes[region.chrom]
    if region.start >= size:
      raise ValueError(f'--region {region} starts past the end of '
                       f'{region.chrom} ({size:,} bp).')
    window = genome.resize_interval(region, sequence_length)
    sequence = fasta.extract(window)
  return window, encoding.one_hot_encode(sequence)


def default_bins(region: Region, bin_starts: np.ndarray) -> range:
  """The output bins overlapping `region`."""
  overlapping = np.flatnonzero((bin_starts < region.end) &
                               (bin_starts + BIN_SIZE > region.start))
  if not len(overlapping):
    raise ValueError(f'--region {region} overlaps none of the output bins '
                     f'({bin_starts[0]}-{bin_starts[-1] + BIN_SIZE}); give '
                     '--bins.')
  return range(int(overlapping[0]), int(overlapping[-1]) + 1)


def contributions_to_files(model: Union[str, Any], fasta: str, region: str,
                           head: str, out_dir: str, *,
                           methods: Optional[Sequence[str]] = None,
                           targets: Optional[str] = None,
                           tracks: Optional[str] = None,
                           bins: Optional[str] = None,
                           ism_window: Optional[str] = None,
                           batch_size: int = 8,
                           overwrite: bool = False) -> Dict[str, Any]:
  """Computes the contribution scores and writes the output directory.

  Args:
    model: a `.keras` file, an enformer-train directory or a checkpoint
      prefix (read with `enformer_tf.io.load_model`), or a loaded model
      with a fixed `sequence_length`.
    fasta: the genome FASTA.
    region: `CHR:START-END`, 0-based half-open; the input window is
      centred on it.
    head: the head (organism) to explain.
    out_dir: the directory to write; must not exist or be empty unless
      `overwrite`.
    methods: any of `METHODS` or `'all'`, each item possibly a comma-
      separated list (default `['grad']`).
    targets: the head's targets.txt: enables `tracks` by identifier and
      names the tracks in the outputs.
    tracks: the `--tracks` text: indices, ranges and identifiers (default
      all; see `tracks.parse_tracks`).
    bins: output bins to explain, `'A:B'` or `'A'` (default: the bins
      overlapping the region).
    ism_window: bases to mutate, `CHR:START-END` or `A:B` offsets into the
      input (default: the region, if at most `MAX_DEFAULT_ISM_BP` bp).
    batch_size: mutants per model call in ISM.
    overwrite: replace a non-empty `out_dir`.

  Returns:
    The summary written to `contrib.json`, with `out_dir` and `files`.

  Raises:
    ValueError, OSError: bad input (one-line messages); nothing is written.
  """
  methods = parse_methods(methods)
  region = parse_region(region)
  if batch_size < 1:
    raise ValueError(f'--batch_size must be positive, got {batch_size}.')
  out_dir = check_out_dir(out_dir, overwrite)
  identifiers = None
  if targets:
    identifiers = [t.identifier for t in targets_lib.read_targets(
        targets, required_columns=('identifier',))]

  if isinstance(model, (str, os.PathLike)):
    model = models.load_model(model)
  num_tracks = contribution.check_head(model, head)
  if identifiers is not None:
    tracks_lib.check_targets_match(targets, len(identifiers), head,
                                   num_tracks)
  if model.sequence_length is None:
    raise ValueError('The model has no fixed sequence_length, so the input '
                     'window is undefined; save it with one.')
  if 'attention' in methods and not model.num_transformer_layers:
    raise ValueError('--method attention: the model has no transformer '
                     'layers.')
  length = int(model.sequence_length)
  window, one_hot = read_window(fasta, region, length)
  num_bins = contribution.output_bins(model, length)
  crop_bp = ((length // BIN_SIZE - num_bins) // 2) * BIN_SIZE
  bin_starts = window.start + crop_bp + BIN_SIZE * np.arange(num_bins)
  bins = (parse_bins(bins, num_bins) if bins
          else default_bins(region, bin_starts))
  indices = tracks_lib.parse_tracks(tracks, num_tracks, identifiers)
  mask = contribution.target_mask(num_bins, num_tracks, bins, indices)
  ism_offsets = None
  if 'ism' in methods:
    if ism_window:
      ism_offsets = parse_ism_window(ism_window, window)
    else:
      start = max(region.start, window.start) - window.start
      end = min(region.end, window.end) - window.start
      if end - start > MAX_DEFAULT_ISM_BP:
        raise ValueError(
            f'--method ism: the region is {end - start:,} bp, which would '
            f'take {3 * (end - start):,} forward passes; choose the bases '
            f'with --ism_window (the default is the region only up to '
            f'{MAX_DEFAULT_ISM_BP} bp).')
      ism_offsets = (start, end)

  selected = sorted(set(indices)) if indices is not None else list(
      range(num_tracks))
  names = [identifiers[t] if identifiers else str(t) for t in selected]
  positions = window.start + np.arange(length)  # [L] genome coordinates
  common = dict(chrom=np.array(window.chrom), mask=mask,
                bin_starts=bin_starts, bins=np.array(list(bins)),
                tracks=np.array(selected), track_names=np.array(names))
  arrays: Dict[str, dict] = {}
  summary = dict(out_dir=out_dir, region=str(region), window=str(window),
                 head=head, bins=[bins.start, bins.stop],
                 bin_span=[int(bin_starts[bins.start]),
                           int(bin_starts[bins.stop - 1] + BIN_SIZE)],
                 tracks=selected, track_names=names, methods=methods,
                 files=[])

  if 'grad' in methods:
    result = contribution.gradient_times_input(model, one_hot, head, mask)
    arrays['grad_x_input'] = dict(
        scores=result.scores, contributions=result.contributions,
        gradients=result.gradients, one_hot=one_hot, positions=positions,
        target=np.float32(result.target), **common)
    summary['target'] = float(result.target)
  if 'ism' in methods:
    result = contribution.in_silico_mutagenesis(
        model, one_hot, head, ism_offsets, mask, batch_size=batch_size)
    arrays['ism'] = dict(
        effects=result.effects, mean_effect=result.mean_effect,
        reference=result.reference,
        positions=positions[ism_offsets[0]:ism_offsets[1]],
        reference_score=np.float32(result.reference_score), **common)
    summary['target'] = result.reference_score
    summary['ism_window'] = (
        f'{window.chrom}:{window.start + ism_offsets[0]}-'
        f'{window.start + ism_offsets[1]}')
    summary['mutants'] = int((1 - result.reference).sum())
  if 'attention' in methods:
    maps = contribution.attention_maps(model, one_hot)
    arrays['attention'] = {f'layer_{i}': m for i, m in enumerate(maps)}
    arrays['attention'].update(
        chrom=np.array(window.chrom),
        bin_starts=window.start + BIN_SIZE * np.arange(length // BIN_SIZE))
    summary['attention_layers'] = len(maps)

  with atomic.atomic_directory(out_dir) as work:
    summary['files'] = write_outputs(work, arrays, summary, region)
    with open(os.path.join(work, 'contrib.json'), 'w', encoding='utf-8') as f:
      json.dump(summary, f, indent=1)
    summary['files'].append('contrib.json')
  return summary


def write_outputs(work: str, arrays: Dict[str, dict], summary: dict,
                  region: Region) -> List[str]:
  """Writes the `.npz` files and PNGs into `work`; returns their names.

  Args:
    work: an existing directory.
    arrays: `{name: {array name: array}}`, one `.npz` each; `grad_x_input`,
      `ism` and `attention` also get their PNGs.
    summary: as `contributions_to_files` builds it (head, track names,
      bins, the explained target, ...), for the titles.
    region: the region explained (zoom of the gradient plot).
  """
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
