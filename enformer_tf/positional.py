"""Relative positional basis functions and the Transformer-XL relative shift.

Pure TensorFlow functions, following `attention_module.py` of the reference
(google-deepmind/deepmind-research `enformer/`). They are computed in float32
whatever the model's compute dtype: the gamma basis goes through `lgamma` of
concentrations in the thousands, which bfloat16 cannot represent usefully.

Every `positional_features_*` function takes `positions` of any shape and
returns `positions.shape + [feature_size]`.
"""
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

DEFAULT_FUNCTIONS = (
    'positional_features_exponential',
    'positional_features_central_mask',
    'positional_features_gamma',
)


def _prepend_dims(x: tf.Tensor, num_dims: int) -> tf.Tensor:
  return tf.reshape(x, [1] * num_dims + x.shape.as_list())


def _characteristic_length(positions, seq_length):
  if seq_length is None:
    return tf.reduce_max(tf.abs(positions)) + 1
  return seq_length


def positional_features_exponential(positions, feature_size: int,
                                    seq_length=None, bin_size=None,
                                    min_half_life: float = 3.0):
  """Exponential decays with half-lives `2**linspace(min_half_life, log2(T))`."""
  del bin_size  # Unused, kept for a uniform signature.
  positions = tf.cast(positions, tf.float32)
  seq_length = tf.cast(_characteristic_length(positions, seq_length),
                       tf.float32)
  max_range = tf.math.log(seq_length) / tf.math.log(2.0)
  half_life = tf.pow(2.0, tf.linspace(min_half_life, max_range, feature_size))
  half_life = _prepend_dims(half_life, positions.shape.rank)  # [1.., F]
  return tf.exp(-tf.math.log(2.0) / half_life
                * tf.abs(positions)[..., tf.newaxis])


def positional_features_central_mask(positions, feature_size: int,
                                     seq_length=None, bin_size=None):
  """Indicator `|d| < 2**k - 1` for `k = 1..feature_size`."""
  del seq_length, bin_size  # Unused.
  positions = tf.cast(positions, tf.float32)
  center_widths = tf.pow(2.0, tf.range(1, feature_size + 1,
                                       dtype=tf.float32)) - 1
  center_widths = _prepend_dims(center_widths, positions.shape.rank)
  return tf.cast(center_widths > tf.abs(positions)[..., tf.newaxis],
                 tf.float32)


def gamma_pdf(x, concentration, rate):
  """Gamma density p(x | concentration, rate), via `xlogy` and `lgamma`."""
  log_unnormalized_prob = tf.math.xlogy(concentration - 1., x) - rate * x
  log_normalization = (tf.math.lgamma(concentration)
                       - concentration * tf.math.log(rate))
  return tf.exp(log_unnormalized_prob - log_normalization)


def positional_features_gamma(positions, feature_size: int,
                              seq_length=None, bin_size=None,
                              stddev=None, start_mean=None):
  """Gamma densities with means `linspace(T/n, T, n)`, each scaled to max 1.

  Each feature is divided by its own maximum over positions (not a global
  maximum, and not a maximum over features).
  """
  del bin_size  # Unused.
  positions = tf.cast(positions, tf.float32)
  seq_length = _characteristic_length(positions, seq_length)
  if stddev is None:
    stddev = seq_length / (2 * feature_size)
  if start_mean is None:
    start_mean = seq_length / feature_size
  mean = tf.linspace(tf.cast(start_mean, tf.float32),
                     tf.cast(seq_length, tf.float32), feature_size)
  mean = _prepend_dims(mean, positions.shape.rank)  # [1.., F]
  if isinstance(stddev, tf.Tensor):
    stddev = tf.cast(stddev, tf.float32)
  # A Python stddev is squared in float64 before TF converts it, as in the
  # reference; keeping that order keeps the features bit-identical.
  concentration = (mean / stddev)**2
  rate = mean / stddev**2
  probabilities = gamma_pdf(tf.abs(positions)[..., tf.newaxis],
                            concentration, rate)
  probabilities += 1e-8  # Keeps the normalisation finite far in the tails.
  position_axes = list(range(positions.shape.rank))
  return probabilities / tf.reduce_max(probabilities, axis=position_axes,
                                       keepdims=True)


def positional_features_cosine(positions, feature_size: int,
                               seq_length=None, bin_size=None):
  """Cosines with periods `1.25 * 2**k`."""
  del seq_length, bin_size  # Unused.
  positions = tf.cast(positions, tf.float32)
  periodicity = 1.25 * tf.pow(2.0, tf.range(0, feature_size,
                                            dtype=tf.float32))
  periodicity = _prepend_dims(periodicity, positions.shape.rank)
  return tf.math.cos(2 * np.pi * positions[..., tf.newaxis] / periodicity)


def positional_features_linear_masks(positions, feature_size: int,
                                     seq_length=None, bin_size=None):
  """Indicator `|d| == k` for `k = 0..feature_size-1`."""
  del seq_length, bin_size  # Unused.
  positions = tf.cast(positions, tf.float32)
  distances = tf.range(0, feature_size, dtype=tf.float32)
  distances = _prepend_dims(distances, positions.shape.rank)
  return tf.cast(distances == tf.abs(positions[..., tf.newaxis]), tf.float32)


def positional_features_sin_cos(positions, feature_size: int,
                                seq_length=None, bin_size=None,
                                max_time: float = 10000.0):
  """Transformer sinusoids: sines then cosines."""
  del seq_length, bin_size  # Unused.
  if feature_size % 2 != 0:
    raise ValueError(
        f'feature_size must be even for sin/cos features, got {feature_size}.')
  positions = tf.cast(positions, tf.float32)
  i = tf.range(0, feature_size, 2, dtype=tf.float32)
  i = _prepend_dims(i, positions.shape.rank)
  angles = positions[..., tf.newaxis] / max_time**(i / feature_size)
  return tf.concat([tf.sin(angles), tf.cos(angles)], axis=-1)


FEATURE_FUNCTIONS: Dict[str, Callable[..., tf.Tensor]] = {
    'positional_features_exponential': positional_features_exponential,
    'positional_features_central_mask': positional_features_central_mask,
    'positional_features_gamma': positional_features_gamma,
    'positional_features_cosine': positional_features_cosine,
    'positional_features_linear_masks': positional_features_linear_masks,
    'positional_features_sin_cos': positional_features_sin_cos,
}


def get_positional_feature_function(name: str) -> Callable[..., tf.Tensor]:
  if name not in FEATURE_FUNCTIONS:
    raise ValueError(f'Unknown relative position function {name!r}; '
                     f'expected one of {sorted(FEATURE_FUNCTIONS)}.')
  return FEATURE_FUNCTIONS[name]


def positional_features_all(positions,
                            feature_size: int,
                            seq_length: Optional[int] = None,
                            bin_size: Optional[int] = None,
                            feature_functions: Optional[Sequence[str]] = None,
                            symmetric: bool = False) -> tf.Tensor:
  """All basis features of `|positions|`, each class taking an equal share.

  Args:
    positions: relative distances, any shape.
    feature_size: total number of features returned.
    seq_length: characteristic length `T` the bases are scaled to.
    bin_size: unused by the bundled functions; kept for the reference API.
    feature_functions: names from `FEATURE_FUNCTIONS`, in order.
    symmetric: if False, append the features multiplied by `sign(positions)`
      after the symmetric ones (symmetric first, asymmetric second).

  Returns:
    float32 tensor `positions.shape + [feature_size]`.
  """
  if feature_functions is None:
    feature_functions = DEFAULT_FUNCTIONS
  num_components = len(feature_functions) * (1 if symmetric else 2)
  if feature_size % num_components != 0:
    raise ValueError(
        f'feature_size={feature_size} must be divisible by {num_components} '
        f'({len(feature_functions)} functions x '
        f'{"1 (symmetric)" if symmetric else "2 (symmetric + asymmetric)"}).')
  functions = [get_positional_feature_function(f) for f in feature_functions]
  num_basis_per_class = feature_size // num_components
  positions = tf.cast(positions, tf.float32)
  embeddings = tf.concat(
      [f(tf.abs(positions), num_basis_per_class, seq_length, bin_size)
       for f in functions], axis=-1)
  if not symmetric:
    embeddings = tf.concat(
        [embeddings, tf.sign(positions)[..., tf.newaxis] * embeddings],
        axis=-1)
  return embeddings


def relative_shift(x: tf.Tensor) -> tf.Tensor:
  """Transformer-XL shift: logits by distance -> logits by key position.

  Args:
    x: `[B, H, T, 2T-1]`; `x[..., i, k]` is the logit of query `i` for the
      relative distance `k - (T - 1)`.

  Returns:
    `[B, H, T, T]`; `out[..., i, j] = x[..., i, j - i + T - 1]`.
  """
  to_pad = tf.zeros_like(x[..., :1])
  x = tf.concat([to_pad, x], -1)  # [B, H, T, 2T]
  num_heads = x.shape[1]
  t1 = tf.shape(x)[2]
  t2 = tf.shape(x)[3]
  x = tf.reshape(x, [-1, num_heads, t2, t1])  # [B, H, 2T, T]
  x = x[:, :, 1:, :]  # [B, H, 2T-1, T]
  x = tf.reshape(x, [-1, num_heads, t1, t2 - 1])  # [B, H, T, 2T-1]
  return x[..., :(t2 + 1) // 2]  # [B, H, T, T]
