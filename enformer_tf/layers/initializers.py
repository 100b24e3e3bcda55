"""Initializers that reproduce Sonnet 2 defaults in Keras.

Sonnet's `Linear` and `Conv1D` draw weights from
`TruncatedNormal(stddev=1/sqrt(fan_in))` (cut at two standard deviations, no
variance correction). Keras' `VarianceScaling` with a truncated normal divides
its stddev by 0.8796..., the std of a unit normal truncated at 2; scaling the
variance by that factor squared gives exactly Sonnet's distribution.
"""
import tf_keras as keras

_TRUNCATED_NORMAL_STD = 0.87962566103423978


def sonnet_default_initializer() -> keras.initializers.Initializer:
  """Sonnet's default weight initializer for Linear and Conv layers."""
  return keras.initializers.VarianceScaling(
      scale=_TRUNCATED_NORMAL_STD**2, mode='fan_in',
      distribution='truncated_normal')


def attention_initializer() -> keras.initializers.Initializer:
  """Sonnet `VarianceScaling(scale=2.0)`: the attention projections' default."""
  return keras.initializers.VarianceScaling(
      scale=2.0, mode='fan_in', distribution='truncated_normal')
