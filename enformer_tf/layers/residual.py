"""Residual connection around any layer."""
import tensorflow as tf
import tf_keras as keras

from enformer_tf.layers.sublayers import build_sublayer


@keras.saving.register_keras_serializable(package='enformer_tf')
class Residual(keras.layers.Layer):
  """`inputs + layer(inputs)`.

  Args:
    layer: a Keras layer whose output shape equals its input shape.

  Call args:
    inputs: any tensor the wrapped layer accepts.
    training: passed to the wrapped layer.

  Returns:
    A tensor of the input's shape.
  """

  def __init__(self, layer: keras.layers.Layer, **kwargs):
    kwargs.setdefault('name', 'residual')
    super().__init__(**kwargs)
    if not isinstance(layer, keras.layers.Layer):
      raise ValueError(f'layer must be a Keras layer, got {type(layer)}.')
    self.layer = layer

  def build(self, input_shape):
    build_sublayer(self.layer, input_shape)
    super().build(input_shape)

  def call(self, inputs, training=None):
    return inputs + self.layer(inputs, training=training)

  def compute_output_shape(self, input_shape):
    return tf.TensorShape(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update(layer=keras.layers.serialize(self.layer))
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config['layer'] = keras.layers.deserialize(config['layer'])
    return cls(**config)
