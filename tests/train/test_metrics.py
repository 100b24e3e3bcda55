"""PearsonR / R2: per track, pooled over batches and bins, against scipy."""
import json

import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
import tf_keras as keras

from enformer_tf.train import metrics

NUM_TRACKS = 5


def _batches(num_batches=4, batch=3, bins=7, seed=0):
  """Targets and correlated predictions, `[B, T, N]` per batch."""
  rng = np.random.default_rng(seed)
  for _ in range(num_batches):
    y = rng.gamma(1.0, 3.0, (batch, bins, NUM_TRACKS))
    x = y * rng.uniform(0.2, 2.0, NUM_TRACKS) + rng.normal(0, 2.0, y.shape)
    yield y.astype(np.float32), x.astype(np.float32)


def _pooled(batches):
  ys, xs = zip(*batches)
  flat = lambda a: np.concatenate(a).reshape(-1, NUM_TRACKS)  # noqa: E731
  return flat(ys), flat(xs)


def _r2(y, x):
  return 1 - ((y - x)**2).sum(0) / ((y - y.mean(0))**2).sum(0)


def test_pearson_r_per_track_matches_scipy_over_several_batches():
  batches = list(_batches())
  metric = metrics.PearsonR(NUM_TRACKS)
  for y, x in batches:
    metric.update_state(y, x)
  y, x = _pooled(batches)
  expected = np.array([scipy.stats.pearsonr(x[:, i], y[:, i])[0]
                       for i in range(NUM_TRACKS)])
  np.testing.assert_allclose(metric.pearson_r().numpy(), expected, atol=1e-6)
  np.testing.assert_allclose(metric.result().numpy(), expected.mean(),
                             atol=1e-6)
  np.testing.assert_allclose(metric.r2().numpy(), _r2(y, x), atol=1e-6)
  per_track = metric.per_track()
  np.testing.assert_array_equal(per_track['count'].numpy(),
                                np.full(NUM_TRACKS, len(y)))


def test_r2_metric_result_is_the_mean_over_tracks():
  batches = list(_batches(seed=1))
  metric = metrics.R2(NUM_TRACKS)
  for y, x in batches:
    metric.update_state(y, x)
  y, x = _pooled(batches)
  np.testing.assert_allclose(metric.result().numpy(), _r2(y, x).mean(),
                             atol=1e-6)


def test_reset_state_starts_over():
  first, second = list(_batches(2, seed=2)), list(_batches(2, seed=3))
  metric = metrics.PearsonR(NUM_TRACKS)
  for y, x in first:
    metric.update_state(y, x)
  metric.reset_state()
  for y, x in second:
    metric.update_state(y, x)
  fresh = metrics.PearsonR(NUM_TRACKS)
  for y, x in second:
    fresh.update_state(y, x)
  np.testing.assert_allclose(metric.pearson_r(), fresh.pearson_r(), atol=1e-12)


def test_constant_track_is_nan_and_skipped_in_the_mean():
  (y, x), = _batches(1, seed=4)
  y[..., 0] = 1.0  # No variance in track 0's targets.
  metric = metrics.PearsonR(NUM_TRACKS)
  metric.update_state(y, x)
  per_track = metric.pearson_r().numpy()
  assert np.isnan(per_track[0]) and np.isfinite(per_track[1:]).all()
  assert np.isnan(metric.r2().numpy()[0])
  np.testing.assert_allclose(metric.result(), per_track[1:].mean(), atol=1e-6)


def test_zero_sample_weight_excludes_examples():
  (y, x), = _batches(1, batch=4, seed=5)
  weighted = metrics.PearsonR(NUM_TRACKS)
  weighted.update_state(y, x, sample_weight=np.array([1, 0, 1, 0.0])[:, None,
                                                                     None])
  subset = metrics.PearsonR(NUM_TRACKS)
  subset.update_state(y[[0, 2]], x[[0, 2]])
  np.testing.assert_allclose(weighted.pearson_r(), subset.pearson_r(),
                             atol=1e-9)


def test_wrong_number_of_tracks_is_a_clear_error():
  metric = metrics.PearsonR(NUM_TRACKS)
  with pytest.raises(ValueError, match='num_tracks=5.*3 tracks'):
    metric.update_state(np.zeros((2, 4, 3)), np.zeros((2, 4, 3)))
  with pytest.raises(ValueError, match='num_tracks'):
    metrics.PearsonR(0)


def test_config_round_trip_with_non_default_arguments():
  metric = metrics.PearsonR(7, name='human_r', dtype='float32')
  config = json.loads(json.dumps(keras.metrics.serialize(metric)))
  restored = keras.metrics.deserialize(config)
  assert isinstance(restored, metrics.PearsonR)
  assert restored.get_config() == metric.get_config()
  assert restored.num_tracks == 7 and restored.dtype == 'float32'
  r2 = keras.metrics.deserialize(keras.metrics.serialize(metrics.R2(3)))
  assert isinstance(r2, metrics.R2) and r2.num_tracks == 3


def test_streams_under_mirrored_strategy(mirrored_strategy):
  strategy = mirrored_strategy
  batches = list(_batches(3, batch=4, seed=6))
  with strategy.scope():
    metric = metrics.PearsonR(NUM_TRACKS)

  @tf.function
  def step(y, x):
    strategy.run(metric.update_state, args=(y, x))

  ys, xs = zip(*batches)
  dataset = tf.data.Dataset.from_tensor_slices(
      (np.concatenate(ys), np.concatenate(xs))).batch(4)
  for y, x in strategy.experimental_distribute_dataset(dataset):
    step(y, x)
  y, x = _pooled(batches)
  expected = [scipy.stats.pearsonr(x[:, i], y[:, i])[0]
              for i in range(NUM_TRACKS)]
  np.testing.assert_allclose(metric.pearson_r().numpy(), expected, atol=1e-6)
  metric.reset_state()
  assert float(np.sum(metric.per_track()['count'])) == 0.0
