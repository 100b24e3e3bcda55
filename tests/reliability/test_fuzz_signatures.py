"""Fuzzing the exported SavedModel's signatures with arbitrary inputs.

Each example is a valid input with random damage (bytes replaced by any
byte, strings cut or lengthened, rows set to 0.25, NaN, 2, several ones,
shapes of another rank, length or width). A plain Python oracle says what
the signature must do: return the same numbers as the twin signature (the
DNA strings' one-hot encoding through the one-hot signature, and back), or
raise the one `InvalidArgumentError` that names the first problem in the
order the graph checks them (rank, length, batch, values / letters), with
the values shown. Nothing else may escape (no `UnicodeDecodeError`, no
crash).
"""
import re

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest
import tensorflow as tf

import exported_models
from reliability import tiny_serving
from reliability.tiny_serving import DNA_SIGNATURES, L, ONE_HOT_TWIN

FUZZ = hypothesis.settings(max_examples=40, deadline=None,
                           suppress_health_check=[
                               hypothesis.HealthCheck.too_slow])
DNA_TWIN = {one_hot: dna for dna, one_hot in ONE_HOT_TWIN.items()}
VALID_LETTERS = frozenset(b'ACGTNacgtn')
# How TensorFlow's Assert prints a printable character (C escaping).
_C_ESCAPES = {ord('"'): '\\"', ord("'"): "\\'", ord('\\'): '\\\\'}
# The fix makes the DNA signatures show a byte that is not printable ASCII
# as 0xhh; without it such a byte ends up raw in the error message, which is
# then not UTF-8 and the call raises UnicodeDecodeError.


@pytest.fixture(scope='module')
def loaded(tmp_path_factory):
  """The run's shared tiny export, loaded once per process."""
  return exported_models.tiny_loaded(tmp_path_factory)


# -- Oracles -------------------------------------------------------------------


def letter_text(byte: int) -> str:
  """How the fixed signature shows an invalid byte in its message."""
  if 32 <= byte < 127:
    return _C_ESCAPES.get(byte, chr(byte))
  return f'0x{byte:02x}'


def dna_problem(batch, check_unprintable: bool = True):
  """The regex the DNA signature's error must match, or None if valid.

  With `check_unprintable=False` the regex does not say how a byte that is
  not printable ASCII is shown (only the fix defines that).
  """
  lengths = [len(s) for s in batch]
  if any(length != L for length in lengths):
    shown = ' '.join(str(n) for n in lengths)
    return (re.escape(f'Invalid input `dna`: expected each string to be '
                      f'exactly {L} letters') + r'.*got lengths\] ' +
            re.escape(f'[{shown}]'))
  for row, string in enumerate(batch):
    for position, byte in enumerate(string):
      if byte not in VALID_LETTERS:
        where = f':] [{row}] [{position}] ['
        if check_unprintable or 32 <= byte < 127:
          where += letter_text(byte) + ']'
        return (re.escape('Invalid input `dna`: expected only the letters '
                          'A, C, G, T and N') + '.*' + re.escape(where))
  return None


def one_hot_of(batch) -> np.ndarray:
  """float32 `[B, L, 4]` of valid DNA strings: ACGT columns, N zero."""
  index = {**{ord(c): i for i, c in enumerate('ACGT')},
           **{ord(c): i for i, c in enumerate('acgt')}}
  codes = np.array([[index.get(b, 4) for b in s] for s in batch])
  return tiny_serving.one_hot(codes)


def one_hot_problem(array: np.ndarray):
  """The regex the one-hot signature's error must match, or None."""
  shape = re.escape('[' + ' '.join(str(d) for d in array.shape) + ']')
  if array.ndim != 3 or array.shape[2] != 4:
    return re.escape(f'expected shape [batch, {L}, 4]') + r'.*got shape\] ' + (
        shape)
  if array.shape[1] != L:
    return re.escape(f'exactly {L} bp') + r'.*got shape\] ' + shape
  if array.shape[0] == 0:
    return r'empty batch.*got shape\] ' + shape
  rows_valid = np.all((array == 0) | (array == 1), axis=-1) & (
      array.sum(-1) <= 1)
  if not rows_valid.all():
    return r'Invalid input `sequence`: every row must be one-hot'
  return None


def dna_of(array: np.ndarray):
  """DNA strings (upper case, N for zero rows) of a valid one-hot batch."""
  letters = np.frombuffer(b'ACGTN', np.uint8)
  codes = np.where(array.sum(-1) > 0, array.argmax(-1), 4)
  return [letters[row].tobytes() for row in codes]


# -- Strategies ----------------------------------------------------------------


@st.composite
def damaged_dna(draw, damage_bytes):
  """A batch of 1-3 DNA strings, each valid or damaged in one way."""
  batch = []
  for _ in range(draw(st.integers(1, 3))):
    rng = np.random.RandomState(draw(st.integers(0, 2**16)))
    letters = np.frombuffer(b'ACGTNacgtn', np.uint8)
    string = bytearray(letters[rng.randint(0, 10, L)].tobytes())
    damage = draw(st.sampled_from(['none', 'none', 'bytes', 'bytes',
                                   'length', 'empty']))
    if damage == 'bytes':
      for _ in range(draw(st.integers(1, 3))):
        string[draw(st.integers(0, L - 1))] = draw(damage_bytes)
    elif damage == 'length':
      delta = draw(st.integers(-L, 40).filter(bool))
      string = (string[:L + delta] if delta < 0 else
                string + bytes(draw(st.lists(damage_bytes, min_size=delta,
                                             max_size=delta))))
    elif damage == 'empty':
      string = bytearray()
    batch.append(bytes(string))
  return batch


ascii_bytes = st.integers(0, 127)
any_bytes = st.one_of(st.integers(128, 255), st.integers(0, 255))


@st.composite
def damaged_one_hot(draw):
  """A one-hot batch, maybe of another shape, maybe with bad rows."""
  batch = draw(st.sampled_from([1, 1, 2, 0]))
  length = draw(st.sampled_from([L, L, L, L - 1, L + 1, L // 2, 0]))
  width = draw(st.sampled_from([4, 4, 4, 4, 3, 5]))
  rng = np.random.RandomState(draw(st.integers(0, 2**16)))
  array = np.eye(5, 4, dtype=np.float32)[rng.randint(0, 5, (batch, length))]
  if width != 4:
    array = np.zeros((batch, length, width), np.float32)
  if array.size and draw(st.booleans()):
    for _ in range(draw(st.integers(1, 3))):
      row = tuple(draw(st.integers(0, d - 1)) for d in array.shape[:2])
      bad_row = draw(st.sampled_from([
          [0.25] * 4, [1, 1, 0, 0], [np.nan, 0, 0, 0], [2, 0, 0, 0],
          [-1, 0, 0, 0], [np.inf, 0, 0, 0], [0.5, 0.5, 0, 0]]))
      array[row] = (bad_row + [0] * width)[:width]
  rank = draw(st.sampled_from(['3', '3', '3', '2', '4', '1']))
  if rank == '2':
    array = array.reshape(-1, width)
  elif rank == '4':
    array = array[..., np.newaxis]
  elif rank == '1':
    array = array.reshape(-1)
  return array


# -- Properties ----------------------------------------------------------------


def check_dna(loaded, name, batch, check_unprintable=True):
  problem = dna_problem(batch, check_unprintable)
  signature = loaded.signatures[name]
  if problem is not None:
    with pytest.raises(tf.errors.InvalidArgumentError, match=problem):
      signature(dna=tf.constant(batch, tf.string))
    return
  result = signature(dna=tf.constant(batch, tf.string))
  twin = loaded.signatures[ONE_HOT_TWIN[name]](
      sequence=tf.constant(one_hot_of(batch)))
  assert set(result) == set(twin)
  for key in twin:
    np.testing.assert_array_equal(result[key].numpy(), twin[key].numpy())


@FUZZ
@hypothesis.given(name=st.sampled_from(DNA_SIGNATURES),
                  batch=damaged_dna(ascii_bytes))
def test_dna_signatures_with_damaged_ascii(loaded, name, batch):
  check_dna(loaded, name, batch, check_unprintable=False)


# Derandomized and not shrunk: it fails at once without the fix.
@hypothesis.settings(FUZZ, derandomize=True, phases=[
    hypothesis.Phase.explicit, hypothesis.Phase.generate])
@hypothesis.given(name=st.sampled_from(DNA_SIGNATURES),
                  batch=damaged_dna(any_bytes))
def test_dna_signatures_with_any_bytes(loaded, name, batch):
  check_dna(loaded, name, batch)


@pytest.mark.parametrize('damage', [b'\xff', b'\x80', b'\xc3', b'\xc3\xa9',
                                    b'\x00'])
def test_dna_signature_names_a_non_printable_byte(loaded, damage):
  """One case of each kind, so that the fix is checked deterministically."""
  good = tiny_serving.dna_bytes(tiny_serving.random_codes(2, seed=3))
  bad = good[1][:700] + damage + good[1][700 + len(damage):]
  check_dna(loaded, 'human_dna', [good[0], bad])


@FUZZ
@hypothesis.given(name=st.sampled_from(list(DNA_TWIN)),
                  array=damaged_one_hot())
def test_one_hot_signatures_with_damaged_input(loaded, name, array):
  problem = one_hot_problem(array)
  signature = loaded.signatures[name]
  if problem is not None:
    with pytest.raises(tf.errors.InvalidArgumentError, match=problem):
      signature(sequence=tf.constant(array))
    return
  result = signature(sequence=tf.constant(array))
  twin = loaded.signatures[DNA_TWIN[name]](dna=tf.constant(dna_of(array)))
  for key in twin:
    np.testing.assert_array_equal(result[key].numpy(), twin[key].numpy())
    assert np.all(np.isfinite(result[key].numpy()))
