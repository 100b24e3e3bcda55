"""Contribution scores: which bases of a sequence an Enformer prediction uses.

Three views of one model and one sequence (REFERENCE.md section 6):

- gradient x input of the *target*, the mask-weighted mean of one head's
  predictions, `sum(mask * y) / sum(mask)` over a `[bins, tracks]` mask; its
  sum over the four bases is the per-base contribution. This is exactly
  what the SavedModel's `contribution_input_grad(sequence, target_mask,
  head)` (`export/signatures.py`) returns on the centre `L` bp of its
  hub-length input (its scores on the cropped flanks are zero), so scores
  computed here and through TF Hub-style tools agree.
- in-silico mutagenesis (ISM): the change of the same target when each base
  of a window is replaced by each other base, one mutant at a time.
- the attention weights of each transformer layer, `[heads, T, T]` over the
  128-bp bins of the input.

Positions are 0-based offsets into the model's input sequence; the
`enformer-contrib` command (`contribution_files.py`) maps them to genome
coordinates.
"""
import dataclasses
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf

from enformer_tf.constants import BIN_SIZE

NUM_BASES = 4  # One-hot columns A, C, G, T.

# A selection of bins or tracks: one index, a `range`, or a sequence of
# indices; `None` selects all.
Selection = Union[None, int, range, Sequence[int]]


# -- Masks ---------------------------------------------------------------------


def check_head(model, head: str) -> int:
  """The number of tracks of `head`; raises if the model has no such head."""
  heads: Mapping[str, int] = model.heads
  if head not in heads:
    raise ValueError(f'Unknown head {head!r}; this model has the heads '
                     f'{sorted(heads)}.')
  return int(heads[head])


def output_bins(model, sequence_length: int) -> int:
  """Output bins of `model` for an input of `sequence_length` bp."""
  if model.target_length is not None:
    return int(model.target_length)
  length = sequence_length
  if model.sequence_length is not None:
    length = min(length, model.sequence_length)
  return int(length) // BIN_SIZE


def selected_indices(selection: Selection, size: int, what: str) -> List[int]:
  """Validated indices `0 <= i < size` of `selection` (`None`: all).

  Args:
    selection: `None`, one index, a `range`, or a sequence of indices.
    size: how many there are.
    what: the plural noun for messages, e.g. `'bins'`.

  Raises:
    ValueError: an index out of range, not an integer, repeated, or an empty
      selection; the message names `what` and the valid range.
  """
  if selection is None:
    return list(range(size))
  if isinstance(selection, (int, np.integer)) and not isinstance(
      selection, bool):
    selection = [selection]
  indices = list(selection)
  if not indices:
    raise ValueError(f'The selection of {what} is empty; give at least one '
                     f'index in 0..{size - 1}.')
  for index in indices:
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
      raise ValueError(f'{what} must be integer indices, got {index!r}.')
    if not 0 <= index < size:
      raise ValueError(f'{what} index {index} is out of range: there are '
                       f'{size} {what}, 0..{size - 1}.')
  if len(set(indices)) != len(indices):
    repeated = sorted({int(i) for i in indices if indices.count(i) > 1})
    raise ValueError(f'{what} {repeated} are selected more than once.')
  return [int(i) for i in indices]


def target_mask(num_bins: int, num_tracks: int, bins: Selection = None,
                tracks: Selection = None) -> np.ndarray:
  """A 0/1 float32 mask `[num_bins, num_tracks]`: 1 on the chosen bins x tracks.

  Args:
    num_bins: the model's output bins.
    num_tracks: the head's tracks.
    bins: the bins to explain (`None`: all).
    tracks: the tracks to explain (`None`: all).

  Raises:
    ValueError: see `selected_indices`.
  """
  mask = np.zeros([num_bins, num_tracks], np.float32)
  mask[np.ix_(selected_indices(bins, num_bins, 'bins'),
              selected_indices(tracks, num_tracks, 'tracks'))] = 1.0
  return mask


def head_mask(model, head: str, sequence_length: Optional[int] = None,
              bins: Selection = None, tracks: Selection = None) -> np.ndarray:
  """`target_mask` sized for `model`'s `head` (and input length)."""
  num_tracks = check_head(model, head)
  length = sequence_length or model.sequence_length
  if length is None:
    raise ValueError('The model has no fixed sequence_length; pass '
                     'sequence_length to size the mask.')
  return target_mask(output_bins(model, length), num_tracks, bins, tracks)


def _resolve_mask(model, head: str, sequence_length: int, mask,
                  bins: Selection, tracks: Selection) -> np.ndarray:
  """The float32 `[bins, tracks]` mask from `mask` or `bins` / `tracks`."""
  num_tracks = check_head(model, head)
  num_bins = output_bins(model, sequence_length)
  if mask is None:
    return target_mask(num_bins, num_tracks, bins, tracks)
  if bins is not None or tracks is not None:
    raise ValueError('Give either mask or bins/tracks, not both.')
  mask = np.asarray(mask, np.float32)
  if mask.shape != (num_bins, num_tracks):
    raise ValueError(
        f'mask has shape {list(mask.shape)}; expected [bins, tracks] = '
        f'[{num_bins}, {num_tracks}] for head {head!r}.')
  if not np.all(np.isfinite(mask)) or np.any(mask < 0) or mask.sum() <= 0:
    raise ValueError('mask must hold finite, non-negative weights with a '
                     'positive sum (it weights the mean prediction).')
  return mask


# -- Inputs --------------------------------------------------------------------


def _batch(model, one_hot) -> Tuple[np.ndarray, bool]:
  """`(one_hot as float32 [B, L, 4], whether a batch was given)`."""
  array = np.asarray(one_hot, np.float32)
  batched = array.ndim == 3
  if array.ndim not in (2, 3) or array.shape[-1] != NUM_BASES:
    raise ValueError(f'one_hot must have shape [length, 4] or [batch, '
                     f'length, 4] (columns A, C, G, T); got shape '
                     f'{list(array.shape)}.')
  if not batched:
    array = array[np.newaxis]
  if array.shape[0] == 0:
    raise ValueError('one_hot is an empty batch; give at least one sequence.')
  length = array.shape[1]
  if model.sequence_length is not None:
    # Longer inputs would be centre-cropped, silently giving zero
    # contributions to the cropped bases; ask for the exact length instead.
    if length != model.sequence_length:
      raise ValueError(
          f'one_hot has length {length:,} bp; this model takes exactly '
          f'sequence_length={model.sequence_length:,} bp (resize the '
          'interval to it).')
  elif length % BIN_SIZE or length // BIN_SIZE < (model.target_length or 1):
    raise ValueError(f'one_hot has length {length:,} bp; expected '
                     f'{model.valid_input_lengths()}.')
  if not np.all(np.isfinite(array)):
    raise ValueError('one_hot has non-finite values.')
  return array, batched


def _masked_mean(predictions: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
  """`sum(mask * y) / sum(mask)` per sequence: `[B, bins, tracks]` -> `[B]`."""
  predictions = tf.cast(predictions, tf.float32)
  return (tf.reduce_sum(mask * predictions, axis=[1, 2]) /
          tf.reduce_sum(mask))  # [B]


def _chunks(count: int, size: int) -> Iterable[slice]:
  if int(size) != size or size < 1:
    raise ValueError(f'batch_size must be a positive integer, got {size!r}.')
  return (slice(i, min(i + size, count)) for i in range(0, count, size))


def target_score(model, one_hot, head: str, mask=None, *,
                 bins: Selection = None, tracks: Selection = None,
                 batch_size: int = 8) -> np.ndarray:
  """The explained quantity: the mask-weighted mean prediction of `head`.

  Args:
    model: an Enformer.
    one_hot: `[L, 4]` or `[B, L, 4]`.
    head: the head (organism) to explain.
    mask: `[bins, tracks]` weights; or select with `bins` / `tracks`.
    bins: output bins to average over (`None`: all).
    tracks: the head's tracks to average over (`None`: all).
    batch_size: sequences per forward pass.

  Returns:
    float32: a scalar for `[L, 4]`, `[B]` for a batch.
  """
  x, batched = _batch(model, one_hot)
  mask = tf.constant(_resolve_mask(model, head, x.shape[1], mask, bins,
                                   tracks))
  scores = np.concatenate([
      _masked_mean(model.predict_head(x[s], head, training=False), mask)
      for s in _chunks(len(x), batch_size)])  # [B]
  return scores if batched else scores[0]


# -- Gradient x input ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GradientTimesInput:
  """Gradient x input of the masked mean prediction.

  Attributes:
    scores: `[..., L]`, `contributions` summed over the four bases: each
      base's contribution (the REFERENCE's contribution score).
    contributions: `[..., L, 4]`, gradient x one-hot (non-zero only in the
      column of the base present).
    gradients: `[..., L, 4]`, the gradient of the target for every base
      (what each substitution would do, to first order).
    target: `[...]`, the masked mean prediction being explained.
    mask: `[bins, tracks]`, the mask used.
  """
  scores: np.ndarray
  contributions: np.ndarray
  gradients: np.ndarray
  target: np.ndarray
  mask: np.ndarray


def gradient_times_input(model, one_hot, head: str, mask=None, *,
                         bins: Selection = None, tracks: Selection = None,
                         batch_size: int = 1) -> GradientTimesInput:
  """Gradient x input of `head`'s mean prediction under a `[bins, tracks]` mask.

  The target is `sum(mask * y) / sum(mask)` with `y = model.predict_head(x,
  head)` `[bins, tracks]` in inference mode, as in the SavedModel's
  `contribution_input_grad`.

  Args:
    model: an Enformer (anything with `predict_head`, `heads`,
      `sequence_length`, `target_length`).
    one_hot: `[L, 4]` or `[B, L, 4]`, `L` the model's `sequence_length`.
    head: the head (organism) to explain.
    mask: `[bins, tracks]` non-negative weights; or select with `bins` /
      `tracks` (a 0/1 mask, see `target_mask`).
    bins: output bins to explain (`None`: all).
    tracks: the head's tracks to explain (`None`: all).
    batch_size: sequences per forward and backward pass (a backward pass
      keeps every activation: one full-size sequence takes gigabytes).

  Returns:
    A `GradientTimesInput`; its arrays have no batch axis for `[L, 4]`.

  Raises:
    ValueError: unknown head, bins or tracks out of range, a mask of the
      wrong shape, or a sequence of the wrong shape or length.
  """
  x, batched = _batch(model, one_hot)
  mask = _resolve_mask(model, head, x.shape[1], mask, bins, tracks)
  mask_tensor = tf.constant(mask)
  gradients, targets = [], []
  for s in _chunks(len(x), batch_size):
    inputs = tf.constant(x[s])  # [b, L, 4]
    with tf.GradientTape() as tape:
      tape.watch(inputs)
      target = _masked_mean(
          model.predict_head(inputs, head, training=False), mask_tensor)  # [b]
    # Sequences are independent in inference mode, so the gradient of the
    # sum is each sequence's own gradient.
    gradients.append(tape.gradient(target, inputs).numpy())  # [b, L, 4]
    targets.append(target.numpy())
  gradients = np.concatenate(gradients).astype(np.float32)  # [B, L, 4]
  contributions = gradients * x  # [B, L, 4]
  result = GradientTimesInput(
      scores=contributions.sum(axis=-1), contributions=contributions,
      gradients=gradients, target=np.concatenate(targets), mask=mask)
  if batched:
    return result
  return dataclasses.replace(
      result, scores=result.scores[0], contributions=contributions[0],
      gradients=gradients[0], target=result.target[0])


# -- In-silico mutagenesis -----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class InSilicoMutagenesis:
  """Effects of every single-base substitution in a window.

  Attributes:
    effects: `[W, 4]`, target(mutant) - target(reference) for the base in
      each column (A, C, G, T); 0 in the reference base's column.
    reference: `[W, 4]`, the window's one-hot (an all-zero row is `N`, for
      which all four bases are substitutions).
    reference_score: the target of the unmutated sequence.
    window: `(start, end)`, the window's offsets in the sequence.
    mask: `[bins, tracks]`, the mask used.
  """
  effects: np.ndarray
  reference: np.ndarray
  reference_score: float
  window: Tuple[int, int]
  mask: np.ndarray

  @property
  def mean_effect(self) -> np.ndarray:
    """`[W]`: the mean effect of the substitutions at each position.

    Negative where mutating the base lowers the target, i.e. the base
    contributes positively (the sign of gradient x input).
    """
    substitutions = 1.0 - self.reference  # [W, 4], 1 where a mutant exists.
    return ((self.effects * substitutions).sum(axis=-1) /
            substitutions.sum(axis=-1))


def _checked_window(window, length: int) -> Tuple[int, int]:
  try:
    start, end = window
  except (TypeError, ValueError):
    raise ValueError(f'window must be (start, end) offsets into the '
                     f'sequence, got {window!r}.') from None
  for value in (start, end):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
      raise ValueError(f'window must be integer offsets (start, end), got '
                       f'{window!r}.')
  if not 0 <= start < end <= length:
    raise ValueError(f'window ({start}, {end}) is not inside the sequence: '
                     f'expected 0 <= start < end <= {length}.')
  return int(start), int(end)


def in_silico_mutagenesis(model, one_hot, head: str,
                          window: Tuple[int, int], mask=None, *,
                          bins: Selection = None, tracks: Selection = None,
                          batch_size: int = 8) -> InSilicoMutagenesis:
  """Every single-base substitution in `window`, scored by the masked mean.

  Costs one forward pass per substitution (3 per base, 4 at `N`), batched.

  Args:
    model: an Enformer.
    one_hot: `[L, 4]` (or `[1, L, 4]`), one-hot or all-zero (`N`) rows in
      the window.
    head: the head (organism) to explain.
    window: `(start, end)`, the offsets `[start, end)` to mutate.
    mask: `[bins, tracks]` non-negative weights; or select with `bins` /
      `tracks`.
    bins: output bins to explain (`None`: all).
    tracks: the head's tracks to explain (`None`: all).
    batch_size: mutants per forward pass.

  Returns:
    An `InSilicoMutagenesis`.

  Raises:
    ValueError: as `gradient_times_input`, and for a window outside the
      sequence, a batch of several sequences or rows in the window that are
      not one-hot.
  """
  x, _ = _batch(model, one_hot)
  if len(x) != 1:
    raise ValueError(f'in_silico_mutagenesis takes one sequence, [L, 4]; got '
                     f'a batch of {len(x)}.')
  x = x[0]  # [L, 4]
  start, end = _checked_window(window, len(x))
  mask = _resolve_mask(model, head, len(x), mask, bins, tracks)
  reference = x[start:end]  # [W, 4]
  if not (np.all((reference == 0) | (reference == 1)) and
          np.all(reference.sum(axis=-1) <= 1)):
    raise ValueError('in_silico_mutagenesis needs one-hot rows (or all-zero '
                     'rows for N) in the window; it found other values.')
  mask_tensor = tf.constant(mask)

  def score(batch):  # [b, L, 4] -> [b]
    return _masked_mean(model.predict_head(batch, head, training=False),
                        mask_tensor).numpy()

  reference_score = float(score(x[np.newaxis])[0])
  offsets, bases = np.nonzero(reference == 0)  # [M] each: the substitutions
  effects = np.zeros([end - start, NUM_BASES], np.float32)
  for s in _chunks(len(offsets), batch_size):
    batch = np.repeat(x[np.newaxis], s.stop - s.start, axis=0)  # [b, L, 4]
    rows = np.arange(s.stop - s.start)
    batch[rows, start + offsets[s]] = 0.0
    batch[rows, start + offsets[s], bases[s]] = 1.0
    effects[offsets[s], bases[s]] = score(batch) - reference_score
  return InSilicoMutagenesis(effects=effects, reference=reference.copy(),
                             reference_score=reference_score,
                             window=(start, end), mask=mask)


# -- Attention -----------------------------------------------------------------


def attention_maps(model, one_hot) -> List[np.ndarray]:
  """The attention weights of each transformer layer, as NumPy.

  Args:
    model: an Enformer.
    one_hot: `[L, 4]` or `[B, L, 4]`.

  Returns:
    One array per transformer layer: `[heads, T, T]` for `[L, 4]` (`[B,
    heads, T, T]` for a batch), `T = L / 128` bins of the whole input
    (before the output crop); row `i` is how bin `i` attends to every bin
    and sums to 1. Empty for a model without transformer layers.
  """
  x, batched = _batch(model, one_hot)
  maps = [w.numpy() for w in model.attention_weights(x)]  # [B, H, T, T] each
  return maps if batched else [m[0] for m in maps]
