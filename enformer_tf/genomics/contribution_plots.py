"""PNGs of contribution scores: per-base tracks, ISM heat maps, attention.

Uses matplotlib's Agg backend through its object API (no display, pyplot
untouched). Every function writes its PNG atomically (`atomic.atomic_path`:
a temporary file beside it, then `os.replace`) and returns the path.
"""
import os
from typing import Optional, Sequence, Tuple

import numpy as np

from enformer_tf.atomic import atomic_path

BASES = 'ACGT'
# Conventional sequence-logo colours: A green, C blue, G orange, T red.
BASE_COLORS = ('#109648', '#255C99', '#F7B32B', '#D62839')
MAX_LETTER_POSITIONS = 200  # Wider zooms are drawn as bars; letters blur.


def _figure(width: float, height: float):
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  figure = Figure(figsize=(width, height))
  FigureCanvasAgg(figure)
  return figure


def _save(figure, path: str, dpi: int = 110) -> str:
  with atomic_path(path) as temporary:
    figure.savefig(temporary, dpi=dpi, format='png')
  return os.fspath(path)


def _draw_letter(ax, letter: str, x: float, bottom: float, height: float,
                 color: str) -> None:
  """Draws `letter` upright in the box `x +- 0.45`, `bottom + [0, |height|]`."""
  from matplotlib.font_manager import FontProperties
  from matplotlib.patches import PathPatch
  from matplotlib.textpath import TextPath
  from matplotlib.transforms import Affine2D
  text = TextPath((0, 0), letter, size=1,
                  prop=FontProperties(family='DejaVu Sans', weight='bold'))
  extent = text.get_extents()
  transform = (Affine2D()
               .translate(-extent.x0, -extent.y0)
               .scale(0.9 / extent.width, abs(height) / extent.height)
               .translate(x - 0.45, bottom))
  ax.add_patch(PathPatch(transform.transform_path(text), facecolor=color,
                         edgecolor='none'))


def _base_indices(one_hot: np.ndarray) -> np.ndarray:
  """`[W]` base index 0..3 of each row, -1 for all-zero rows (N)."""
  one_hot = np.asarray(one_hot)
  return np.where(one_hot.sum(axis=-1) > 0, one_hot.argmax(axis=-1), -1)


def _draw_contributions(ax, scores: np.ndarray, one_hot: np.ndarray,
                        positions: np.ndarray) -> None:
  """Letters scaled by each base's score when few enough, else bars."""
  bases = _base_indices(one_hot)
  if len(scores) <= MAX_LETTER_POSITIONS:
    for position, score, base in zip(positions, scores, bases):
      if base >= 0 and score != 0:
        _draw_letter(ax, BASES[base], position, min(score, 0.0), score,
                     BASE_COLORS[base])
    low, high = min(scores.min(), 0.0), max(scores.max(), 0.0)
    pad = 0.05 * (high - low or 1.0)
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlim(positions[0] - 0.5, positions[-1] + 0.5)
  else:
    colors = [BASE_COLORS[b] if b >= 0 else '0.6' for b in bases]
    ax.bar(positions, scores, width=1.0, color=colors, linewidth=0)
  ax.axhline(0.0, color='0.3', lw=0.5)


def plot_contribution_track(
    scores: np.ndarray, one_hot: np.ndarray, path: str,
    positions: Optional[np.ndarray] = None,
    zoom: Optional[Tuple[int, int]] = None,
    highlight: Optional[Tuple[int, int]] = None,
    title: str = '', xlabel: str = 'position') -> str:
  """Per-base contribution scores: the whole sequence and a zoom.

  Args:
    scores: `[L]` per-base scores (e.g. gradient x input summed over bases).
    one_hot: `[L, 4]`, the sequence (letters and bar colours).
    path: the PNG to write.
    positions: `[L]` coordinate of each base (default `0..L-1`).
    zoom: `(start, end)` in `positions` coordinates, drawn below the whole
      sequence with letters scaled by the score (bars past
      `MAX_LETTER_POSITIONS` bases); `None` draws only the whole sequence.
    highlight: `(start, end)` shaded on the overview (e.g. the bins
      explained).
    title: the figure title.
    xlabel: the x-axis label.

  Returns:
    `path`.

  Raises:
    ValueError: mismatched shapes or a zoom outside `positions`.
  """
  scores = np.asarray(scores, np.float64)
  one_hot = np.asarray(one_hot)
  positions = (np.arange(len(scores)) if positions is None
               else np.asarray(positions))
  if scores.ndim != 1 or one_hot.shape != (len(scores), 4) or (
      positions.shape != scores.shape):
    raise ValueError(f'scores [L], one_hot [L, 4] and positions [L] must '
                     f'match; got {list(scores.shape)}, '
                     f'{list(one_hot.shape)}, {list(positions.shape)}.')
  panels = 1 if zoom is None else 2
  figure = _figure(12, 2.4 * panels + 0.4)
  axes = figure.subplots(panels, 1, squeeze=False)[:, 0]
  overview = axes[0]
  overview.fill_between(positions, scores, step='mid', color='0.35', lw=0)
  overview.axhline(0.0, color='0.3', lw=0.5)
  overview.set_xlim(positions[0], positions[-1])
  overview.set_ylabel('contribution')
  if highlight is not None:
    overview.axvspan(*highlight, color='C1', alpha=0.15, lw=0,
                     label='explained bins')
    overview.legend(loc='upper right', fontsize=8)
  if zoom is not None:
    selected = (positions >= zoom[0]) & (positions < zoom[1])
    if not selected.any():
      raise ValueError(f'zoom {tuple(zoom)} is outside the positions '
                       f'{positions[0]}..{positions[-1]}.')
    overview.axvspan(*zoom, color='C0', alpha=0.15, lw=0)
    _draw_contributions(axes[1], scores[selected], one_hot[selected],
                        positions[selected])
    axes[1].set_ylabel('contribution')
  axes[-1].set_xlabel(xlabel)
  if title:
    figure.suptitle(title, fontsize=10)
  figure.tight_layout()
  return _save(figure, path)


def plot_ism_heatmap(effects: np.ndarray, reference: np.ndarray, path: str,
                     positions: Optional[np.ndarray] = None,
                     title: str = '', xlabel: str = 'position') -> str:
  """The ISM effects as a `[4, W]` heat map, reference bases marked.

  Args:
    effects: `[W, 4]`, mutant - reference for each base (A, C, G, T).
    reference: `[W, 4]`, the reference one-hot (dots mark its bases).
    path: the PNG to write.
    positions: `[W]` coordinate of each position (default `0..W-1`).
    title: the figure title.
    xlabel: the x-axis label.

  Returns:
    `path`.
  """
  effects = np.asarray(effects, np.float64)
  reference = np.asarray(reference)
  if effects.ndim != 2 or effects.shape[1] != 4 or (
      reference.shape != effects.shape):
    raise ValueError(f'effects and reference must both be [W, 4]; got '
                     f'{list(effects.shape)} and {list(reference.shape)}.')
  width = len(effects)
  positions = np.arange(width) if positions is None else np.asarray(positions)
  limit = float(np.abs(effects).max()) or 1.0
  figure = _figure(min(max(8.0, 2 + 0.12 * width), 24), 2.6)
  ax = figure.subplots()
  extent = (positions[0] - 0.5, positions[-1] + 0.5, 3.5, -0.5)
  image = ax.imshow(effects.T, aspect='auto', cmap='RdBu_r', vmin=-limit,
                    vmax=limit, extent=extent, interpolation='nearest')
  bases = _base_indices(reference)
  known = bases >= 0
  ax.scatter(positions[known], bases[known], s=6, c='k', marker='o',
             label='reference base')
  ax.set_yticks(range(4), list(BASES))
  ax.set_xlabel(xlabel)
  figure.colorbar(image, ax=ax, label='mutant - reference', pad=0.01)
  if title:
    ax.set_title(title, fontsize=10)
  figure.tight_layout()
  return _save(figure, path)


def plot_attention_maps(maps: np.ndarray, path: str,
                        bin_labels: Optional[Sequence[str]] = None,
                        title: str = '') -> str:
  """One layer's attention: a heat map per head and their mean.

  Args:
    maps: `[heads, T, T]`, row `i` the weights bin `i` gives every bin.
    path: the PNG to write.
    bin_labels: optional `[T]` labels (e.g. genome coordinates); a few are
      shown as ticks.
    title: the figure title.

  Returns:
    `path`.
  """
  maps = np.asarray(maps, np.float64)
  if maps.ndim != 3 or maps.shape[1] != maps.shape[2]:
    raise ValueError(f'maps must be [heads, T, T]; got {list(maps.shape)}.')
  panels = [(f'head {h}', maps[h]) for h in range(len(maps))]
  panels.append(('mean over heads', maps.mean(axis=0)))
  figure = _figure(3.6 * len(panels), 3.6)
  axes = figure.subplots(1, len(panels), squeeze=False)[0]
  for ax, (name, weights) in zip(axes, panels):
    # A colour scale per panel: a head attending broadly (weights near 1/T)
    # would be invisible on the scale of a sharply attending one.
    image = ax.imshow(weights, cmap='viridis', vmin=0.0,
                      interpolation='nearest')
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
    ax.set_title(name, fontsize=9)
    ax.set_xlabel('key bin')
    if bin_labels is not None:
      ticks = np.linspace(0, len(weights) - 1, min(len(weights), 4)).astype(
          int)
      ax.set_xticks(ticks, [bin_labels[t] for t in ticks], fontsize=6)
  axes[0].set_ylabel('query bin (rows sum to 1)')
  if title:
    figure.suptitle(title, fontsize=10)
  figure.tight_layout()
  return _save(figure, path)
