"""The GELU approximation Enformer uses."""
import tensorflow as tf
import tf_keras as keras


@keras.saving.register_keras_serializable(package='enformer_tf')
def gelu(x: tf.Tensor) -> tf.Tensor:
  """GELU as `x * sigmoid(1.702 x)` (Hendrycks & Gimpel 2016, section 2).

  Enformer was trained with this approximation, not the exact erf GELU nor the
  tanh one; parity with the published weights depends on it.
  """
  return tf.nn.sigmoid(1.702 * x) * x
