"""How well enhancer-gene scores recover CRISPRi labels: auPRC and auROC.

From a scores table (`enhancer_writer.PairScoreWriter`), for each score
(`gradient`, `attention`, `perturbation` = |perturbation_delta|, and the
`distance` baseline ranked closest first, i.e. the score `-|distance|`):

  auPRC   `sklearn.metrics.average_precision_score(significant, score)`
  auROC   `sklearn.metrics.roc_auc_score(significant, score)`
  chance  the positive fraction (the auPRC of a random ranking; 0.5 for
          auROC)
  CI      a percentile bootstrap: `n_bootstrap` resamples of the pairs with
          replacement (seeded), the 2.5th and 97.5th percentiles of each
          statistic over the resamples that hold both classes (computed by
          `average_precision` and `roc_auc`, NumPy equals of scikit-learn's,
          100x faster)

overall and within distance bins of |distance| (default 0-10, 10-30,
30-100 kb, each `[low, high)`). A bin or score without both classes gets
`nan`. Pairs with a `nan` score (attention of a model without transformer
layers) are left out of that score's rows (`n` says how many were used).
"""
import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

SCORE_NAMES = ('gradient', 'attention', 'perturbation', 'distance')
DISTANCE_BINS = ((0, 10_000), (10_000, 30_000), (30_000, 100_000))
RESULT_COLUMNS = ('score', 'distance_bin', 'n', 'positives',
                  'positive_fraction', 'auprc', 'auprc_low', 'auprc_high',
                  'auroc', 'auroc_low', 'auroc_high')


def read_scores(path: str):
  """A scores TSV as a pandas DataFrame (`significant` as bool)."""
  import pandas as pd  # pylint: disable=g-import-not-at-top
  frame = pd.read_csv(path, sep='\t', dtype={'attention_layers': str},
                      keep_default_na=False, na_values=['nan', ''])
  if 'significant' not in frame or 'distance' not in frame:
    raise ValueError(f'{path} is not a pair scores table (needs the columns '
                     'significant and distance).')
  frame['significant'] = frame['significant'].astype(str).str.upper() == \
      'TRUE'
  return frame


def score_values(frame, name: str) -> np.ndarray:
  """The ranking score `name` of every pair (higher = more likely)."""
  if name == 'distance':
    return -np.abs(frame['distance'].to_numpy(np.float64))
  if name not in frame:
    raise ValueError(f'Unknown score {name!r}; the table has '
                     f'{list(frame.columns)[:20]}.')
  return frame[name].to_numpy(np.float64)


def _statistics(labels: np.ndarray, scores: np.ndarray) -> Tuple[float, float]:
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  if labels.all() or not labels.any():
    return float('nan'), float('nan')
  return (float(metrics.average_precision_score(labels, scores)),
          float(metrics.roc_auc_score(labels, scores)))


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
  """auPRC as `sklearn.metrics.average_precision_score` computes it (one
  threshold per distinct score), in NumPy: fast enough to bootstrap."""
  order = np.argsort(-scores, kind='mergesort')
  labels, scores = labels[order], scores[order]
  true_positives = np.cumsum(labels)
  # The last index of each run of equal scores is a threshold.
  last = np.r_[np.nonzero(np.diff(scores))[0], len(scores) - 1]
  tp = true_positives[last]
  precision = tp / (last + 1)
  recall_step = np.diff(np.r_[0, tp]) / tp[-1]
  return float(np.sum(recall_step * precision))


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
  """auROC (ties count one half), as `sklearn.metrics.roc_auc_score`."""
  from scipy import stats  # pylint: disable=g-import-not-at-top
  ranks = stats.rankdata(scores)
  positives = labels.sum()
  negatives = len(labels) - positives
  return float((ranks[labels].sum() - positives * (positives + 1) / 2) /
               (positives * negatives))


def bootstrap(labels: np.ndarray, scores: np.ndarray, n_bootstrap: int,
              seed: int) -> np.ndarray:
  """`[2 (auPRC, auROC), 2 (low, high)]` percentile intervals (95%)."""
  labels = np.asarray(labels, bool)
  scores = np.asarray(scores, np.float64)
  if n_bootstrap <= 0 or labels.all() or not labels.any():
    return np.full([2, 2], np.nan)
  rng = np.random.default_rng(seed)
  values = []
  for _ in range(n_bootstrap):
    sample = rng.integers(0, len(labels), len(labels))
    chosen = labels[sample]
    if chosen.any() and not chosen.all():
      values.append((average_precision(chosen, scores[sample]),
                     roc_auc(chosen, scores[sample])))
  if not values:
    return np.full([2, 2], np.nan)
  return np.percentile(np.asarray(values), [2.5, 97.5], axis=0).T


def _bin_name(low: int, high: int) -> str:
  return f'{low // 1000}-{high // 1000}kb'


def evaluate_scores(frame, scores: Sequence[str] = SCORE_NAMES,
                    distance_bins: Sequence[Tuple[int, int]] = DISTANCE_BINS,
                    n_bootstrap: int = 1000, seed: int = 0):
  """The `RESULT_COLUMNS` table (pandas) of every score, overall and per
  distance bin."""
  import pandas as pd  # pylint: disable=g-import-not-at-top
  labels_all = frame['significant'].to_numpy(bool)
  distance = np.abs(frame['distance'].to_numpy(np.float64))
  groups = [('all', np.ones(len(frame), bool))] + [
      (_bin_name(lo, hi), (distance >= lo) & (distance < hi))
      for lo, hi in distance_bins]
  rows = []
  for name in scores:
    values = score_values(frame, name)
    for group, selected in groups:
      keep = selected & np.isfinite(values)
      labels, chosen = labels_all[keep], values[keep]
      auprc, auroc = _statistics(labels, chosen)
      ci = bootstrap(labels, chosen, n_bootstrap, seed)
      rows.append(dict(
          score=name, distance_bin=group, n=int(keep.sum()),
          positives=int(labels.sum()),
          positive_fraction=float(labels.mean()) if len(labels) else np.nan,
          auprc=auprc, auprc_low=ci[0, 0], auprc_high=ci[0, 1],
          auroc=auroc, auroc_low=ci[1, 0], auroc_high=ci[1, 1]))
  return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def plot_pr_curves(frame, path: str, scores: Sequence[str] = SCORE_NAMES,
                   distance_bins: Sequence[Tuple[int, int]] = DISTANCE_BINS,
                   title: str = '') -> Optional[str]:
  """Precision-recall curves of each score, one panel overall and one per
  distance bin, with the positive fraction as a dashed line; a PNG."""
  # pylint: disable=g-import-not-at-top
  import matplotlib
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt
  from sklearn import metrics

  labels_all = frame['significant'].to_numpy(bool)
  distance = np.abs(frame['distance'].to_numpy(np.float64))
  groups = [('all pairs', np.ones(len(frame), bool))] + [
      (_bin_name(lo, hi), (distance >= lo) & (distance < hi))
      for lo, hi in distance_bins]
  figure, axes = plt.subplots(1, len(groups), figsize=(4 * len(groups), 4),
                              squeeze=False)
  for axis, (group, selected) in zip(axes[0], groups):
    labels = labels_all[selected]
    for name in scores:
      values = score_values(frame, name)[selected]
      keep = np.isfinite(values)
      if labels[keep].any() and not labels[keep].all():
        precision, recall, _ = metrics.precision_recall_curve(
            labels[keep], values[keep])
        auprc = metrics.average_precision_score(labels[keep], values[keep])
        axis.step(recall, precision, where='post',
                  label=f'{name} ({auprc:.2f})')
    if len(labels):
      axis.axhline(labels.mean(), color='grey', linestyle='--',
                   label=f'chance ({labels.mean():.2f})')
    axis.set(title=f'{group} (n={int(selected.sum())})', xlabel='recall',
             ylabel='precision', xlim=(0, 1), ylim=(0, 1.02))
    if axis.get_legend_handles_labels()[0]:
      axis.legend(fontsize=7, loc='upper right')
  if title:
    figure.suptitle(title)
  figure.tight_layout()
  from enformer_tf import atomic  # pylint: disable=g-import-not-at-top
  with atomic.atomic_path(path) as temporary:
    figure.savefig(temporary, format='png', dpi=100)
  plt.close(figure)
  return path


def write_evaluation(scores_path: str, out_dir: str, prefix: str = '',
                     n_bootstrap: int = 1000, seed: int = 0,
                     distance_bins: Sequence[Tuple[int, int]] = DISTANCE_BINS
                     ) -> Dict[str, str]:
  """`{prefix}evaluation.tsv` and `{prefix}pr_curves.png` for a scores
  TSV; returns their paths."""
  from enformer_tf import atomic  # pylint: disable=g-import-not-at-top
  frame = read_scores(scores_path)
  result = evaluate_scores(frame, distance_bins=distance_bins,
                           n_bootstrap=n_bootstrap, seed=seed)
  table = os.path.join(out_dir, f'{prefix}evaluation.tsv')
  with atomic.atomic_path(table) as temporary:
    result.to_csv(temporary, sep='\t', index=False, float_format='%.6g')
  png = plot_pr_curves(frame, os.path.join(out_dir, f'{prefix}pr_curves.png'),
                       distance_bins=distance_bins)
  return {'evaluation': table, 'pr_curves': png}
