"""Reading models and weights: `.keras` files, training directories and the
official DeepMind checkpoint.

  load_model(path)                 any saved Enformer (`.keras`, training dir)
  from_deepmind_checkpoint(path)   the released weights, configuration read
                                   off the checkpoint

This package only reads; `enformer_tf.export` writes SavedModels.
"""
from enformer_tf.io.deepmind_checkpoint import (
    WeightImportError, infer_config_from_checkpoint,
    load_deepmind_checkpoint)
from enformer_tf.io.deepmind_checkpoint import (
    enformer_from_deepmind_checkpoint as from_deepmind_checkpoint)
from enformer_tf.io.keras_file import load_keras_model
from enformer_tf.io.load import load_model
from enformer_tf.io.training_dir import (enformer_kwargs_from_gin,
                                         model_from_checkpoint)

__all__ = ['WeightImportError', 'enformer_kwargs_from_gin', 'from_deepmind_checkpoint',
           'infer_config_from_checkpoint', 'load_deepmind_checkpoint',
           'load_keras_model', 'load_model', 'model_from_checkpoint']
