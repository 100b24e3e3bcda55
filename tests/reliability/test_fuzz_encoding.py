"""Fuzzing DNA encoding, reverse complement, interval resizing, FASTA reading.

Arbitrary input (any Unicode text, any bytes, any float rows, any integer
coordinates) either gives the documented result, checked against a plain
Python oracle written here, or the documented error (`ValueError`,
`TypeError`; `InvalidArgumentError` in the graph) whose message names the
first offending position. Nothing else may escape: no `IndexError`, no
`OverflowError`, no silently wrong rows. (BED and region parsing are
fuzzed in test_fuzz_regions.py.)
"""
import re
from typing import NamedTuple

import hypothesis
import hypothesis.extra.numpy as hnp
import hypothesis.strategies as st
import numpy as np
import pytest
import tensorflow as tf

from enformer_tf.data import encoding
from enformer_tf.data import genome

FAST = hypothesis.settings(max_examples=80, deadline=None)
GRAPH = hypothesis.settings(max_examples=40, deadline=None)
IUPAC_COMPLEMENT = dict(zip('ACGTRYKMBVDHSWN', 'TGCAYRMKVBHDSWN'))
IUPAC_COMPLEMENT.update({k.lower(): v.lower()
                         for k, v in IUPAC_COMPLEMENT.items()})
ONE_HOT_ROW = {'A': [1, 0, 0, 0], 'C': [0, 1, 0, 0], 'G': [0, 0, 1, 0],
               'T': [0, 0, 0, 1]}


class Interval(NamedTuple):
  chrom: str
  start: int
  end: int
  strand: str = '+'


# -- Oracles -------------------------------------------------------------------


def oracle_one_hot(sequence: str) -> np.ndarray:
  """One row per character: ACGT (either case) one-hot, anything else zero."""
  return np.array([ONE_HOT_ROW.get(c.upper(), [0, 0, 0, 0])
                   for c in sequence], np.float32).reshape(-1, 4)


def first_non_ascii(sequence):
  """Index of the first character (or byte) that is not ASCII, or None."""
  codes = sequence if isinstance(sequence, bytes) else map(ord, sequence)
  return next((i for i, code in enumerate(codes) if code >= 128), None)


# -- One-hot encoding ----------------------------------------------------------


@FAST
@hypothesis.given(st.text(max_size=300))
def test_one_hot_encode_any_text(sequence):
  position = first_non_ascii(sequence)
  if position is None:
    encoded = encoding.one_hot_encode(sequence)
    assert encoded.dtype == np.float32
    np.testing.assert_array_equal(encoded, oracle_one_hot(sequence))
  else:
    with pytest.raises(ValueError, match=re.escape(
        f'non-ASCII character {sequence[position]!r} at position '
        f'{position};')):
      encoding.one_hot_encode(sequence)


@FAST
@hypothesis.given(st.binary(max_size=300))
def test_one_hot_encode_any_bytes(sequence):
  position = first_non_ascii(sequence)
  if position is None:
    np.testing.assert_array_equal(encoding.one_hot_encode(sequence),
                                  oracle_one_hot(sequence.decode('ascii')))
  else:
    with pytest.raises(ValueError, match=(
        f'non-ASCII byte {sequence[position]} at position {position};')):
      encoding.one_hot_encode(sequence)


@FAST
@hypothesis.given(st.text(alphabet=st.characters(max_codepoint=127),
                          max_size=300))
def test_decode_of_encode_is_upper_case_acgt_and_n_for_the_rest(sequence):
  expected = ''.join(c.upper() if c.upper() in 'ACGT' else 'N'
                     for c in sequence)
  assert encoding.one_hot_decode(encoding.one_hot_encode(sequence)) == expected


@GRAPH
@hypothesis.given(st.binary(max_size=200))
def test_tf_one_hot_encode_any_bytes(sequence):
  """The graph version agrees with NumPy or raises its documented error."""
  if first_non_ascii(sequence) is None:
    np.testing.assert_array_equal(
        encoding.tf_one_hot_encode(tf.constant(sequence)).numpy(),
        oracle_one_hot(sequence.decode('ascii')))
  else:
    with pytest.raises(tf.errors.InvalidArgumentError, match='ASCII'):
      encoding.tf_one_hot_encode(tf.constant(sequence))


@GRAPH
@hypothesis.given(st.integers(1, 4).flatmap(
    lambda batch: st.integers(0, 60).flatmap(
        lambda length: st.lists(st.binary(min_size=length, max_size=length),
                                min_size=batch, max_size=batch))))
def test_tf_one_hot_encode_any_batch_of_equal_length_bytes(batch):
  if all(first_non_ascii(s) is None for s in batch):
    np.testing.assert_array_equal(
        encoding.tf_one_hot_encode(tf.constant(batch)).numpy(),
        np.stack([oracle_one_hot(s.decode('ascii')) for s in batch]))
  else:
    with pytest.raises(tf.errors.InvalidArgumentError, match='ASCII'):
      encoding.tf_one_hot_encode(tf.constant(batch))


# -- Rows and indices ----------------------------------------------------------

# Mostly valid rows, with every kind of invalid value mixed in.
row_values = st.sampled_from([0.0, 1.0, 0.0, 1.0, 0.0, 0.25, -1.0, 2.0,
                              np.nan, np.inf, -0.0, 1e-7])


@FAST
@hypothesis.given(hnp.arrays(np.float32, st.tuples(st.integers(0, 40),
                                                   st.just(4)),
                             elements=row_values))
def test_one_hot_to_indices_any_rows(rows):
  valid = [all(v in (0.0, 1.0) for v in row) and row.sum() <= 1
           for row in rows]
  if all(valid):
    indices = encoding.one_hot_to_indices(rows)
    expected = [int(np.argmax(row)) if row.sum() else 4 for row in rows]
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_array_equal(encoding.indices_to_one_hot(indices),
                                  np.abs(rows))  # -0.0 reads as 0.
  else:
    with pytest.raises(ValueError, match=f'position {valid.index(False)} '):
      encoding.one_hot_to_indices(rows)


@FAST
@hypothesis.given(st.lists(st.integers(-3, 9), max_size=60))
def test_indices_to_one_hot_any_integers(values):
  indices = np.array(values, np.int64)
  bad = [i for i, v in enumerate(values) if not 0 <= v <= 4]
  if bad:
    with pytest.raises(ValueError, match=(
        f'{values[bad[0]]} at position {bad[0]};')):
      encoding.indices_to_one_hot(indices)
  else:
    np.testing.assert_array_equal(encoding.indices_to_one_hot(indices),
                                  np.eye(5, 4)[indices].reshape(-1, 4))


# -- Reverse complement --------------------------------------------------------


@FAST
@hypothesis.given(st.one_of(
    st.text(alphabet='ACGTRYKMBVDHSWNacgtrykmbvdhswn', max_size=200),
    st.text(max_size=200)))
def test_reverse_complement_any_text(sequence):
  bad = [i for i, c in enumerate(sequence) if c not in IUPAC_COMPLEMENT]
  if bad:
    with pytest.raises(ValueError, match=re.escape(
        f'{sequence[bad[0]]!r} at position {bad[0]},')):
      encoding.reverse_complement(sequence)
    return
  reverse = encoding.reverse_complement(sequence)
  assert reverse == ''.join(IUPAC_COMPLEMENT[c] for c in reversed(sequence))
  assert encoding.reverse_complement(reverse) == sequence


@FAST
@hypothesis.given(st.binary(max_size=20))
def test_reverse_complement_of_bytes_is_a_type_error(sequence):
  with pytest.raises(TypeError, match='must be a str'):
    encoding.reverse_complement(sequence)


@FAST
@hypothesis.given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2,
                                                          max_dims=4,
                                                          max_side=6).map(
                                 lambda shape: shape[:-1] + (4,)),
                             elements=st.floats(-2, 2, width=32)))
def test_reverse_complement_one_hot_of_any_array_is_an_involution(array):
  reverse = encoding.reverse_complement_one_hot(array)
  np.testing.assert_array_equal(reverse, array[..., ::-1, ::-1])
  np.testing.assert_array_equal(encoding.reverse_complement_one_hot(reverse),
                                array)
  np.testing.assert_array_equal(
      encoding.tf_reverse_complement(tf.constant(array)).numpy(), reverse)


# -- Interval resizing ---------------------------------------------------------

coordinates = st.integers(-10**9, 10**9)
lengths = st.integers(0, 10**6)
widths = st.integers(0, 10**6)
strands = st.sampled_from(['+', '-', '.'])


@FAST
@hypothesis.given(coordinates, lengths, widths, strands)
def test_resize_interval_width_centre_and_idempotence(start, length, width,
                                                      strand):
  interval = Interval('chr1', start, start + length, strand)
  resized = genome.resize_interval(interval, width)
  assert (resized.chrom, resized.strand) == ('chr1', strand)
  assert resized.end - resized.start == width
  # Centred to within half a base: the doubled centres differ by <= 1.
  assert abs((resized.start + resized.end) - (start + start + length)) <= 1
  assert genome.resize_interval(resized, width) == resized


@FAST
@hypothesis.given(coordinates, lengths, widths)
def test_resize_interval_commutes_with_reflecting_the_strand(start, length,
                                                             width):
  """Mirroring coordinates (x -> -x) and strand mirrors the resized window."""
  forward = genome.resize_interval(Interval('c', start, start + length, '+'),
                                   width)
  reverse = genome.resize_interval(
      Interval('c', -(start + length), -start, '-'), width)
  assert (reverse.start, reverse.end) == (-forward.end, -forward.start)
  unstranded = genome.resize_interval(
      Interval('c', start, start + length, '-'), width, use_strand=False)
  assert (unstranded.start, unstranded.end) == (forward.start, forward.end)


@FAST
@hypothesis.given(st.one_of(
    st.integers(max_value=-1),
    st.floats(allow_nan=True, allow_infinity=False).filter(
        lambda w: not (w == int(w) and w >= 0) if w == w else True)))
def test_resize_interval_rejects_bad_widths(width):
  with pytest.raises(ValueError):
    genome.resize_interval(Interval('chr1', 10, 20), width)


@pytest.mark.parametrize('width', [float('inf'), float('-inf')])
def test_resize_interval_rejects_infinite_widths(width):
  with pytest.raises(ValueError, match='non-negative integer'):
    genome.resize_interval(Interval('chr1', 10, 20), width)


# -- FASTA extraction ----------------------------------------------------------

CHROMOSOMES = {'chr1': 157, 'chr2': 61, 'chrM': 1}


@pytest.fixture(scope='module')
def fasta(tmp_path_factory):
  """(extractor, sequences): a FASTA of random soft-masked DNA with N runs."""
  rng = np.random.RandomState(0)
  letters = np.frombuffer(b'ACGTNacgtn', np.uint8)
  sequences = {name: letters[rng.randint(0, 10, size)].tobytes().decode()
               for name, size in CHROMOSOMES.items()}
  path = tmp_path_factory.mktemp('fasta') / 'genome.fa'
  with open(path, 'w') as f:
    for name, sequence in sequences.items():
      f.write(f'>{name} test\n')
      f.writelines(sequence[i:i + 13] + '\n'
                   for i in range(0, len(sequence), 13))
  with genome.FastaExtractor(str(path), use_strand=True) as extractor:
    yield extractor, sequences


def padded_slice(sequence: str, start: int, end: int) -> str:
  """`sequence[start:end]` with N wherever the range is off the sequence."""
  return ''.join(sequence[i] if 0 <= i < len(sequence) else 'N'
                 for i in range(start, end))


@FAST
@hypothesis.given(st.sampled_from(sorted(CHROMOSOMES)), st.integers(-300, 500),
                  st.integers(0, 400), strands)
def test_fasta_extract_any_interval_is_padded_with_n(fasta, chrom, start,
                                                     length, strand):
  extractor, sequences = fasta
  expected = padded_slice(sequences[chrom], start, start + length)
  if strand == '-':
    expected = encoding.reverse_complement(expected)
  got = extractor.extract(Interval(chrom, start, start + length, strand))
  assert got == expected
  assert extractor.extract(chrom, start, start + length) == padded_slice(
      sequences[chrom], start, start + length)


@FAST
@hypothesis.given(st.text(min_size=1, max_size=20).filter(
    lambda name: name not in CHROMOSOMES), st.integers(-5, 5),
                  st.integers(-5, 5))
def test_fasta_extract_unknown_chromosome_or_reversed_interval(fasta, chrom,
                                                               start, end):
  extractor, _ = fasta
  with pytest.raises(ValueError, match='has no chromosome'):
    extractor.extract(chrom, min(start, end), max(start, end))
  if end < start:
    with pytest.raises(ValueError, match='end < start'):
      extractor.extract('chr1', start, end)
