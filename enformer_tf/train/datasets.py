"""The data a `Trainer` takes: one unbatched dataset per organism.

`OrganismDatasets` is what `config.basenji_datasets` returns;
`check_datasets` compares each dataset with the model before anything is
traced; `training_stream` is the repeated, augmented, globally batched
stream the train step reads.
"""
from typing import Callable, Mapping, Optional, Sequence, Union

import tensorflow as tf
import tf_keras as keras

from enformer_tf.train import augment as augment_lib

DataSource = Union[Mapping[str, tf.data.Dataset],
                   Callable[[], Mapping[str, tf.data.Dataset]]]
RESUME_DATA = ('skip', 'restart')


class OrganismDatasets(dict):
  """organism -> dataset, with the read reports of datasets that have them.

  What `config.basenji_datasets` returns: with `skip_corrupt=True` each
  dataset skips corrupt TFRecord files and counts them in its
  `basenji.ReadReport`; the `Trainer` collects those reports
  (`Trainer.read_reports`) and logs them.
  """

  def __init__(self, datasets: Mapping[str, tf.data.Dataset],
               read_reports: Optional[Mapping[str, object]] = None):
    super().__init__(datasets)
    self.read_reports = dict(read_reports or {})


def resolve_data(data: Optional[DataSource]) -> Optional[Mapping]:
  """The mapping organism -> dataset (calling `data` if it is a callable)."""
  if data is None:
    return None
  if callable(data):
    data = data()
  if not isinstance(data, Mapping) or not data:
    raise ValueError('Expected a non-empty mapping organism -> tf.data.Dataset '
                     f'(or a callable returning one), got {data!r}.')
  return data


def check_datasets(datasets: Mapping[str, tf.data.Dataset],
                   model: keras.Model, what: str):
  """Checks keys, element structure and track counts against the model."""
  model_heads = getattr(model, 'heads', None)
  for head, dataset in datasets.items():
    if model_heads is not None and head not in model_heads:
      raise ValueError(f'The {what} data has organism {head!r}, but the model '
                       f'has heads {sorted(model_heads)}.')
    spec = dataset.element_spec
    if not isinstance(spec, Mapping) or not {'sequence', 'target'} <= set(spec):
      raise ValueError(
          f'The {head} {what} dataset must yield unbatched dicts with keys '
          f"'sequence' [L, 4] and 'target' [T, N], got element_spec {spec}.")
    sequence, target = spec['sequence'].shape, spec['target'].shape
    if sequence.rank != 2 or sequence[-1] != 4 or target.rank != 2:
      raise ValueError(
          f'The {head} {what} dataset must yield unbatched examples '
          f'(sequence [L, 4], target [T, N]); got sequence {sequence} and '
          f'target {target}. Do not batch it: the trainer batches to the '
          'global batch size.')
    if model_heads is not None and target[-1] not in (None, model_heads[head]):
      raise ValueError(
          f'The {head} {what} targets have {target[-1]} tracks but the '
          f'model\'s {head} head has {model_heads[head]}.')


def training_stream(dataset: tf.data.Dataset, batch_size: int,
                    start_step: int = 0, resume_data: str = 'skip',
                    seed: int = 0, max_shift: int = augment_lib.MAX_SHIFT,
                    reverse_complement: bool = True,
                    strand_pair: Optional[Sequence[int]] = None
                    ) -> tf.data.Dataset:
  """Repeated, augmented, globally batched stream of one organism.

  Args:
    dataset: unbatched examples.
    batch_size: the global batch size.
    start_step: the global step the stream starts at (a resumed run).
    resume_data: `'skip'` skips the examples the first `start_step` steps
      consumed; `'restart'` starts the data again.
    seed: augmentation seed; the augmentation of example i depends only on
      the seed and i, so a resumed stream augments as an uninterrupted one.
    max_shift: random shifts of up to this many bp (0 disables).
    reverse_complement: randomly reverse-complement half of the examples.
    strand_pair: track permutation applied on reverse complement.
  """
  dataset = dataset.repeat()
  consumed = start_step * batch_size
  if resume_data == 'skip' and consumed:
    dataset = dataset.skip(consumed)
  if max_shift or reverse_complement:
    dataset = augment_lib.augment_dataset(
        dataset, seed=seed, start_index=consumed, max_shift=max_shift,
        reverse_complement_prob=0.5 if reverse_complement else 0.0,
        strand_pair=strand_pair)
  dataset = dataset.batch(batch_size, drop_remainder=True)
  options = tf.data.Options()
  options.deterministic = True
  # Every worker builds the same global stream and keeps its share of each
  # batch, so n workers see exactly the batches one worker would.
  options.experimental_distribute.auto_shard_policy = (
      tf.data.experimental.AutoShardPolicy.DATA)
  return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)
