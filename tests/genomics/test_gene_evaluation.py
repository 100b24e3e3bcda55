"""The gene-level evaluation: correlations against scipy, normalisation."""
import math

import numpy as np
import pytest
from scipy import stats

from enformer_tf.genomics import gene_evaluation


def _data(seed=0, genes=60, tracks=4):
  rng = np.random.RandomState(seed)
  truth = rng.gamma(1.0, 20.0, (genes, tracks))
  predicted = truth * rng.lognormal(0, 0.5, truth.shape)
  return predicted, truth, [f'g{i}' for i in range(genes)], [
      f't{j}' for j in range(tracks)]


def test_quantile_normalize_gives_every_column_one_distribution():
  matrix = np.array([[5.0, 4.0, 3.0], [2.0, 1.0, 4.0], [3.0, 4.0, 6.0],
                     [4.0, 2.0, 8.0]])
  normalized = gene_evaluation.quantile_normalize(matrix)
  # basenji's quantile_normalize by hand: sorted columns averaged by rank.
  reference = np.sort(matrix, axis=0).mean(axis=1)  # [2, 3, 4.67, 5.67]
  for t in range(3):
    np.testing.assert_allclose(np.sort(normalized[:, t]), reference)
    # Each column keeps its order.
    assert (np.argsort(normalized[:, t], kind='stable') ==
            np.argsort(matrix[:, t], kind='stable')).all()


def test_across_genes_and_across_tracks_equal_scipy():
  predicted, observed, genes, tracks = _data()
  result = gene_evaluation.evaluate_genes(predicted, observed, genes, tracks)
  lp, lo = np.log2(1 + predicted), np.log2(1 + observed)
  qp = gene_evaluation.quantile_normalize(lp)
  qo = gene_evaluation.quantile_normalize(lo)
  cp, co = qp - qp.mean(1, keepdims=True), qo - qo.mean(1, keepdims=True)
  for t, row in enumerate(result.tracks):
    assert row['pearson_r'] == pytest.approx(stats.pearsonr(lp[:, t],
                                                            lo[:, t])[0])
    assert row['spearman_r'] == pytest.approx(
        stats.spearmanr(predicted[:, t], observed[:, t])[0])
    assert row['pearson_r_across_tracks'] == pytest.approx(
        stats.pearsonr(cp[:, t], co[:, t])[0])
    assert row['spearman_r_across_tracks'] == pytest.approx(
        stats.spearmanr(cp[:, t], co[:, t])[0])
    assert row['num_genes'] == 60
  summary = result.summary()
  assert summary['mean_pearson_r'] == pytest.approx(
      np.mean([r['pearson_r'] for r in result.tracks]))


def test_expressed_only_and_constant_tracks():
  predicted, observed, genes, tracks = _data(1)
  observed[:20, 0] = 0.0  # Unexpressed genes in track 0.
  observed[:, 1] = 7.0  # A constant track: no correlation.
  result = gene_evaluation.evaluate_genes(predicted, observed, genes, tracks)
  keep = observed[:, 0] > 0
  assert result.tracks[0]['num_expressed'] == 40
  assert result.tracks[0]['pearson_r_expressed'] == pytest.approx(
      stats.pearsonr(np.log2(1 + predicted[keep, 0]),
                     np.log2(1 + observed[keep, 0]))[0])
  assert math.isnan(result.tracks[1]['pearson_r'])
  summary = result.summary()  # NaN tracks are left out of the means.
  assert summary['mean_pearson_r'] == pytest.approx(np.mean(
      [result.tracks[t]['pearson_r'] for t in (0, 2, 3)]))


def test_a_perfect_model_scores_one_and_a_shuffled_one_about_zero():
  _, observed, genes, tracks = _data(2, genes=400)
  perfect = gene_evaluation.evaluate_genes(observed, observed, genes, tracks)
  assert all(r['pearson_r'] == pytest.approx(1.0) for r in perfect.tracks)
  assert all(r['pearson_r_across_tracks'] == pytest.approx(1.0)
             for r in perfect.tracks)
  shuffled = observed[np.random.RandomState(0).permutation(400)]
  chance = gene_evaluation.evaluate_genes(shuffled, observed, genes, tracks)
  assert all(abs(r['pearson_r']) < 0.2 for r in chance.tracks)


def test_bad_input():
  predicted, observed, genes, tracks = _data()
  with pytest.raises(ValueError, match='same'):
    gene_evaluation.evaluate_genes(predicted[:, :2], observed, genes, tracks)
  with pytest.raises(ValueError, match='>= 0'):
    gene_evaluation.evaluate_genes(-predicted, observed, genes, tracks)
  with pytest.raises(ValueError, match='at least 3'):
    gene_evaluation.evaluate_genes(predicted[:2], observed[:2], genes[:2],
                                   tracks)


def test_files_and_side_by_side(tmp_path):
  predicted, observed, genes, tracks = _data()
  good = gene_evaluation.evaluate_genes(predicted, observed, genes, tracks)
  worse = gene_evaluation.evaluate_genes(
      predicted * np.random.RandomState(5).lognormal(0, 1.5,
                                                     predicted.shape),
      observed, genes, tracks)
  paths = gene_evaluation.write_evaluation(good, str(tmp_path), prefix='a_')
  lines = open(paths['tracks']).read().splitlines()
  assert lines[0].split('\t') == list(gene_evaluation.TRACK_COLUMNS)
  assert float(lines[1].split('\t')[2]) == pytest.approx(
      good.tracks[0]['pearson_r'], rel=1e-5)
  assert open(paths['scatter_t0'], 'rb').read(4) == b'\x89PNG'
  compared = gene_evaluation.compare_evaluations(
      {'good': good, 'worse': worse}, str(tmp_path))
  rows = [l.split('\t') for l in open(compared['comparison']).read()
          .splitlines()]
  header = rows[0]
  for row in rows[1:]:
    values = dict(zip(header, row))
    assert float(values['pearson_r_good']) > float(values['pearson_r_worse'])
  with pytest.raises(ValueError, match='same genes'):
    gene_evaluation.compare_evaluations(
        {'a': good, 'b': gene_evaluation.evaluate_genes(
            predicted[:10], observed[:10], genes[:10], tracks)},
        str(tmp_path))
