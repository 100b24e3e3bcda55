"""Enformer's Keras layers, one concept per module."""
from enformer_tf.layers.activations import gelu
from enformer_tf.layers.attention import MultiheadAttention
from enformer_tf.layers.conv_block import ConvBlock
from enformer_tf.layers.convolution import Conv1D
from enformer_tf.layers.cropping import TargetLengthCrop1D
from enformer_tf.layers.precision import at_least_float32
from enformer_tf.layers.pooling import SoftmaxPooling1D, pooling_layer
from enformer_tf.layers.recompute import RecomputableDropout, recompute_grad
from enformer_tf.layers.residual import Residual
from enformer_tf.layers.transformer_block import TransformerBlock

__all__ = [
    'Conv1D', 'ConvBlock', 'MultiheadAttention', 'RecomputableDropout', 'Residual',
    'SoftmaxPooling1D', 'TargetLengthCrop1D', 'TransformerBlock',
    'at_least_float32', 'gelu', 'pooling_layer', 'recompute_grad',
]
