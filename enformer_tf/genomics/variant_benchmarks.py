"""The paper's variant benchmarks as library functions.

Classification (`classify_variants`; the paper's fine-mapped eQTL test):
labelled variants (causal 1 vs non-causal 0) are classified from their
predicted difference vectors (e.g. SAD per track) by a random forest
(scikit-learn), in stratified `k`-fold cross-validation. Every variant gets
an out-of-fold probability; auROC and auPRC (average precision) are taken
over all of them, with percentile confidence intervals from `n_bootstrap`
resamples of the variants (with replacement). Labels independent of the
features give auROC ~0.5 and auPRC ~ the fraction of positives.

Regression (`lasso_effects`; the paper's saturation mutagenesis / MPRA
test): measured effects of many variants are predicted from their features
by a Lasso whose penalty is chosen by an inner cross-validation (`LassoCV`
on standardised features), in outer `k`-fold cross-validation; the Pearson
and Spearman correlations of the out-of-fold predictions with the measured
effects are reported beside those of the single best track, chosen on each
training fold by its absolute Pearson correlation and applied to the
held-out fold through a least-squares line (so both numbers are held out).
The best track over all variants (in-sample) is reported too.
"""
import dataclasses
from typing import Dict, Optional, Sequence, Tuple

import numpy as np


@dataclasses.dataclass(frozen=True)
class Classification:
  """Cross-validated random-forest classification of one feature group.

  Attributes:
    auroc, auprc: over the out-of-fold probabilities.
    auroc_ci, auprc_ci: `(low, high)` bootstrap percentile intervals.
    num_positive, num_negative: labelled variants.
    probabilities: out-of-fold probability of each variant, `[N]`.
  """
  auroc: float
  auprc: float
  auroc_ci: Tuple[float, float]
  auprc_ci: Tuple[float, float]
  num_positive: int
  num_negative: int
  probabilities: np.ndarray

  def summary(self) -> Dict:
    return dict(auroc=self.auroc, auroc_ci=list(self.auroc_ci),
                auprc=self.auprc, auprc_ci=list(self.auprc_ci),
                num_positive=self.num_positive,
                num_negative=self.num_negative)


def _check_features(features, targets, what: str):
  features = np.asarray(features, np.float64)
  targets = np.asarray(targets)
  if features.ndim != 2 or len(features) != len(targets):
    raise ValueError(f'features must be [variants, features] with one '
                     f'{what} per variant; got {features.shape} and '
                     f'{targets.shape}.')
  if not np.all(np.isfinite(features)):
    raise ValueError('features contain NaN or infinity.')
  return features, targets


def classify_variants(features, labels, *, n_splits: int = 5,
                      n_estimators: int = 200, n_bootstrap: int = 1000,
                      confidence: float = 0.95, seed: int = 0,
                      max_features='sqrt') -> Classification:
  """Random-forest auROC/auPRC of `labels` from `features` (module doc).

  Args:
    features: `[variants, features]`, e.g. SAD per track.
    labels: `[variants]`, 1/True causal and 0/False not.
    n_splits: cross-validation folds (stratified, shuffled with `seed`).
    n_estimators, max_features: of the `RandomForestClassifier`.
    n_bootstrap: resamples for the confidence intervals.
    confidence: of the intervals.
    seed: folds, forest and bootstrap.

  Raises:
    ValueError: bad shapes, labels that are not 0/1, or fewer than
      `n_splits` variants of a class.
  """
  from sklearn import ensemble, metrics, model_selection
  features, labels = _check_features(features, labels, 'label')
  if not np.all(np.isin(labels, (0, 1))):
    raise ValueError('labels must be 0/1 (or False/True).')
  labels = labels.astype(int)
  num_positive = int(labels.sum())
  num_negative = len(labels) - num_positive
  if min(num_positive, num_negative) < n_splits:
    raise ValueError(f'{num_positive} positive and {num_negative} negative '
                     f'variants: each class needs at least n_splits='
                     f'{n_splits}.')
  folds = model_selection.StratifiedKFold(n_splits, shuffle=True,
                                          random_state=seed)
  forest = ensemble.RandomForestClassifier(
      n_estimators=n_estimators, max_features=max_features,
      random_state=seed, n_jobs=1)
  probabilities = model_selection.cross_val_predict(
      forest, features, labels, cv=folds, method='predict_proba')[:, 1]
  rng = np.random.default_rng(seed)
  aurocs, auprcs = [], []
  for _ in range(n_bootstrap):
    sample = rng.integers(0, len(labels), len(labels))
    if labels[sample].min() == labels[sample].max():
      continue  # One class only: no curve.
    aurocs.append(metrics.roc_auc_score(labels[sample],
                                        probabilities[sample]))
    auprcs.append(metrics.average_precision_score(labels[sample],
                                                  probabilities[sample]))
  tail = (1 - confidence) / 2 * 100

  def interval(values):
    if not values:
      return (float('nan'), float('nan'))
    low, high = np.percentile(values, [tail, 100 - tail])
    return (float(low), float(high))

  return Classification(
      auroc=float(metrics.roc_auc_score(labels, probabilities)),
      auprc=float(metrics.average_precision_score(labels, probabilities)),
      auroc_ci=interval(aurocs), auprc_ci=interval(auprcs),
      num_positive=num_positive, num_negative=num_negative,
      probabilities=probabilities)


def classify_groups(features, labels, groups: Dict[str, Sequence[int]],
                    **kwargs) -> Dict[str, Classification]:
  """`classify_variants` on each group of feature columns (e.g. the tracks
  of one tissue), `{group: Classification}`."""
  features = np.asarray(features, np.float64)
  return {name: classify_variants(features[:, list(columns)], labels,
                                  **kwargs)
          for name, columns in groups.items()}


@dataclasses.dataclass(frozen=True)
class LassoResult:
  """Cross-validated Lasso vs the single best track.

  Attributes:
    pearson, spearman: of the Lasso's out-of-fold predictions.
    best_track_pearson, best_track_spearman: of the best single track's
      out-of-fold predictions (chosen on each training fold).
    best_track: the best track over all variants (index).
    best_track_in_sample: its Pearson correlation over all variants
      (absolute value; optimistic).
    predictions: the Lasso's out-of-fold predictions, `[N]`.
    num_selected: features with a non-zero weight in a Lasso fitted on all
      variants.
  """
  pearson: float
  spearman: float
  best_track_pearson: float
  best_track_spearman: float
  best_track: int
  best_track_in_sample: float
  predictions: np.ndarray
  num_selected: int

  def summary(self, names: Optional[Sequence[str]] = None) -> Dict:
    return dict(lasso_pearson=self.pearson, lasso_spearman=self.spearman,
                best_track_pearson=self.best_track_pearson,
                best_track_spearman=self.best_track_spearman,
                best_track=(names[self.best_track] if names is not None
                            else self.best_track),
                best_track_in_sample_pearson=self.best_track_in_sample,
                num_selected=self.num_selected)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
  if np.std(a) == 0 or np.std(b) == 0:
    return 0.0
  return float(np.corrcoef(a, b)[0, 1])


def lasso_effects(features, effects, *, n_splits: int = 5,
                  inner_splits: int = 5, seed: int = 0) -> LassoResult:
  """Cross-validated Lasso from `features` to measured `effects`.

  Args:
    features: `[variants, features]`.
    effects: `[variants]` measured effects.
    n_splits: outer folds (shuffled with `seed`).
    inner_splits: `LassoCV` folds choosing the penalty.
    seed: the folds.

  Raises:
    ValueError: bad shapes, non-finite values or too few variants.
  """
  from scipy import stats
  from sklearn import linear_model, model_selection, pipeline, preprocessing
  features, effects = _check_features(features, effects, 'effect')
  effects = effects.astype(np.float64)
  if not np.all(np.isfinite(effects)):
    raise ValueError('effects contain NaN or infinity.')
  if len(effects) < 2 * n_splits:
    raise ValueError(f'{len(effects)} variants are too few for '
                     f'{n_splits}-fold cross-validation.')

  def model():
    return pipeline.make_pipeline(
        preprocessing.StandardScaler(),
        linear_model.LassoCV(cv=inner_splits, random_state=seed,
                             max_iter=200_000))

  folds = model_selection.KFold(n_splits, shuffle=True, random_state=seed)
  predictions = np.zeros(len(effects))
  best_predictions = np.zeros(len(effects))
  for train, test in folds.split(features):
    predictions[test] = model().fit(features[train],
                                    effects[train]).predict(features[test])
    r = [abs(_pearson(features[train, j], effects[train]))
         for j in range(features.shape[1])]
    j = int(np.argmax(r))
    slope, intercept = np.polyfit(features[train, j], effects[train], 1)
    best_predictions[test] = slope * features[test, j] + intercept
  in_sample = [abs(_pearson(features[:, j], effects))
               for j in range(features.shape[1])]
  best = int(np.argmax(in_sample))
  weights = model().fit(features, effects)[-1].coef_
  return LassoResult(
      pearson=_pearson(predictions, effects),
      spearman=float(stats.spearmanr(predictions, effects)[0]),
      best_track_pearson=_pearson(best_predictions, effects),
      best_track_spearman=float(stats.spearmanr(best_predictions,
                                                effects)[0]),
      best_track=best, best_track_in_sample=float(in_sample[best]),
      predictions=predictions, num_selected=int(np.sum(weights != 0)))
