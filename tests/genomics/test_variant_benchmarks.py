"""Tests for enformer_tf.genomics.variant_benchmarks on planted truths."""
import numpy as np
import pytest
from sklearn import metrics

from enformer_tf.genomics import variant_benchmarks as vb


def planted_classification(n=200, seed=0):
  """Labels, and features of which three are the label plus noise."""
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 2, n)
  features = rng.normal(size=(n, 10))
  features[:, :3] += 1.5 * labels[:, None]
  return features, labels


def test_classifier_finds_planted_labels_and_chance_on_shuffled():
  features, labels = planted_classification()
  result = vb.classify_variants(features, labels, n_estimators=100,
                                n_bootstrap=200)
  # Three features shifted by 1.5 sd: the Bayes auROC is
  # Phi(1.5 * sqrt(3) / sqrt(2)) ~ 0.97; a forest on 160 variants gets close.
  assert result.auroc > 0.85, result.summary()
  assert result.auroc_ci[0] < result.auroc < result.auroc_ci[1]
  assert result.auroc_ci[0] > 0.75
  assert result.auprc > 0.8
  # The reported numbers are those of sklearn on the out-of-fold scores.
  assert result.auroc == pytest.approx(
      metrics.roc_auc_score(labels, result.probabilities))
  shuffled = np.random.default_rng(1).permutation(labels)
  chance = vb.classify_variants(features, shuffled, n_estimators=100,
                                n_bootstrap=200)
  assert 0.35 < chance.auroc < 0.65, chance.summary()
  assert chance.auroc_ci[0] < 0.5 < chance.auroc_ci[1]
  assert abs(chance.auprc - shuffled.mean()) < 0.15


def test_groups_separate_informative_from_noise_tracks():
  features, labels = planted_classification()
  results = vb.classify_groups(features, labels,
                               {'informative': [0, 1, 2], 'noise': [5, 6, 7]},
                               n_estimators=100, n_bootstrap=100)
  assert results['informative'].auroc > 0.85
  assert 0.3 < results['noise'].auroc < 0.7


def test_lasso_beats_the_best_single_track_on_a_sparse_truth():
  rng = np.random.default_rng(0)
  n = 300
  features = rng.normal(size=(n, 20))
  effects = features[:, :4] @ np.array([1.0, -0.8, 0.6, 0.5])
  effects += rng.normal(scale=0.3, size=n)
  result = vb.lasso_effects(features, effects)
  # The planted signal explains var 2.25 of 2.34: r ~ 0.98 at best.
  assert result.pearson > 0.9, result.summary()
  # One feature explains at most 1 / 2.34 of the variance: r ~ 0.65.
  assert 0.5 < result.best_track_pearson < 0.75
  assert result.best_track == 0
  assert result.best_track_in_sample == pytest.approx(
      abs(np.corrcoef(features[:, 0], effects)[0, 1]))
  assert result.pearson == pytest.approx(
      np.corrcoef(result.predictions, effects)[0, 1])
  shuffled = vb.lasso_effects(features, rng.permutation(effects))
  assert abs(shuffled.pearson) < 0.25, shuffled.summary()


def test_bad_inputs_are_refused():
  with pytest.raises(ValueError, match='0/1'):
    vb.classify_variants(np.zeros((20, 2)), np.arange(20))
  with pytest.raises(ValueError, match='at least n_splits=5'):
    vb.classify_variants(np.zeros((20, 2)), [1] * 3 + [0] * 17)
  with pytest.raises(ValueError, match='one effect per variant'):
    vb.lasso_effects(np.zeros((20, 2)), np.zeros(19))
  with pytest.raises(ValueError, match='NaN'):
    vb.lasso_effects(np.full((20, 2), np.nan), np.zeros(20))
