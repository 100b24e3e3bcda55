"""Tests for enformer_tf.genomics.variant_stats against NumPy/scipy formulas."""
import numpy as np
import pytest
from scipy.spatial import distance

from enformer_tf.genomics import variant_stats as vs


def hand_made_profiles():
  """ref, alt `[2 variants, 5 bins, 3 tracks]`, made by hand: a peak lost,
  a peak moved, no change, and a zero track."""
  ref = np.zeros((2, 5, 3))
  alt = np.zeros((2, 5, 3))
  ref[0, :, 0] = [1, 2, 10, 2, 1]
  alt[0, :, 0] = [1, 2, 3, 2, 1]     # The peak lowered by 7.
  ref[0, :, 1] = [0, 0, 4, 0, 0]
  alt[0, :, 1] = [0, 0, 0, 0, 4]     # The peak moved two bins.
  ref[0, :, 2] = alt[0, :, 2] = [3, 3, 3, 3, 3]  # Unchanged.
  ref[1, :, 0] = [0.5, 0.25, 0, 2, 8]
  alt[1, :, 0] = [0.5, 1.25, 0.1, 2, 6]
  ref[1, :, 1] = 0.0                  # A zero profile (uniform for JS).
  alt[1, :, 1] = [0, 1, 0, 0, 0]
  ref[1, :, 2] = [1, 1, 1, 1, 1]
  alt[1, :, 2] = [2, 2, 2, 2, 2]     # Same shape, twice the height.
  return ref, alt


def loop_stats(ref, alt):
  """Every statistic, one variant and track at a time, as written in the
  module docstring (scipy's Jensen-Shannon distance squared for JS)."""
  n, bins, tracks = ref.shape
  out = {name: np.zeros((n, tracks)) for name in vs.BIN_STATS}
  for i in range(n):
    for t in range(tracks):
      r, a = ref[i, :, t], alt[i, :, t]
      lr, la = np.log2(1 + r), np.log2(1 + a)
      out['SAD'][i, t] = sum(a - r) / bins
      out['SAR'][i, t] = sum(la - lr) / bins
      out['D1'][i, t] = sum(abs(a - r))
      out['D2'][i, t] = np.sqrt(sum((a - r) ** 2))
      out['logD1'][i, t] = sum(abs(la - lr))
      out['logD2'][i, t] = np.sqrt(sum((la - lr) ** 2))
      out['MAX'][i, t] = max(abs(a - r))

      def norm(x):
        return x / x.sum() if x.sum() > 0 else np.full(bins, 1 / bins)

      out['JS'][i, t] = distance.jensenshannon(norm(r), norm(a), base=2) ** 2
      out['logJS'][i, t] = distance.jensenshannon(norm(lr), norm(la),
                                                  base=2) ** 2
  return out


def test_every_statistic_matches_its_formula():
  ref, alt = hand_made_profiles()
  got = vs.bin_stats(ref, alt, vs.BIN_STATS)
  want = loop_stats(ref, alt)
  assert list(got) == list(vs.BIN_STATS)
  for name in vs.BIN_STATS:
    assert got[name].dtype == np.float32 and got[name].shape == (2, 3)
    np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=1e-7,
                               err_msg=name)
  # Values known by hand: the lowered peak, the moved peak.
  assert got['SAD'][0, 0] == pytest.approx(-7 / 5)
  assert got['D1'][0, 1] == pytest.approx(8) and got['MAX'][0, 0] == 7
  assert got['D2'][0, 1] == pytest.approx(np.sqrt(32))
  assert got['JS'][0, 1] == pytest.approx(1.0)  # Disjoint supports: 1 bit.
  assert got['JS'][0, 2] == 0 and got['D1'][0, 2] == 0
  # Twice the height, same shape: JS ignores scale, the distances do not.
  assert got['JS'][1, 2] == pytest.approx(0, abs=1e-7)
  assert got['D1'][1, 2] == pytest.approx(5)


def test_gene_stats_match_their_formulas():
  ref_sum = np.array([[10.0, 0.0, 3.0]])
  alt_sum = np.array([[2.5, 1.0, 3.0]])
  got = vs.gene_stats(ref_sum, alt_sum)
  np.testing.assert_allclose(got['SED'], [[-7.5, 1.0, 0.0]], rtol=1e-6)
  np.testing.assert_allclose(got['logSED'],
                             [[np.log2(3.5 / 11), 1.0, 0.0]], rtol=1e-6)


def test_default_and_sad_sar_agree_with_the_original_definition():
  ref, alt = hand_made_profiles()
  got = vs.bin_stats(ref, alt)
  assert list(got) == ['SAD', 'SAR']
  np.testing.assert_allclose(got['SAR'], np.mean(
      np.log2(1 + alt) - np.log2(1 + ref), axis=1), rtol=1e-6)


def test_parse_stats_splits_bin_and_gene_statistics():
  assert vs.parse_stats('sad,LOGD2, logSED ,js') == (('SAD', 'logD2', 'JS'),
                                                     ('logSED',))
  with pytest.raises(ValueError, match="unknown statistic 'D3'.*expected "
                     'some of SAD, SAR'):
    vs.parse_stats('SAD,D3')
  with pytest.raises(ValueError, match='names SAD twice'):
    vs.parse_stats('SAD,sad')
  with pytest.raises(ValueError, match='empty'):
    vs.parse_stats(' , ')
  with pytest.raises(ValueError, match='one shape'):
    vs.bin_stats(np.zeros((4, 2)), np.zeros((4, 3)))
