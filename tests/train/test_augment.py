"""Shift, reverse complement and their tf.data mapping, on small arrays."""
import numpy as np
import pytest
import tensorflow as tf

from enformer_tf.train import augment

# ACGTN as rows of the one-hot code.
A, C, G, T, N = np.eye(5, 4, dtype=np.float32)


def _dna(text):
  return np.stack([{'A': A, 'C': C, 'G': G, 'T': T, 'N': N}[b] for b in text])


@pytest.mark.parametrize('shift, expected', [
    (0, 'AACGT'), (1, 'NAACG'), (2, 'NNAAC'), (-1, 'ACGTN'), (-3, 'GTNNN'),
    (5, 'NNNNN'), (-7, 'NNNNN')])
def test_shift_sequence_pads_with_n_and_keeps_length(shift, expected):
  got = augment.shift_sequence(_dna('AACGT'), shift).numpy()
  np.testing.assert_array_equal(got, _dna(expected))


def test_reverse_complement_of_one_hot():
  got = augment.reverse_complement(_dna('AACGTN')).numpy()
  np.testing.assert_array_equal(got, _dna('NACGTT'))
  np.testing.assert_array_equal(
      augment.reverse_complement(_dna('GATTACA')).numpy(), _dna('TGTAATC'))
  # Twice is the identity; batched inputs work on the last two axes.
  batch = np.stack([_dna('ACGGT'), _dna('NNCAT')])
  np.testing.assert_array_equal(
      augment.reverse_complement(augment.reverse_complement(batch)), batch)
  np.testing.assert_array_equal(augment.reverse_complement(batch)[1],
                                _dna('ATGNN'))


def test_reverse_targets_reverses_bins_and_swaps_strands():
  target = np.arange(12, dtype=np.float32).reshape(4, 3)  # [T=4, N=3]
  np.testing.assert_array_equal(augment.reverse_targets(target),
                                target[::-1])
  # Tracks 0 and 1 are the two strands of one assay; track 2 is unstranded.
  got = augment.reverse_targets(target, strand_pair=[1, 0, 2]).numpy()
  np.testing.assert_array_equal(got, target[::-1][:, [1, 0, 2]])
  with pytest.raises(ValueError, match='strand_pair'):
    augment.reverse_targets(target, strand_pair=[0, 0, 2])


def _possible(sequence, target, max_shift, strand_pair=None):
  """Every augmentation of one example: (shift, rc) -> (sequence, target)."""
  out = {}
  for shift in range(-max_shift, max_shift + 1):
    shifted = augment.shift_sequence(sequence, shift).numpy()
    out[shift, False] = (shifted, target)
    out[shift, True] = (
        augment.reverse_complement(shifted).numpy(),
        augment.reverse_targets(target, strand_pair).numpy())
  return out


def test_augment_draws_every_shift_and_both_strands_consistently():
  sequence = _dna('ACGTTGCAAC' * 2)  # [20, 4]
  target = np.arange(10, dtype=np.float32).reshape(5, 2)  # [5, 2]
  possible = _possible(sequence, target, 3, strand_pair=[1, 0])
  seen = set()
  for i in range(200):
    got = augment.augment({'sequence': sequence, 'target': target,
                           'name': 'x'}, seed=[7, i], max_shift=3,
                          strand_pair=[1, 0])
    assert got['name'] == 'x'
    matches = [key for key, (s, t) in possible.items()
               if np.array_equal(s, got['sequence']) and
               np.array_equal(t, got['target'])]
    assert matches, 'augmented example is no shift/strand of the input'
    seen.update(matches)
  assert seen == set(possible)  # All 7 shifts x 2 strands occur.


def test_augment_without_randomness_is_identity():
  sequence, target = _dna('ACGTA'), np.ones((2, 3), np.float32)
  got = augment.augment({'sequence': sequence, 'target': target}, seed=[0, 1],
                        max_shift=0, reverse_complement_prob=0.0)
  np.testing.assert_array_equal(got['sequence'], sequence)
  np.testing.assert_array_equal(got['target'], target)
  with pytest.raises(ValueError, match='max_shift'):
    augment.augment({'sequence': sequence, 'target': target}, [0, 0],
                    max_shift=-1)


def test_augment_dataset_depends_only_on_seed_and_position():
  rng = np.random.default_rng(0)
  examples = {
      'sequence': np.eye(4, dtype=np.float32)[rng.integers(0, 4, (10, 16))],
      'target': rng.normal(size=(10, 4, 2)).astype(np.float32)}
  dataset = tf.data.Dataset.from_tensor_slices(examples)

  def collect(ds):
    return [(e['sequence'].numpy(), e['target'].numpy()) for e in ds]

  full = collect(augment.augment_dataset(dataset, seed=3))
  again = collect(augment.augment_dataset(dataset, seed=3))
  resumed = collect(augment.augment_dataset(dataset.skip(4), seed=3,
                                            start_index=4))
  other = collect(augment.augment_dataset(dataset, seed=4))
  for (s1, t1), (s2, t2) in zip(full, again):
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(t1, t2)
  for (s1, t1), (s2, t2) in zip(full[4:], resumed):
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(t1, t2)
  assert any(not np.array_equal(a[0], b[0]) for a, b in zip(full, other))
