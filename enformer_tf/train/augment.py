"""Data augmentation in TensorFlow ops, for `tf.data` pipelines.

REFERENCE §5: random shifts of up to ±3 bp and random reverse complement,
which also reverses the target bins (and, for stranded tracks, swaps each
track with its other-strand partner).

Randomness is stateless and keyed by a `[2]` seed per example, so a pipeline
that derives the seed from the example's position in the stream
(`augment_dataset`) gives the same augmentations after a restart.
"""
from typing import Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf

MAX_SHIFT = 3


def shift_sequence(sequence: tf.Tensor, shift) -> tf.Tensor:
  """Shifts one-hot DNA along its length, padding with N (zeros).

  Args:
    sequence: `[L, 4]` one-hot DNA.
    shift: scalar int; positive moves bases towards higher positions
      (`out[i + shift] = in[i]`), negative towards lower.

  Returns:
    `[L, 4]`, the same length; `|shift|` positions at one end are N.
  """
  sequence = tf.convert_to_tensor(sequence)
  shift = tf.cast(shift, tf.int32)
  length = tf.shape(sequence)[0]
  pad = tf.minimum(tf.abs(shift), length)
  zeros = tf.zeros(tf.stack([pad, tf.shape(sequence)[1]]), sequence.dtype)
  shifted = tf.cond(
      shift >= 0,
      lambda: tf.concat([zeros, sequence[:length - pad]], axis=0),
      lambda: tf.concat([sequence[pad:], zeros], axis=0))  # [L, 4]
  return tf.ensure_shape(shifted, sequence.shape)


def reverse_complement(sequence: tf.Tensor) -> tf.Tensor:
  """Reverse complement of one-hot DNA `[..., L, 4]` in A, C, G, T order.

  Reversing the channel axis maps A<->T and C<->G; N (all zeros) stays N.
  """
  return tf.reverse(sequence, axis=[-2, -1])  # [..., L, 4]


def reverse_targets(target: tf.Tensor,
                    strand_pair: Optional[Sequence[int]] = None) -> tf.Tensor:
  """Targets of the reverse-complemented sequence.

  Args:
    target: `[..., T, N]` coverage bins.
    strand_pair: optional permutation of the `N` tracks, `strand_pair[i]` =
      the track measuring the other strand of track `i` (itself when
      unstranded), as in calico's `targets.txt`.

  Returns:
    `[..., T, N]` with the bins reversed and, if given, tracks permuted.
  """
  target = tf.reverse(target, axis=[-2])  # [..., T, N]
  if strand_pair is not None:
    target = tf.gather(target, _checked_permutation(strand_pair), axis=-1)
  return target


def _checked_permutation(strand_pair: Sequence[int]) -> np.ndarray:
  pair = np.asarray(strand_pair)
  if pair.ndim != 1 or sorted(pair.tolist()) != list(range(len(pair))):
    raise ValueError('strand_pair must be a permutation of the track indices '
                     f'0..N-1, got {strand_pair!r}.')
  return pair.astype(np.int32)


def augment(example: Mapping[str, tf.Tensor], seed: tf.Tensor,
            max_shift: int = MAX_SHIFT, reverse_complement_prob: float = 0.5,
            strand_pair: Optional[Sequence[int]] = None):
  """Randomly shifts and reverse-complements one example.

  Args:
    example: `{'sequence': [L, 4], 'target': [T, N], ...}`; other keys pass
      through.
    seed: `[2]` int seed for stateless random ops.
    max_shift: shifts are drawn uniformly from `[-max_shift, max_shift]`.
    reverse_complement_prob: probability of reverse-complementing.
    strand_pair: optional track permutation applied with the reverse
      complement (see `reverse_targets`).

  Returns:
    A dict like `example` with the augmented `sequence` and `target`.
  """
  if int(max_shift) != max_shift or max_shift < 0:
    raise ValueError(
        f'max_shift must be a non-negative integer, got {max_shift!r}.')
  if not 0.0 <= reverse_complement_prob <= 1.0:
    raise ValueError('reverse_complement_prob must be in [0, 1], got '
                     f'{reverse_complement_prob!r}.')
  if strand_pair is not None:
    strand_pair = _checked_permutation(strand_pair)
  shift_seed, rc_seed = tf.unstack(
      tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2))
  shift = tf.random.stateless_uniform(
      [], shift_seed, minval=-max_shift, maxval=max_shift + 1, dtype=tf.int32)
  flip = tf.random.stateless_uniform([], rc_seed) < reverse_complement_prob
  sequence = shift_sequence(example['sequence'], shift)  # [L, 4]
  target = example['target']  # [T, N]
  sequence, target = tf.cond(
      flip,
      lambda: (reverse_complement(sequence),
               reverse_targets(target, strand_pair)),
      lambda: (sequence, target))
  return {**example, 'sequence': sequence, 'target': target}


def augment_dataset(dataset: tf.data.Dataset, seed: int = 0,
                    start_index: int = 0, max_shift: int = MAX_SHIFT,
                    reverse_complement_prob: float = 0.5,
                    strand_pair: Optional[Sequence[int]] = None,
                    num_parallel_calls=tf.data.AUTOTUNE) -> tf.data.Dataset:
  """Maps `augment` over an unbatched dataset of examples.

  The seed of the `i`-th element is `(seed, start_index + i)`: the result
  depends only on the seed and the element's position, never on how the
  pipeline was restarted.

  Args:
    dataset: unbatched `{'sequence': [L, 4], 'target': [T, N]}` examples.
    seed: base seed.
    start_index: position of the dataset's first element in the stream
      (the number of examples skipped when resuming).
    max_shift: see `augment`.
    reverse_complement_prob: see `augment`.
    strand_pair: see `augment`.
    num_parallel_calls: passed to `Dataset.map` (the output order is kept).

  Returns:
    The augmented dataset.
  """
  if strand_pair is not None:
    strand_pair = _checked_permutation(strand_pair)

  def _map(index, example):
    return augment(example, tf.stack([tf.cast(seed, tf.int64), index]),
                   max_shift=max_shift,
                   reverse_complement_prob=reverse_complement_prob,
                   strand_pair=strand_pair)

  return dataset.enumerate(start=start_index).map(
      _map, num_parallel_calls=num_parallel_calls, deterministic=True)
