"""A PNG of predicted tracks over a region, on genome coordinates.

One panel per track, sharing a genomic x-axis: the prediction as a step
plot over its 128-bp bins, optionally the observed signal (a bigWig binned
as the training targets were, `bigwig.bin_coverage`) behind it, the
requested region's ends marked when the prediction is wider, and the parts off
the chromosome (padded with `N`) hatched. Uses matplotlib's Agg backend
through its object API, so it needs no display and leaves pyplot alone.
"""
import os
from typing import Mapping, Optional, Sequence, Union

import numpy as np

from enformer_tf import atomic
from enformer_tf.constants import BIN_SIZE
from enformer_tf.genomics.intervals import IntervalPrediction


def observed_bins(bigwig_path: str, prediction: IntervalPrediction,
                  sum_stat: str = 'sum', scale: float = 1.0,
                  clip: Optional[float] = None,
                  clip_soft: Optional[float] = None) -> np.ndarray:
  """A bigWig binned over `prediction`'s bins: float32 `[bins]`.

  Binned like the training targets (`bigwig.bin_coverage` with the
  track's targets.txt `sum_stat`, `scale`, `clip`, `clip_soft`), so it is
  on the model's scale. Missing data and bases off the chromosome count 0.

  Raises:
    FileNotFoundError: no such file.
    ValueError: not a bigWig, or no such chromosome in it.
  """
  from enformer_tf.data import bigwig as bigwig_lib
  from enformer_tf.data import genome

  bigwig_path = os.fspath(bigwig_path)
  if not os.path.isfile(bigwig_path):
    raise FileNotFoundError(f'bigWig {bigwig_path!r} not found.')
  bigwig = bigwig_lib.open_bigwig(bigwig_path, repr(bigwig_path))
  try:
    sizes = bigwig.chroms()
    if prediction.chrom not in sizes:
      raise ValueError(genome.missing_chromosome_message(
          prediction.chrom, sizes, f'bigWig {bigwig_path!r}'))
    start, end = prediction.start, prediction.end
    coverage = np.full(end - start, np.nan, np.float32)  # [end - start]
    left, right = max(start, 0), min(end, sizes[prediction.chrom])
    if left < right:
      coverage[left - start:right - start] = bigwig.values(
          prediction.chrom, left, right, numpy=True)
  finally:
    bigwig.close()
  return bigwig_lib.bin_coverage(coverage, BIN_SIZE, sum_stat, scale, clip,
                                 clip_soft)


def plot_tracks(prediction: IntervalPrediction, path: str,
                tracks: Optional[Sequence[Union[int, str]]] = None,
                observed: Optional[Mapping[Union[int, str],
                                           np.ndarray]] = None,
                labels: Optional[Mapping[Union[int, str], str]] = None,
                title: Optional[str] = None, dpi: int = 110) -> str:
  """Writes a PNG of `tracks` of `prediction` with a genomic x-axis.

  Args:
    prediction: an `IntervalPrediction`.
    path: the PNG to write.
    tracks: columns to plot, by position or name (default all).
    observed: track (position or name) -> observed `[bins]` values over
      the same bins (e.g. `observed_bins`), drawn behind the prediction.
    labels: track -> panel label (e.g. the targets.txt description);
      default the track name.
    title: figure title; default head and region.
    dpi: resolution.

  Returns:
    `path`.
  """
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  from matplotlib.ticker import FuncFormatter

  columns = [prediction.column(t) for t in
             (range(len(prediction.track_names)) if tracks is None
              else tracks)]
  observed = {prediction.column(k): np.asarray(v)
              for k, v in (observed or {}).items()}
  labels = {prediction.column(k): v for k, v in (labels or {}).items()}
  for column, values in observed.items():
    if values.shape != prediction.bin_starts.shape:
      raise ValueError(
          f'observed values for {prediction.track_names[column]!r} have shape '
          f'{values.shape}; expected one per bin, '
          f'{prediction.bin_starts.shape}.')

  figure = Figure(figsize=(10, 0.6 + 1.5 * len(columns)))
  FigureCanvasAgg(figure)
  axes = figure.subplots(len(columns), 1, sharex=True, squeeze=False)[:, 0]
  edges = np.append(prediction.bin_starts, prediction.end)  # [bins + 1]
  region = prediction.region
  for ax, column in zip(axes, columns):
    if column in observed:
      ax.stairs(observed[column], edges, fill=True, color='0.78',
                label='observed')
    ax.stairs(prediction.values[:, column], edges, color='C3', lw=1.2,
              label='predicted')
    if region.start > prediction.start or region.end < prediction.end:
      for x in (region.start, region.end):
        ax.axvline(x, color='C0', lw=0.8, ls='--', label='region')
    for off_start, off_end in ((prediction.start, 0),
                               (prediction.chrom_size, prediction.end)):
      if off_start < off_end:
        ax.axvspan(off_start, off_end, facecolor='none', edgecolor='0.6',
                   hatch='///', lw=0, label='off chromosome (N)')
    ax.set_ylabel(labels.get(column, prediction.track_names[column]),
                  rotation=0, ha='right', va='center', fontsize=9)
    ax.set_ylim(bottom=0 if prediction.values[:, column].min() >= 0
                else None)
    ax.margins(x=0)
    ax.spines[['top', 'right']].set_visible(False)
  handles, names = axes[0].get_legend_handles_labels()
  unique = dict(zip(names, handles))
  axes[0].legend(unique.values(), unique.keys(), loc='lower right',
                 bbox_to_anchor=(1, 1), fontsize=7, frameon=False,
                 ncol=len(unique))
  axes[-1].xaxis.set_major_formatter(
      FuncFormatter(lambda x, _: f'{int(round(x)):,}'))
  axes[-1].set_xlabel(f'{prediction.chrom} position (bp, 0-based)')
  figure.suptitle(title or f'{prediction.head}: {region.label} '
                  f'(predicted bins {prediction.chrom}:{prediction.start:,}-'
                  f'{prediction.end:,})', fontsize=10)
  figure.tight_layout()
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  with atomic.atomic_path(path) as temporary:
    figure.savefig(temporary, dpi=dpi, format='png')
  return path
