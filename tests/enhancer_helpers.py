"""Shared pieces of the enhancer-gene tests (tests/genomics/test_enhancer*.py):
a small random Enformer whose transformer changes its predictions, and a
two-gene TSS BED."""
import numpy as np
import tf_keras as keras

from enformer_tf import Enformer

LENGTH = 2048
HEAD = 'human'
TRACKS = [1, 2]
HEADER = ('chrom\tchromStart\tchromEnd\tname\tmeasuredGeneSymbol\tstartTSS\t'
          'Regulated\tEffectSize\tcell\n')
# Gene A: one TSS at 6,000 (+). Gene B: two TSSs, 12,000 and 12,700 (-).
GENES_BED = ('chr1\t6000\t6001\tGA\t0\t+\tGENEA\n'
             'chr1\t12000\t12001\tGB\t0\t-\tGENEB\n'
             'chr1\t12700\t12701\tGB\t0\t-\tGENEB\n')


def small_enformer(layers=2, length=LENGTH, seed=0):
  keras.utils.set_random_seed(seed)
  model = Enformer(channels=12, num_transformer_layers=layers, num_heads=2,
                   heads={HEAD: 3}, sequence_length=length, target_length=4,
                   conv_tower_divisible_by=4, dropout_rate=0.0,
                   attention_dropout_rate=0.0, positional_dropout_rate=0.0)
  model(np.zeros([1, length, 4], np.float32))
  # Non-zero attention outputs and MLPs (they start at zero), so that the
  # transformer changes the predictions.
  for variable in model.trainable_variables:
    if not np.any(variable.numpy()):
      variable.assign(np.random.default_rng(len(variable.name)).normal(
          0, 0.1, variable.shape).astype(np.float32))
  return model
