"""A training directory as `enformer-train` writes it, for the tests that
read one (`enformer_tf.io.training_dir`, `enformer-export --checkpoint_dir`).

`OPERATIVE_CONFIG` binds the tiny Enformer `tiny_model` builds.
"""
import textwrap

import numpy as np
import tensorflow as tf
import tf_keras as keras

from random_weights import randomise_weights

L = 1024
BINS = 4
TINY = dict(channels=48, num_transformer_layers=1, num_heads=2,
            heads={'human': 5, 'mouse': 3}, target_length=BINS,
            sequence_length=L, conv_tower_divisible_by=8)

# What gin's operative_config_str() writes for a run that bound Enformer
# (and the trainer); the macro and module-qualified names are on purpose.
OPERATIVE_CONFIG = textwrap.dedent('''\
    import enformer_tf

    # Macros:
    # ==========================================================================
    LENGTH = 1024

    # Parameters for Enformer:
    # ==========================================================================
    enformer_tf.Enformer.attention_dropout_rate = 0.05
    enformer_tf.Enformer.channels = 48
    enformer_tf.Enformer.conv_tower_divisible_by = 8
    enformer_tf.Enformer.heads = {'human': 5, 'mouse': 3}
    enformer_tf.Enformer.num_heads = 2
    enformer_tf.Enformer.num_transformer_layers = 1
    enformer_tf.Enformer.pooling_type = 'attention'
    enformer_tf.Enformer.relative_position_functions = None
    enformer_tf.Enformer.sequence_length = %LENGTH
    enformer_tf.Enformer.target_length = 4

    # Parameters for Trainer:
    # ==========================================================================
    Trainer.batch_size = 2
    Trainer.model = @enformer_tf.Enformer
''')


def tiny_model(seed=0, **overrides):
  """The tiny Enformer, built, every weight random (see random_weights)."""
  from enformer_tf import Enformer
  model = Enformer(**dict(TINY, **overrides))
  model.build((None, L, 4))
  randomise_weights(model, seed)
  return model


def random_one_hot(batch, seed=0):
  codes = np.random.RandomState(seed).randint(0, 4, (batch, L))
  return np.eye(4, dtype=np.float32)[codes]


def write_training_dir(directory, model, config=OPERATIVE_CONFIG):
  """A directory laid out as the trainer (`enformer-train`) writes it."""
  step = tf.Variable(0, dtype=tf.int64)
  optimizer = keras.optimizers.Adam()
  optimizer.build(model.trainable_variables)
  checkpoint = tf.train.Checkpoint(step=step, model=model,
                                   optimizer=optimizer)
  manager = tf.train.CheckpointManager(checkpoint, str(directory),
                                       max_to_keep=5, step_counter=step,
                                       checkpoint_name='ckpt')
  step.assign(20)
  manager.save(checkpoint_number=step)
  if config is not None:
    (directory / 'operative_config.gin').write_text(config)
