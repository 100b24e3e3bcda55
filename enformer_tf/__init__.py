"""Enformer (Avsec et al. 2021) as a tf-keras model.

The package uses the Keras 2 API through `tf_keras`; see the README.
"""
from enformer_tf import layers, positional
from enformer_tf.constants import (BIN_SIZE, DEFAULT_HEADS, SEQUENCE_LENGTH,
                                   TARGET_LENGTH)
from enformer_tf.io import from_deepmind_checkpoint, load_model
from enformer_tf.model import Enformer

__version__ = '0.1.0'

__all__ = ['BIN_SIZE', 'DEFAULT_HEADS', 'Enformer', 'SEQUENCE_LENGTH',
           'TARGET_LENGTH', 'from_deepmind_checkpoint', 'layers',
           'load_model', 'positional']
