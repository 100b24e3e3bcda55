"""Sequence encoding: exact arrays, round trips, NumPy vs TensorFlow."""
import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest
import tensorflow as tf

from enformer_tf.data import encoding

A, C, G, T, Z = ([1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1],
                 [0, 0, 0, 0])
IUPAC = 'ACGTRYKMBVDHSWN'
PROPERTIES = hypothesis.settings(max_examples=60, deadline=None)


# -- NumPy one-hot ------------------------------------------------------------


def test_one_hot_encode_exact():
  np.testing.assert_array_equal(
      encoding.one_hot_encode('ACGTN'), np.array([A, C, G, T, Z], np.float32))
  assert encoding.one_hot_encode('ACGTN').dtype == np.float32


def test_one_hot_encode_lowercase_same_as_uppercase():
  np.testing.assert_array_equal(encoding.one_hot_encode('acgtn'),
                                np.array([A, C, G, T, Z]))


def test_one_hot_encode_iupac_and_other_characters_are_zero():
  # IUPAC ambiguity codes, gap, digits, punctuation, space: all zero, not 0.25.
  encoded = encoding.one_hot_encode('RYKMBVDHSWnx-.*0 U')
  np.testing.assert_array_equal(encoded, np.zeros((18, 4)))


def test_one_hot_encode_mixed_and_dtype():
  encoded = encoding.one_hot_encode('aNcRgT', dtype=np.bool_)
  assert encoded.dtype == np.bool_
  np.testing.assert_array_equal(encoded, np.array([A, Z, C, Z, G, T], bool))
  np.testing.assert_array_equal(
      encoding.one_hot_encode(b'GATTACA', dtype=np.uint8),
      np.array([G, A, T, T, A, C, A], np.uint8))


def test_one_hot_encode_empty():
  assert encoding.one_hot_encode('').shape == (0, 4)


def test_one_hot_encode_non_ascii_raises_with_position():
  with pytest.raises(ValueError, match=r"non-ASCII character 'é' at position "
                     r'3'):
    encoding.one_hot_encode('ACGé')
  with pytest.raises(ValueError, match='non-ASCII byte 255 at position 1'):
    encoding.one_hot_encode(b'A\xffC')
  with pytest.raises(TypeError, match='str or bytes'):
    encoding.one_hot_encode(['A', 'C'])


def test_one_hot_encode_full_length_is_fast_and_right():
  rng = np.random.RandomState(0)
  indices = rng.randint(0, 5, size=393_216)
  sequence = np.frombuffer(b'ACGTN', np.uint8)[indices].tobytes().decode()
  encoded = encoding.one_hot_encode(sequence)  # [393216, 4]
  np.testing.assert_array_equal(encoded, np.eye(5, 4)[indices])
  assert encoding.one_hot_decode(encoded) == sequence


def test_sequence_to_indices():
  np.testing.assert_array_equal(encoding.sequence_to_indices('ACGTNacgtRx'),
                                [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 4])
  assert encoding.sequence_to_indices('A').dtype == np.uint8


# -- Decoding -----------------------------------------------------------------


def test_one_hot_decode_exact():
  assert encoding.one_hot_decode(np.array([G, A, Z, T, C])) == 'GANTC'
  assert encoding.one_hot_decode(np.array([A, T], bool)) == 'AT'
  assert encoding.one_hot_decode(np.zeros((0, 4))) == ''


def test_one_hot_decode_lossy_for_lowercase_and_iupac():
  assert encoding.one_hot_decode(encoding.one_hot_encode('acRgt')) == 'ACNGT'


@pytest.mark.parametrize('row', [[0.25, 0.25, 0.25, 0.25], [1, 1, 0, 0],
                                 [0.5, 0, 0, 0], [2, 0, 0, 0],
                                 [np.nan, 0, 0, 0]])
def test_one_hot_decode_rejects_rows_that_are_not_one_hot(row):
  array = np.array([A, C, row, T], np.float32)
  with pytest.raises(ValueError, match='position 2'):
    encoding.one_hot_decode(array)


def test_one_hot_decode_rejects_bad_shapes():
  with pytest.raises(ValueError, match=r'\[L, 4\]'):
    encoding.one_hot_decode(np.zeros((3, 5)))
  with pytest.raises(ValueError, match=r'\[L, 4\]'):
    encoding.one_hot_decode(np.zeros((2, 3, 4)))


# -- Reverse complement -------------------------------------------------------


def test_reverse_complement_exact():
  assert encoding.reverse_complement('AACGTTN') == 'NAACGTT'
  assert encoding.reverse_complement('acgT') == 'Acgt'
  assert encoding.reverse_complement('RYKMBVDHSWN') == 'NWSDHBVKMRY'
  assert encoding.reverse_complement('ryn') == 'nry'
  assert encoding.reverse_complement('') == ''


@pytest.mark.parametrize('sequence, char, position',
                         [('ACGU', 'U', 3), ('A-C', '-', 1), ('x', 'x', 0),
                          ('AC GT', ' ', 2), ('ACé', 'é', 2)])
def test_reverse_complement_rejects_other_characters(sequence, char,
                                                     position):
  with pytest.raises(ValueError, match=f'{char!r} at position {position}'):
    encoding.reverse_complement(sequence)


def test_reverse_complement_one_hot_exact():
  one_hot = np.array([A, A, C, Z, T], np.float32)  # AACNT
  np.testing.assert_array_equal(encoding.reverse_complement_one_hot(one_hot),
                                np.array([A, Z, G, T, T]))  # ANGTT
  batch = np.stack([one_hot, one_hot[::-1]])  # [2, 5, 4]
  out = encoding.reverse_complement_one_hot(batch)
  np.testing.assert_array_equal(out[0], np.array([A, Z, G, T, T]))
  out[0, 0, 0] = 7  # A copy, not a view of the input.
  assert batch.max() == 1


def test_reverse_complement_one_hot_rejects_bad_shape():
  with pytest.raises(ValueError, match=r'\[\.\.\., L, 4\]'):
    encoding.reverse_complement_one_hot(np.zeros(4))


# -- Base indices (Basenji seq_1hot layout) -----------------------------------


def test_indices_to_one_hot_exact():
  indices = np.array([0, 1, 2, 3, 4], np.uint8)
  np.testing.assert_array_equal(encoding.indices_to_one_hot(indices),
                                np.array([A, C, G, T, Z], np.float32))
  batch = encoding.indices_to_one_hot(np.array([[3, 4], [0, 0]]),
                                      dtype=np.bool_)
  assert batch.dtype == np.bool_ and batch.shape == (2, 2, 4)
  np.testing.assert_array_equal(batch, np.array([[T, Z], [A, A]], bool))


def test_indices_to_one_hot_rejects_out_of_range():
  with pytest.raises(ValueError, match='5 at position 2'):
    encoding.indices_to_one_hot(np.array([0, 1, 5]))
  with pytest.raises(ValueError, match='-1 at position'):
    encoding.indices_to_one_hot(np.array([-1]))
  with pytest.raises(ValueError, match='integer'):
    encoding.indices_to_one_hot(np.array([0.0, 1.0]))


def test_one_hot_to_indices_exact():
  indices = encoding.one_hot_to_indices(np.array([[G, Z], [T, A]]))
  assert indices.dtype == np.uint8
  np.testing.assert_array_equal(indices, [[2, 4], [3, 0]])
  with pytest.raises(ValueError, match=r'position \(1, 0\)'):
    encoding.one_hot_to_indices(np.array([[G, Z], [[0, 1, 1, 0], A]]))


# -- TensorFlow versions ------------------------------------------------------


def test_tf_one_hot_encode_matches_numpy_scalar():
  sequence = 'ACGTNacgtnRYxx-9'
  np.testing.assert_array_equal(
      encoding.tf_one_hot_encode(tf.constant(sequence)).numpy(),
      encoding.one_hot_encode(sequence))


def test_tf_one_hot_encode_matches_numpy_batch():
  batch = ['ACGTN', 'ttgca', 'RyNaG']
  out = encoding.tf_one_hot_encode(tf.constant(batch))
  assert out.dtype == tf.float32 and out.shape == (3, 5, 4)
  np.testing.assert_array_equal(
      out.numpy(), np.stack([encoding.one_hot_encode(s) for s in batch]))


def test_tf_one_hot_encode_in_tf_function_with_signature():
  encode = tf.function(encoding.tf_one_hot_encode,
                       input_signature=[tf.TensorSpec([None], tf.string)])
  out = encode(tf.constant(['GATC', 'gNtc']))
  np.testing.assert_array_equal(out.numpy(),
                                np.array([[G, A, T, C], [G, Z, T, C]]))
  with pytest.raises(tf.errors.InvalidArgumentError, match='ASCII'):
    encode(tf.constant(['ACé']))


def test_tf_one_hot_encode_in_saved_model(tmp_path):
  module = tf.Module()
  module.encode = tf.function(
      encoding.tf_one_hot_encode,
      input_signature=[tf.TensorSpec([], tf.string)])
  tf.saved_model.save(module, str(tmp_path))
  loaded = tf.saved_model.load(str(tmp_path))
  np.testing.assert_array_equal(loaded.encode(tf.constant('TnA')).numpy(),
                                np.array([T, Z, A]))


def test_tf_one_hot_encode_errors():
  with pytest.raises(tf.errors.InvalidArgumentError, match='same size'):
    encoding.tf_one_hot_encode(tf.constant(['AC', 'ACG']))
  with pytest.raises(tf.errors.InvalidArgumentError, match='ASCII'):
    encoding.tf_one_hot_encode(tf.constant('AC\xe9'))
  with pytest.raises(ValueError, match='scalar or'):
    encoding.tf_one_hot_encode(tf.constant([['A']]))


def test_tf_reverse_complement_matches_numpy():
  one_hot = np.stack([encoding.one_hot_encode('AACNT'),
                      encoding.one_hot_encode('GGGTA')])  # [2, 5, 4]
  np.testing.assert_array_equal(
      encoding.tf_reverse_complement(tf.constant(one_hot)).numpy(),
      encoding.reverse_complement_one_hot(one_hot))
  with pytest.raises(ValueError, match=r'\[\.\.\., L, 4\]'):
    encoding.tf_reverse_complement(tf.zeros([3, 5]))


def test_tf_indices_to_one_hot():
  indices = np.array([[0, 1, 2, 3, 4]], np.uint8)
  np.testing.assert_array_equal(
      encoding.tf_indices_to_one_hot(tf.constant(indices)).numpy(),
      encoding.indices_to_one_hot(indices))
  # Like Basenji's reader: values past 4 are N as well.
  np.testing.assert_array_equal(
      encoding.tf_indices_to_one_hot(tf.constant([200, 2], tf.uint8)).numpy(),
      np.array([Z, G]))
  np.testing.assert_array_equal(
      encoding.tf_indices_to_one_hot(tf.constant([3], tf.int16)).numpy(),
      np.array([T]))


# -- Properties ---------------------------------------------------------------

acgtn = st.text(alphabet='ACGTN', max_size=200)
iupac = st.text(alphabet=IUPAC + IUPAC.lower(), max_size=200)


@PROPERTIES
@hypothesis.given(acgtn)
def test_decode_encode_round_trip(sequence):
  assert encoding.one_hot_decode(encoding.one_hot_encode(sequence)) == sequence


@PROPERTIES
@hypothesis.given(iupac)
def test_reverse_complement_twice_is_identity(sequence):
  assert encoding.reverse_complement(
      encoding.reverse_complement(sequence)) == sequence


@PROPERTIES
@hypothesis.given(iupac)
def test_one_hot_of_reverse_complement_is_reverse_complement_of_one_hot(
    sequence):
  np.testing.assert_array_equal(
      encoding.one_hot_encode(encoding.reverse_complement(sequence)),
      encoding.reverse_complement_one_hot(encoding.one_hot_encode(sequence)))


@PROPERTIES
@hypothesis.given(st.lists(st.integers(0, 4), max_size=200))
def test_indices_round_trip(values):
  indices = np.array(values, np.uint8)
  np.testing.assert_array_equal(
      encoding.one_hot_to_indices(encoding.indices_to_one_hot(indices)),
      indices)


@PROPERTIES
@hypothesis.given(st.text(alphabet=st.characters(max_codepoint=127),
                          max_size=100))
def test_numpy_and_tf_agree_on_any_ascii(sequence):
  np.testing.assert_array_equal(
      encoding.tf_one_hot_encode(tf.constant(sequence)).numpy(),
      encoding.one_hot_encode(sequence))
