"""The paper's gene-level evaluation: predicted vs observed expression at TSSs.

Given a genes x tracks matrix of predicted expression and the matching
observed one (`genomics.genes`), both are log-transformed, `log2(1 + x)`
(calico/basenji `basenji_test_genes.py`; the base does not change a
correlation), and correlated two ways (Avsec et al. 2021, Fig. 1b-c):

- across genes: for each track, Pearson and Spearman R over the genes (does
  the model rank genes right in this cell type?); also over the genes with
  observed expression > 0 only, as basenji reports it;
- across tracks: each matrix is quantile-normalised across tracks (every
  track gets the same distribution of values, basenji's `normalize_targets`,
  so that deeply sequenced tracks do not dominate), then each gene is
  centred by subtracting its mean over tracks; for each track, Pearson and
  Spearman R over the genes of these centred values (is the gene higher or
  lower in this cell type than in the others, as observed?). Needs two
  tracks or more.

Tracks whose values do not vary over the genes get R = NaN (reported, not
dropped). `evaluate_genes` returns the tables; `write_evaluation` writes
them as TSV with scatter plots, and `compare_evaluations` puts two models'
evaluations on the same genes side by side (the paper's Fig. 1b view).
"""
import dataclasses
import math
import os
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np

from enformer_tf import atomic

TRACK_COLUMNS = ('track', 'num_genes', 'pearson_r', 'spearman_r',
                 'num_expressed', 'pearson_r_expressed',
                 'pearson_r_across_tracks', 'spearman_r_across_tracks')


def log_expression(values: np.ndarray) -> np.ndarray:
  """`log2(1 + x)`, float64; negative inputs are an error."""
  values = np.asarray(values, np.float64)
  if np.any(values < 0):
    raise ValueError('Expression values must be >= 0 (counts or predicted '
                     'counts); got negative values.')
  return np.log2(1.0 + values)


def quantile_normalize(matrix: np.ndarray) -> np.ndarray:
  """Columns given the same distribution: the mean of the sorted columns.

  `matrix` `[genes, tracks]`; each column's k-th smallest value becomes the
  mean over columns of their k-th smallest values (ties broken by order, as
  `np.argsort` does).
  """
  matrix = np.asarray(matrix, np.float64)
  reference = np.sort(matrix, axis=0).mean(axis=1)  # [genes]
  ranks = np.argsort(np.argsort(matrix, axis=0, kind='stable'), axis=0,
                     kind='stable')  # [genes, tracks]
  return reference[ranks]


def _correlations(x: np.ndarray, y: np.ndarray):
  """(Pearson, Spearman) of two vectors; NaN if either is constant or
  shorter than 3."""
  from scipy import stats  # pylint: disable=g-import-not-at-top

  if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
    return math.nan, math.nan
  return (float(stats.pearsonr(x, y)[0]), float(stats.spearmanr(x, y)[0]))


def _across_tracks_values(log_values: np.ndarray) -> np.ndarray:
  normalized = quantile_normalize(log_values)
  return normalized - normalized.mean(axis=1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class GeneEvaluation:
  """Per-track correlations of one model's gene expression.

  Attributes:
    tracks: one dict per track with the keys of `TRACK_COLUMNS`.
    gene_ids: the genes evaluated, in row order of the matrices.
    predicted, observed: `log2(1 + x)` matrices `[genes, tracks]`.
  """
  tracks: List[Dict[str, object]]
  gene_ids: List[str]
  predicted: np.ndarray
  observed: np.ndarray

  def summary(self) -> Dict[str, float]:
    """Means over tracks of every correlation column (NaNs left out)."""
    result = {'num_genes': len(self.gene_ids), 'num_tracks': len(self.tracks)}
    for column in TRACK_COLUMNS[2:]:
      if column == 'num_expressed':
        continue
      values = [row[column] for row in self.tracks
                if not math.isnan(row[column])]
      result[f'mean_{column}'] = (float(np.mean(values)) if values
                                  else math.nan)
    return result


def evaluate_genes(predicted: np.ndarray, observed: np.ndarray,
                   gene_ids: Sequence[str],
                   track_names: Sequence[str]) -> GeneEvaluation:
  """Correlations of predicted and observed expression; see the module doc.

  Args:
    predicted: `[genes, tracks]` predicted expression (sums at TSS bins).
    observed: `[genes, tracks]` observed expression, same genes and tracks.
    gene_ids: one id per row.
    track_names: one name per column.

  Raises:
    ValueError: shapes that disagree, negative values, fewer than 3 genes.
  """
  predicted = np.asarray(predicted, np.float64)
  observed = np.asarray(observed, np.float64)
  if predicted.shape != observed.shape or predicted.ndim != 2:
    raise ValueError(f'predicted {predicted.shape} and observed '
                     f'{observed.shape} must be the same [genes, tracks] '
                     'shape.')
  if predicted.shape != (len(gene_ids), len(track_names)):
    raise ValueError(f'Matrices of shape {predicted.shape} for '
                     f'{len(gene_ids)} genes and {len(track_names)} tracks.')
  if len(gene_ids) < 3:
    raise ValueError(f'{len(gene_ids)} genes: correlations need at least 3.')
  log_predicted, log_observed = (log_expression(predicted),
                                 log_expression(observed))
  if len(track_names) > 1:
    across_predicted = _across_tracks_values(log_predicted)
    across_observed = _across_tracks_values(log_observed)
  rows = []
  for t, name in enumerate(track_names):
    x, y = log_predicted[:, t], log_observed[:, t]
    pearson, spearman = _correlations(x, y)
    expressed = y > 0
    pearson_expressed, _ = _correlations(x[expressed], y[expressed])
    if len(track_names) > 1:
      pearson_across, spearman_across = _correlations(
          across_predicted[:, t], across_observed[:, t])
    else:
      pearson_across = spearman_across = math.nan
    rows.append(dict(zip(TRACK_COLUMNS, (
        str(name), len(gene_ids), pearson, spearman, int(expressed.sum()),
        pearson_expressed, pearson_across, spearman_across))))
  return GeneEvaluation(rows, [str(g) for g in gene_ids], log_predicted,
                        log_observed)


def _format(value) -> str:
  if isinstance(value, float):
    return 'nan' if math.isnan(value) else f'{value:.6g}'
  return str(value)


def _write_tsv(path: str, columns: Sequence[str],
               rows: Sequence[Mapping[str, object]]) -> str:
  lines = ['\t'.join(columns)] + [
      '\t'.join(_format(row[c]) for c in columns) for row in rows]
  atomic.write_atomically(path, '\n'.join(lines) + '\n')
  return path


def scatter_plot(evaluation: GeneEvaluation, track: int, path: str,
                 title: str = '') -> str:
  """PNG of log2(1 + predicted) vs log2(1 + observed) for one track."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  row = evaluation.tracks[track]
  figure, axes = plt.subplots(figsize=(4.2, 4.0), dpi=100)
  axes.scatter(evaluation.observed[:, track], evaluation.predicted[:, track],
               s=8, alpha=0.5, linewidths=0)
  axes.set_xlabel('observed, log2(1 + x)')
  axes.set_ylabel('predicted, log2(1 + x)')
  axes.set_title(title or f'{row["track"]}: R = {_format(row["pearson_r"])} '
                 f'({row["num_genes"]} genes)', fontsize=9)
  figure.tight_layout()
  with atomic.atomic_path(path) as temporary:
    figure.savefig(temporary, format='png')
  plt.close(figure)
  return path


def write_evaluation(evaluation: GeneEvaluation, out_dir: str,
                     plot_tracks: Optional[Sequence[int]] = None,
                     prefix: str = '') -> Dict[str, str]:
  """Writes `{prefix}tracks.tsv`, `{prefix}summary.tsv`,
  `{prefix}genes.tsv` (log values per gene) and scatter plots
  `{prefix}scatter_{track}.png` for `plot_tracks` (default: the first
  four); returns name -> path."""
  os.makedirs(out_dir, exist_ok=True)
  names = [row['track'] for row in evaluation.tracks]
  paths = {'tracks': _write_tsv(os.path.join(out_dir, f'{prefix}tracks.tsv'),
                                TRACK_COLUMNS, evaluation.tracks)}
  summary = evaluation.summary()
  paths['summary'] = _write_tsv(os.path.join(out_dir, f'{prefix}summary.tsv'),
                                list(summary), [summary])
  gene_rows = []
  for g, gene_id in enumerate(evaluation.gene_ids):
    row = {'gene_id': gene_id}
    for t, name in enumerate(names):
      row[f'predicted_{name}'] = float(evaluation.predicted[g, t])
      row[f'observed_{name}'] = float(evaluation.observed[g, t])
    gene_rows.append(row)
  paths['genes'] = _write_tsv(os.path.join(out_dir, f'{prefix}genes.tsv'),
                              list(gene_rows[0]), gene_rows)
  if plot_tracks is None:
    plot_tracks = range(min(4, len(names)))
  for t in plot_tracks:
    key = f'scatter_{names[t]}'
    paths[key] = scatter_plot(
        evaluation, t, os.path.join(out_dir, f'{prefix}{key}.png'))
  return paths


def compare_evaluations(evaluations: Mapping[str, GeneEvaluation],
                        out_dir: str) -> Dict[str, str]:
  """Side by side: one row per track with each model's correlations.

  The evaluations must be of the same genes and tracks (e.g. two models on
  the held-out genes). Writes `comparison.tsv` and, for two models,
  `comparison.png` (per-track Pearson R across genes of one model against
  the other; points above the diagonal favour the second).
  """
  labels = list(evaluations)
  if len(labels) < 2:
    raise ValueError('compare_evaluations needs two evaluations or more.')
  first = evaluations[labels[0]]
  for label in labels[1:]:
    other = evaluations[label]
    if (other.gene_ids != first.gene_ids or
        [r['track'] for r in other.tracks] !=
        [r['track'] for r in first.tracks]):
      raise ValueError(f'Evaluations {labels[0]!r} and {label!r} are not of '
                       'the same genes and tracks.')
  rows = []
  for t, track_row in enumerate(first.tracks):
    row = {'track': track_row['track'], 'num_genes': track_row['num_genes']}
    for label in labels:
      for column in ('pearson_r', 'spearman_r', 'pearson_r_across_tracks'):
        row[f'{column}_{label}'] = evaluations[label].tracks[t][column]
    rows.append(row)
  os.makedirs(out_dir, exist_ok=True)
  paths = {'comparison': _write_tsv(os.path.join(out_dir, 'comparison.tsv'),
                                    list(rows[0]), rows)}
  if len(labels) == 2:
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
    a, b = labels
    x = [r[f'pearson_r_{a}'] for r in rows]
    y = [r[f'pearson_r_{b}'] for r in rows]
    figure, axes = plt.subplots(figsize=(4.2, 4.0), dpi=100)
    axes.scatter(x, y, s=14)
    finite = [v for v in x + y if not math.isnan(v)] or [0.0, 1.0]
    low, high = min(finite + [0.0]), max(finite + [1.0])
    axes.plot([low, high], [low, high], color='grey', linewidth=0.8)
    axes.set_xlabel(f'{a}: Pearson R across genes')
    axes.set_ylabel(f'{b}: Pearson R across genes')
    figure.tight_layout()
    path = os.path.join(out_dir, 'comparison.png')
    with atomic.atomic_path(path) as temporary:
      figure.savefig(temporary, format='png')
    plt.close(figure)
    paths['comparison_plot'] = path
  return paths
