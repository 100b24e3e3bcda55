"""Streaming per-track Pearson R and R², pooled over examples and bins.

REFERENCE §5: the Enformer metric is Pearson R per track over all examples
and all bins of a split, then averaged over tracks (like the reference
notebook's `CorrelationStats` and calico/baskerville's `PearsonR`). Each
metric keeps six sums per track, so it streams over any number of batches
and reduces across replicas by summation.
"""
from typing import Dict

import tensorflow as tf
import tf_keras as keras


class TrackStatistics(keras.metrics.Metric):
  """Sums of x, y, xy, x², y² and the count per track; base of the metrics.

  Subclasses define `result()`; every instance exposes `pearson_r()`, `r2()`
  and `per_track()`, so one metric feeds a whole evaluation table.

  `x` is the prediction and `y` the target. Sums are kept in float64 by
  default: pooled over millions of bins, float32 sums of squares lose the
  digits a correlation is made of. (TPUs have no float64; pass
  `dtype='float32'` there.)

  Args:
    num_tracks: number of tracks `N` (the last axis of targets).
    name: metric name.
    dtype: accumulator dtype.

  Call args:
    y_true: targets `[..., N]`, e.g. `[B, T, N]`.
    y_pred: predictions, same shape.
    sample_weight: optional weights broadcastable to `y_true`'s shape.
  """

  def __init__(self, num_tracks: int, name: str = 'track_statistics',
               dtype='float64', **kwargs):
    super().__init__(name=name, dtype=dtype, **kwargs)
    if int(num_tracks) != num_tracks or num_tracks < 1:
      raise ValueError(
          f'num_tracks must be a positive integer, got {num_tracks!r}.')
    self.num_tracks = int(num_tracks)
    self._sums = {
        key: self.add_weight(name=key, shape=[self.num_tracks],
                             initializer='zeros', dtype=self.dtype)
        for key in ('count', 'x', 'y', 'xy', 'xx', 'yy')}

  def update_state(self, y_true, y_pred, sample_weight=None):
    y_true = tf.cast(y_true, self.dtype)
    y_pred = tf.cast(y_pred, self.dtype)
    if y_true.shape[-1] is not None and y_true.shape[-1] != self.num_tracks:
      raise ValueError(
          f'{type(self).__name__} {self.name!r} has num_tracks='
          f'{self.num_tracks}, got targets with {y_true.shape[-1]} tracks '
          f'(shape {y_true.shape}).')
    y = tf.reshape(y_true, [-1, self.num_tracks])  # [B*T, N]
    x = tf.reshape(y_pred, [-1, self.num_tracks])  # [B*T, N]
    if sample_weight is None:
      w = tf.ones_like(y)
    else:
      w = tf.broadcast_to(tf.cast(sample_weight, self.dtype),
                          tf.shape(y_true))
      w = tf.reshape(w, [-1, self.num_tracks])  # [B*T, N]
    updates = {'count': w, 'x': w * x, 'y': w * y, 'xy': w * x * y,
               'xx': w * x * x, 'yy': w * y * y}
    return tf.group(*[self._sums[key].assign_add(tf.reduce_sum(value, 0))
                      for key, value in updates.items()])

  def reset_state(self):
    for variable in self._sums.values():
      variable.assign(tf.zeros_like(variable))

  def _moments(self):
    """Per-track count, means, covariance and variances, each `[N]`."""
    n = self._sums['count']
    mean_x = tf.math.divide_no_nan(self._sums['x'], n)
    mean_y = tf.math.divide_no_nan(self._sums['y'], n)
    cov = tf.math.divide_no_nan(self._sums['xy'], n) - mean_x * mean_y
    var_x = tf.math.divide_no_nan(self._sums['xx'], n) - mean_x**2
    var_y = tf.math.divide_no_nan(self._sums['yy'], n) - mean_y**2
    return n, cov, var_x, var_y

  def pearson_r(self) -> tf.Tensor:
    """Pearson R per track `[N]`; NaN where a track has no variance."""
    n, cov, var_x, var_y = self._moments()
    defined = (n > 1) & (var_x > 0) & (var_y > 0)
    safe = tf.where(defined, var_x * var_y, tf.ones_like(var_x))
    return tf.where(defined, cov / tf.sqrt(safe),
                    tf.fill(tf.shape(n), tf.constant(float('nan'), n.dtype)))

  def r2(self) -> tf.Tensor:
    """Coefficient of determination per track `[N]`: 1 - SS_res / SS_tot.

    NaN where the targets of a track have no variance.
    """
    n, _, _, var_y = self._moments()
    ss_res = (self._sums['yy'] - 2 * self._sums['xy'] + self._sums['xx'])
    ss_tot = n * var_y
    defined = ss_tot > 0
    safe = tf.where(defined, ss_tot, tf.ones_like(ss_tot))
    return tf.where(defined, 1 - ss_res / safe,
                    tf.fill(tf.shape(n), tf.constant(float('nan'), n.dtype)))

  def per_track(self) -> Dict[str, tf.Tensor]:
    """`{'pearson_r': [N], 'r2': [N], 'count': [N]}` for evaluation tables."""
    return {'pearson_r': self.pearson_r(), 'r2': self.r2(),
            'count': self._sums['count']}

  def get_config(self):
    config = super().get_config()
    config.update(num_tracks=self.num_tracks)
    return config


def nan_mean(values: tf.Tensor) -> tf.Tensor:
  """Mean over the finite entries (tracks without variance are skipped)."""
  finite = tf.math.is_finite(values)
  total = tf.reduce_sum(tf.where(finite, values, tf.zeros_like(values)))
  count = tf.reduce_sum(tf.cast(finite, values.dtype))
  return tf.where(count > 0, total / tf.maximum(count, 1),
                  tf.constant(float('nan'), values.dtype))


@keras.saving.register_keras_serializable(package='enformer_tf')
class PearsonR(TrackStatistics):
  """Pearson R per track pooled over examples and bins, averaged over tracks.

  `result()` is the mean over tracks whose predictions and targets both vary;
  `pearson_r()` gives the `[N]` per-track values.

  Args:
    num_tracks: number of tracks `N`.
    name: metric name.
    dtype: accumulator dtype (float64; see `TrackStatistics`).
  """

  def __init__(self, num_tracks: int, name: str = 'pearson_r',
               dtype='float64', **kwargs):
    super().__init__(num_tracks, name=name, dtype=dtype, **kwargs)

  def result(self):
    return nan_mean(self.pearson_r())


@keras.saving.register_keras_serializable(package='enformer_tf')
class R2(TrackStatistics):
  """R² per track pooled over examples and bins, averaged over tracks.

  Args:
    num_tracks: number of tracks `N`.
    name: metric name.
    dtype: accumulator dtype (float64; see `TrackStatistics`).
  """

  def __init__(self, num_tracks: int, name: str = 'r2', dtype='float64',
               **kwargs):
    super().__init__(num_tracks, name=name, dtype=dtype, **kwargs)

  def result(self):
    return nan_mean(self.r2())


