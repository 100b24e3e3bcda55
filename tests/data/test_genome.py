"""Tests for enformer_tf.data.genome: N padding, missing chromosomes, resize."""
from typing import NamedTuple

import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest

from enformer_tf.data import genome

CHROMS = {'chr1': 57, 'chr2': 23, 'chrM': 11}


def write_fasta(path, sequences, line_width=10):
  with open(path, 'w') as f:
    for name, sequence in sequences.items():
      f.write(f'>{name} some description\n')
      for i in range(0, len(sequence), line_width):
        f.write(sequence[i:i + line_width] + '\n')
  return str(path)


@pytest.fixture(name='sequences', scope='module')
def _sequences():
  rng = np.random.default_rng(1)
  return {name: ''.join(rng.choice(list('ACGTacgtN'), size))
          for name, size in CHROMS.items()}


@pytest.fixture(name='fasta_file')
def _fasta_file(tmp_path, sequences):
  return write_fasta(tmp_path / 'genome.fa', sequences)


def naive_extract(sequence, start, end):
  return ''.join(sequence[i] if 0 <= i < len(sequence) else 'N'
                 for i in range(start, end))


class Region(NamedTuple):
  chrom: str
  start: int
  end: int
  split: str = 'train'


def test_chromosome_sizes(fasta_file):
  with genome.FastaExtractor(fasta_file) as fasta:
    assert fasta.chromosome_sizes == CHROMS
    assert 'chr2' in fasta and 'chr3' not in fasta


@pytest.mark.parametrize('start, end', [
    (10, 30),     # Inside.
    (0, 57),      # Exactly the chromosome.
    (-7, 12),     # Off the start.
    (50, 70),     # Off the end.
    (-5, 62),     # Off both ends.
    (-20, -3),    # Entirely before the start.
    (60, 75),     # Entirely after the end.
    (57, 60),     # Starting at the end.
    (20, 20),     # Empty.
])
def test_extract_pads_with_n(fasta_file, sequences, start, end):
  with genome.FastaExtractor(fasta_file) as fasta:
    got = fasta.extract('chr1', start, end)
  assert got == naive_extract(sequences['chr1'], start, end)
  assert len(got) == end - start


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(start=st.integers(-40, 100), width=st.integers(0, 120))
def test_extract_matches_naive_everywhere(tmp_path_factory, sequences, start,
                                          width):
  fasta_file = write_fasta(tmp_path_factory.mktemp('g') / 'g.fa', sequences)
  with genome.FastaExtractor(fasta_file) as fasta:
    assert fasta.extract('chr2', start, start + width) == naive_extract(
        sequences['chr2'], start, start + width)


def test_extract_interval_upper_and_strand(fasta_file, sequences):
  import kipoiseq
  expected = naive_extract(sequences['chr1'], -3, 9)
  plus = kipoiseq.Interval('chr1', -3, 9)
  minus = kipoiseq.Interval('chr1', -3, 9, strand='-')
  with genome.FastaExtractor(fasta_file) as fasta:
    assert fasta.extract(plus) == expected
    assert fasta.extract(minus) == expected  # Strand ignored by default.
    assert fasta.extract(Region('chr1', -3, 9)) == expected
  with genome.FastaExtractor(fasta_file, upper=True,
                             use_strand=True) as fasta:
    assert fasta.extract(plus) == expected.upper()
    complement = {'A': 'T', 'C': 'G', 'G': 'C', 'T': 'A', 'N': 'N'}
    assert fasta.extract(minus) == ''.join(
        complement[base] for base in reversed(expected.upper()))


def test_missing_chromosome_names_fasta_and_hints_prefix(tmp_path):
  fasta_file = write_fasta(tmp_path / 'hg.fa',
                           {'chr1': 'ACGT', 'chr2': 'ACGT'})
  with genome.FastaExtractor(fasta_file) as fasta:
    with pytest.raises(ValueError) as info:
      fasta.extract('1', 0, 4)
  message = str(info.value)
  assert fasta_file in message
  assert "no chromosome '1'" in message
  assert "'chr1', 'chr2'" in message
  assert "did you mean 'chr1'" in message and "with a 'chr' prefix" in message


def test_missing_chromosome_without_prefix(tmp_path):
  fasta_file = write_fasta(tmp_path / 'ens.fa',
                           {str(i): 'ACGT' for i in range(1, 9)})
  with genome.FastaExtractor(fasta_file) as fasta:
    with pytest.raises(ValueError,
                       match=r"did you mean '3'\? .* without a 'chr' prefix"):
      fasta.extract('chr3', 0, 4)
    with pytest.raises(ValueError, match=r"\.\.\. \(8 in all\)"):
      fasta.extract('chrZ', 0, 4)


def test_bad_arguments(tmp_path, fasta_file):
  with pytest.raises(FileNotFoundError, match='nowhere.fa'):
    genome.FastaExtractor(tmp_path / 'nowhere.fa')
  with genome.FastaExtractor(fasta_file) as fasta:
    with pytest.raises(ValueError, match='end < start'):
      fasta.extract('chr1', 10, 5)
    with pytest.raises(ValueError, match='needs start and end'):
      fasta.extract('chr1')


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(start=st.integers(-50, 50), length=st.integers(0, 40),
                  width=st.integers(0, 60), strand=st.sampled_from('+-.'))
def test_resize_interval_matches_kipoiseq(start, length, width, strand):
  import kipoiseq
  interval = kipoiseq.Interval('chr1', start, start + length, name='x',
                               strand=strand, attrs={'a': 1})
  got = genome.resize_interval(interval, width)
  want = interval.resize(width)
  assert isinstance(got, kipoiseq.Interval)
  assert (got.chrom, got.start, got.end, got.strand, got.name, got.attrs) == (
      want.chrom, want.start, want.end, want.strand, want.name, want.attrs)
  assert got.end - got.start == width


def test_resize_interval_centres_and_keeps_namedtuples():
  region = genome.resize_interval(Region('chr2', 100, 200, 'valid'), 40)
  assert region == Region('chr2', 130, 170, 'valid')
  # A point (a variant position) is centred as in the Enformer notebook.
  assert genome.resize_interval(Region('chr1', 1000, 1000), 10)[1:3] == (
      995, 1005)
  # Off the chromosome start: negative coordinates, padded on extraction.
  assert genome.resize_interval(Region('chr1', 0, 10), 30)[1:3] == (-10, 20)
  with pytest.raises(ValueError, match='width must be a non-negative'):
    genome.resize_interval(region, -1)
