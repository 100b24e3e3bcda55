"""The `model.fit` path: one organism per dataset.

Keras computes the loss only for the heads given in `loss`, so with `fit`
every batch trains the heads named in its targets. Mixed-organism training
(one human and one mouse update per global step) is the `Trainer`'s job.
"""
from typing import Mapping, Optional

import tensorflow as tf
import tf_keras as keras

from enformer_tf.train import augment as augment_lib
from enformer_tf.train import losses as losses_lib
from enformer_tf.train import metrics as metrics_lib
from enformer_tf.train import optimizer as optimizer_lib
from enformer_tf.train import schedules


def fit_dataset(dataset: tf.data.Dataset, head: str, batch_size: int,
                augment: bool = False, seed: int = 0,
                drop_remainder: bool = True) -> tf.data.Dataset:
  """`{'sequence', 'target'}` examples -> `(sequence, {head: target})` batches.

  The form `model.fit` / `model.evaluate` take for a model compiled with
  `compile_for_fit`. One dataset feeds one organism: with `fit`, every batch
  trains the heads named in its targets, so mixed-organism training (one
  human and one mouse update per step) is the custom loop's job
  (`Trainer`).

  Args:
    dataset: unbatched examples.
    head: the organism whose head the targets belong to.
    batch_size: global batch size.
    augment: apply the random shift / reverse complement of `augment`.
    seed: augmentation seed.
    drop_remainder: drop a last partial batch (keeps shapes static).
  """
  if augment:
    dataset = augment_lib.augment_dataset(dataset, seed=seed)
  dataset = dataset.map(lambda example: (example['sequence'],
                                         {head: example['target']}))
  return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(
      tf.data.AUTOTUNE)


def compile_for_fit(model: keras.Model, heads: Mapping[str, int],
                    optimizer: Optional[keras.optimizers.Optimizer] = None,
                    **compile_kwargs) -> keras.Model:
  """Compiles `model` with the Poisson loss and Pearson R / R² per head.

  Call inside the strategy scope the model was built in; build the model
  (`model.build((None, L, 4))`) before `fit` under a distribution strategy,
  since a lazy build inside the replica function traces the synchronised
  BatchNorm in a nested graph, which `tf.distribute` rejects. Heads missing
  from `heads` get no loss (Keras warns that they were left out on purpose).

  Args:
    model: the multi-head model.
    heads: organism -> number of tracks, for the heads to train.
    optimizer: defaults to `adam(LinearWarmup())`; with `fit` the schedule
      sees one update per step.
    **compile_kwargs: passed to `model.compile`.

  Returns:
    The compiled model.
  """
  model.compile(
      optimizer=optimizer or optimizer_lib.adam(schedules.LinearWarmup()),
      loss={head: losses_lib.PoissonLoss() for head in heads},
      metrics={head: [metrics_lib.PearsonR(n), metrics_lib.R2(n)]
               for head, n in heads.items()},
      **compile_kwargs)
  return model
