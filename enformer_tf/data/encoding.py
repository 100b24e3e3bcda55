"""DNA sequence encoding: one-hot, base indices, reverse complement.

One convention throughout the package (REFERENCE.md sections 1 and 4):

- one-hot `[..., L, 4]` in the column order `ALPHABET = 'ACGT'`, upper or
  lower case alike; `N`, the IUPAC ambiguity codes and every other ASCII
  character are all-zero rows (not 0.25, which is what kipoiseq and
  Basenji's `n_uniform` option use);
- base indices `[..., L]` uint8, `0..3 = A, C, G, T` and `4 = N`: the layout
  of the newer Basenji writers (`seq_1hot: true` in `statistics.json`;
  baskerville `dna.dna_1hot_index` writes it, `dataset.SeqDataset` reads it
  with `one_hot(depth=5)` and drops the `N` column);
- one row per character: input must be ASCII. A non-ASCII character raises
  `ValueError` (NumPy) or `InvalidArgumentError` (TensorFlow) rather than
  being encoded, since it would be one character but several UTF-8 bytes and
  so shift every later position between the two implementations.

Because the columns are in ACGT order, the complement of a one-hot row is the
row reversed, so the reverse complement of `[..., L, 4]` reverses the last
two axes.

The NumPy functions use a 256-entry byte lookup table (no Python loop per
base); the `tf_` functions do the same inside the graph, so they work in
`tf.data` pipelines, `tf.function`s with an input signature and SavedModels.
"""
from typing import Union

import numpy as np
import tensorflow as tf

ALPHABET = 'ACGT'
N_INDEX = 4  # Base index of N (and of anything that is not A, C, G or T).

# IUPAC nucleotide codes and their complements (upper case; lower case
# mirrors them). S, W and N are their own complements.
_IUPAC_COMPLEMENT = {
    'A': 'T', 'C': 'G', 'G': 'C', 'T': 'A',
    'R': 'Y', 'Y': 'R', 'K': 'M', 'M': 'K',
    'B': 'V', 'V': 'B', 'D': 'H', 'H': 'D',
    'S': 'S', 'W': 'W', 'N': 'N',
}
IUPAC_CODES = ''.join(_IUPAC_COMPLEMENT)  # 'ACGTRYKMBVDHSWN', upper case.
_COMPLEMENT = {**_IUPAC_COMPLEMENT,
               **{k.lower(): v.lower() for k, v in _IUPAC_COMPLEMENT.items()}}
_COMPLEMENT_TABLE = str.maketrans(_COMPLEMENT)
_COMPLEMENT_LETTERS = frozenset(_COMPLEMENT)

# [256] uint8: byte -> base index (A/a=0, C/c=1, G/g=2, T/t=3, else 4).
_BYTE_TO_INDEX = np.full(256, N_INDEX, dtype=np.uint8)
for _i, _base in enumerate(ALPHABET):
  _BYTE_TO_INDEX[ord(_base)] = _i
  _BYTE_TO_INDEX[ord(_base.lower())] = _i
del _i, _base
_BYTE_TO_INDEX.setflags(write=False)

# [5] bytes: base index -> letter.
_INDEX_TO_BYTE = np.frombuffer((ALPHABET + 'N').encode('ascii'), np.uint8)

# [256, 4] float32: byte -> one-hot row, the table the graph version gathers
# from.
_BYTE_TO_ONE_HOT = np.eye(5, 4, dtype=np.float32)[_BYTE_TO_INDEX]
_BYTE_TO_ONE_HOT.setflags(write=False)

SequenceLike = Union[str, bytes, bytearray, memoryview]


def _one_hot_table(dtype) -> np.ndarray:
  """[5, 4] in `dtype`: rows 0..3 the identity, row 4 (N) zeros."""
  return np.eye(5, 4, dtype=dtype)


def _ascii_codes(sequence: SequenceLike, name: str = 'sequence') -> np.ndarray:
  """The ASCII codes of `sequence` as uint8 `[L]`, one per character."""
  if isinstance(sequence, str):
    try:
      data = sequence.encode('ascii')
    except UnicodeEncodeError as e:
      raise ValueError(
          f'{name} has the non-ASCII character {sequence[e.start]!r} at '
          f'position {e.start}; expected DNA letters (A, C, G, T, N, IUPAC '
          f'codes).') from None
    return np.frombuffer(data, np.uint8)
  if isinstance(sequence, (bytes, bytearray, memoryview)):
    codes = np.frombuffer(sequence, np.uint8)
    non_ascii = np.flatnonzero(codes >= 128)
    if non_ascii.size:
      raise ValueError(
          f'{name} has the non-ASCII byte {int(codes[non_ascii[0]])} at '
          f'position {non_ascii[0]}; expected DNA letters (A, C, G, T, N, '
          f'IUPAC codes).')
    return codes
  raise TypeError(f'{name} must be a str or bytes; got '
                  f'{type(sequence).__name__}.')


def sequence_to_indices(sequence: SequenceLike) -> np.ndarray:
  """Base indices of a DNA string: uint8 `[L]`, A,C,G,T = 0..3, else 4.

  Args:
    sequence: DNA as `str` or ASCII `bytes`, either case.

  Returns:
    uint8 `[len(sequence)]`.

  Raises:
    ValueError: `sequence` has a non-ASCII character.
  """
  return _BYTE_TO_INDEX[_ascii_codes(sequence)]


def one_hot_encode(sequence: SequenceLike, dtype=np.float32) -> np.ndarray:
  """One-hot encodes DNA: `[L, 4]` in ACGT column order, N and others zero.

  A, C, G, T (either case) set their column; `N`, IUPAC ambiguity codes and
  every other ASCII character give an all-zero row.

  Args:
    sequence: DNA as `str` or ASCII `bytes`.
    dtype: NumPy dtype of the result (`np.float32`, `bool`, ...).

  Returns:
    `[len(sequence), 4]` array of `dtype`.

  Raises:
    ValueError: `sequence` has a non-ASCII character (its position is named).
  """
  return _one_hot_table(dtype)[sequence_to_indices(sequence)]  # [L, 4]


def _check_one_hot_shape(array: np.ndarray, name: str) -> None:
  if array.ndim < 2 or array.shape[-1] != 4:
    raise ValueError(f'{name} must have shape [..., L, 4]; got '
                     f'{tuple(array.shape)}.')


def one_hot_to_indices(one_hot) -> np.ndarray:
  """Base indices of a one-hot array: `[..., L, 4]` -> uint8 `[..., L]`.

  Args:
    one_hot: rows that are one-hot (one 1, three 0s) or all zero (N); any
      numeric or bool dtype.

  Returns:
    uint8 `[..., L]`: 0..3 for A, C, G, T and 4 for an all-zero row.

  Raises:
    ValueError: the shape is not `[..., L, 4]`, or a row is neither one-hot
      nor all zero (e.g. 0.25 for N); the first such position is named.
  """
  array = np.asarray(one_hot)
  _check_one_hot_shape(array, 'one_hot')
  nonzero = np.count_nonzero(array, axis=-1)  # [..., L]
  valid = nonzero <= 1
  if array.dtype != np.bool_:
    valid &= np.all((array == 0) | (array == 1), axis=-1)
  if not np.all(valid):
    position = tuple(int(i) for i in np.argwhere(~valid)[0])
    where = position[0] if len(position) == 1 else position
    raise ValueError(
        f'one_hot row at position {where} is {array[position].tolist()}; '
        f'expected a one-hot row (A, C, G, T) or all zeros (N).')
  indices = np.argmax(array, axis=-1).astype(np.uint8)  # [..., L]
  indices[nonzero == 0] = N_INDEX
  return indices


def indices_to_one_hot(indices, dtype=np.float32) -> np.ndarray:
  """One-hot rows from base indices: `[..., L]` -> `[..., L, 4]`.

  Args:
    indices: integer array, 0..3 for A, C, G, T and 4 for N (Basenji's
      `seq_1hot` layout).
    dtype: NumPy dtype of the result.

  Returns:
    `[..., L, 4]` array of `dtype`; index 4 gives an all-zero row.

  Raises:
    ValueError: `indices` is not an integer array or has a value outside
      0..4 (the first such position is named). `tf_indices_to_one_hot`, made
      for the input pipeline, maps such values to zeros instead.
  """
  array = np.asarray(indices)
  if not np.issubdtype(array.dtype, np.integer):
    raise ValueError(f'indices must be an integer array; got dtype '
                     f'{array.dtype}.')
  bad = (array < 0) | (array > N_INDEX)
  if np.any(bad):
    position = tuple(int(i) for i in np.argwhere(bad)[0])
    where = position[0] if len(position) == 1 else position
    raise ValueError(f'indices has {array[position]} at position {where}; '
                     f'expected 0..3 (A, C, G, T) or 4 (N).')
  return _one_hot_table(dtype)[array]  # [..., L, 4]


def one_hot_decode(one_hot) -> str:
  """DNA string of a one-hot `[L, 4]` array; all-zero rows become `N`.

  Args:
    one_hot: `[L, 4]`, each row one-hot or all zero.

  Returns:
    Upper-case string over `ACGTN` of length `L`.

  Raises:
    ValueError: the shape is not `[L, 4]` or a row is neither one-hot nor
      all zero (its position is named).
  """
  array = np.asarray(one_hot)
  if array.ndim != 2 or array.shape[-1] != 4:
    raise ValueError(f'one_hot must have shape [L, 4]; got '
                     f'{tuple(array.shape)}.')
  return _INDEX_TO_BYTE[one_hot_to_indices(array)].tobytes().decode('ascii')


def reverse_complement(sequence: str) -> str:
  """Reverse complement of a DNA string, IUPAC codes included.

  Case is preserved. A<->T, C<->G, R<->Y, K<->M, B<->V, D<->H; S, W and N are
  their own complements.

  Args:
    sequence: DNA over the IUPAC nucleotide codes, either case.

  Returns:
    The reverse complement, same length.

  Raises:
    ValueError: `sequence` has any other character (gaps `-`, `U`, digits,
      ...): it has no complement, and passing it through unchanged would hide
      a malformed input. The first such character and its position are named.
  """
  if not isinstance(sequence, str):
    raise TypeError(f'sequence must be a str; got {type(sequence).__name__}.')
  unknown = set(sequence).difference(_COMPLEMENT_LETTERS)
  if unknown:
    position = min(sequence.index(c) for c in unknown)
    raise ValueError(
        f'sequence has {sequence[position]!r} at position {position}, which '
        f'has no complement; expected IUPAC nucleotide codes '
        f'(ACGTRYKMBVDHSWN, either case).')
  return sequence.translate(_COMPLEMENT_TABLE)[::-1]


def reverse_complement_one_hot(one_hot) -> np.ndarray:
  """Reverse complement of one-hot DNA `[..., L, 4]` (ACGT order).

  Args:
    one_hot: `[..., L, 4]`; zero rows (N) stay zero.

  Returns:
    A new `[..., L, 4]` array: positions reversed, columns reversed (the
    complement in ACGT order).
  """
  array = np.asarray(one_hot)
  _check_one_hot_shape(array, 'one_hot')
  return array[..., ::-1, ::-1].copy()


# -- TensorFlow versions (in-graph) ------------------------------------------


def tf_one_hot_encode(dna: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
  """One-hot encodes `tf.string` DNA in the graph, like `one_hot_encode`.

  Args:
    dna: `tf.string` scalar, or `[B]` of strings that all have one length.
    dtype: float dtype of the result.

  Returns:
    `[L, 4]` for a scalar, `[B, L, 4]` for a vector.

  Raises:
    ValueError: `dna` is not a scalar or vector (static rank).
    tf.errors.InvalidArgumentError: at run time, if a string has a
      non-ASCII byte, or the strings of a batch differ in length.
  """
  dna = tf.convert_to_tensor(dna, dtype=tf.string)
  if dna.shape.rank not in (0, 1):
    raise ValueError(f'dna must be a tf.string scalar or [B] vector; got '
                     f'shape {dna.shape}.')
  codes = tf.io.decode_raw(dna, tf.uint8)  # [L] or [B, L]
  check = tf.debugging.assert_less(
      codes, tf.constant(128, tf.uint8),
      message='tf_one_hot_encode: dna must be ASCII (one byte per base); '
      'it has a byte >= 128')
  with tf.control_dependencies([check] if check is not None else []):
    codes = tf.cast(codes, tf.int32)
  table = tf.constant(_BYTE_TO_ONE_HOT, dtype=dtype)  # [256, 4]
  return tf.gather(table, codes)  # [..., L, 4]


def tf_reverse_complement(one_hot: tf.Tensor) -> tf.Tensor:
  """Reverse complement of one-hot DNA `[..., L, 4]` in the graph."""
  one_hot = tf.convert_to_tensor(one_hot)
  if one_hot.shape.rank is not None and (
      one_hot.shape.rank < 2 or one_hot.shape[-1] not in (None, 4)):
    raise ValueError(f'one_hot must have shape [..., L, 4]; got '
                     f'{one_hot.shape}.')
  return tf.reverse(one_hot, axis=[-2, -1])  # [..., L, 4]


def tf_indices_to_one_hot(indices: tf.Tensor, dtype=tf.float32) -> tf.Tensor:
  """One-hot rows from base indices in the graph: `[..., L]` -> `[..., L, 4]`.

  As Basenji's reader does, any value outside 0..3 (4 = N, but also anything
  larger) gives an all-zero row; nothing is checked at run time.

  Args:
    indices: integer tensor, usually uint8 decoded from a TFRecord.
    dtype: dtype of the result.

  Returns:
    `[..., L, 4]` of `dtype`.
  """
  indices = tf.convert_to_tensor(indices)
  if indices.dtype not in (tf.uint8, tf.int32, tf.int64):
    if not indices.dtype.is_integer:
      raise ValueError(f'indices must be an integer tensor; got '
                       f'{indices.dtype.name}.')
    indices = tf.cast(indices, tf.int64)
  return tf.one_hot(indices, depth=4, dtype=dtype)  # [..., L, 4]
