"""Embeddings of regions and TSSs (enformer_tf/genomics/embeddings.py,
enformer-embed): checked against windows cut and embedded by hand."""
import h5py
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from enformer_tf import Enformer
from enformer_tf.cli import embed as embed_cli
from enformer_tf.data.annotation import Gene, write_tss_bed
from enformer_tf.data.encoding import one_hot_encode
from enformer_tf.genomics import embeddings
from enformer_tf.genomics.intervals import Region

LENGTH, BINS, CHANNELS = 1024, 4, 24
CHROM_SIZE = 6000


@pytest.fixture(scope='module')
def model():
  keras.utils.set_random_seed(0)
  m = Enformer(heads={'human': 2}, channels=CHANNELS,
               num_transformer_layers=1, num_heads=2, key_size=4,
               conv_tower_divisible_by=4, sequence_length=LENGTH,
               target_length=BINS)
  m.build(tf.TensorShape([None, LENGTH, 4]))
  return m


@pytest.fixture(scope='module')
def genome(tmp_path_factory):
  rng = np.random.RandomState(0)
  sequence = ''.join(rng.choice(list('ACGT'), CHROM_SIZE))
  path = tmp_path_factory.mktemp('genome') / 'genome.fa'
  path.write_text('>chr1\n' + '\n'.join(
      sequence[i:i + 60] for i in range(0, CHROM_SIZE, 60)) + '\n')
  return str(path), sequence


def _by_hand(model, sequence, centre_start, centre_end):
  """The window centred on the site, N-padded, and its embedding."""
  # kipoiseq's rule for an even width: the centre rounded up, minus L/2.
  start = (centre_start + centre_end + 1) // 2 - LENGTH // 2
  window = ''.join(sequence[p] if 0 <= p < len(sequence) else 'N'
                   for p in range(start, start + LENGTH))
  embedding = model.embed(one_hot_encode(window)[None], training=False)
  crop = (LENGTH // 128 - BINS) // 2 * 128
  return embedding.numpy()[0], start + crop


REGIONS = [Region('chr1', 2000, 2300, 'a'), Region('chr1', 100, 101, 'edge'),
           Region('chr1', 4000, 4003, 'c')]


def test_per_bin_and_pooled_match_windows_embedded_by_hand(model, genome,
                                                           tmp_path):
  fasta, sequence = genome
  per_bin, pooled = tmp_path / 'bins.h5', tmp_path / 'mean.h5'
  assert embeddings.write_embeddings(model, fasta, REGIONS, str(per_bin),
                                     pooling='none', batch_size=2) == 3
  embeddings.write_embeddings(model, fasta, REGIONS, str(pooled),
                              pooling='mean', batch_size=2)
  with h5py.File(per_bin) as f:
    got_bins = f['embeddings'][()]
    first = f['first_bin_start'][()]
    assert [n.decode() for n in f['name'][()]] == ['a', 'edge', 'c']
    assert f.attrs['pooling'] == 'none'
  with h5py.File(pooled) as f:
    got_mean = f['embeddings'][()]
  assert got_bins.shape == (3, BINS, 2 * CHANNELS)
  assert got_mean.shape == (3, 2 * CHANNELS)
  for i, region in enumerate(REGIONS):
    expected, first_bin_start = _by_hand(model, sequence, region.start,
                                         region.end)
    assert first[i] == first_bin_start
    np.testing.assert_allclose(got_bins[i], expected, rtol=1e-5, atol=1e-5)
    # The bins overlapping the region, from coordinates.
    overlapping = [b for b in range(BINS)
                   if first_bin_start + 128 * b < region.end and
                   first_bin_start + 128 * (b + 1) > region.start]
    np.testing.assert_allclose(got_mean[i], expected[overlapping].mean(0),
                               rtol=1e-5, atol=1e-5)
  assert len([b for b in range(BINS)
              if first[0] + 128 * b < 2300 and first[0] + 128 * (b + 1) > 2000]
             ) == 4  # Region 'a' spans several bins: a real mean.


def test_cli_tss_from_annotation_and_errors(model, genome, tmp_path, capsys):
  fasta, sequence = genome
  model_path = str(tmp_path / 'model.keras')
  model.save(model_path)
  genes = [Gene('G1', 'g1', 'protein_coding', 'chr1', '+', (3000, 3500)),
           Gene('G2', 'g2', 'lncRNA', 'chr1', '-', (1234,))]
  tss_bed = str(tmp_path / 'tss.bed')
  write_tss_bed(genes, tss_bed)
  out = str(tmp_path / 'tss.h5')
  assert embed_cli.main(['--model', model_path, '--fasta', fasta, '--genes',
                         tss_bed, '--out', out, '--all_tss']) == 0
  assert 'wrote 3 embeddings' in capsys.readouterr().out
  with h5py.File(out) as f:
    names = [n.decode() for n in f['name'][()]]
    got = f['embeddings'][()]
  assert names == ['g1_0', 'g1_1', 'g2']
  for i, tss in enumerate([3000, 3500, 1234]):
    expected, first_bin_start = _by_hand(model, sequence, tss, tss + 1)
    own_bin = (tss - first_bin_start) // 128
    np.testing.assert_allclose(got[i], expected[own_bin], rtol=1e-5,
                               atol=1e-5)
  bed = tmp_path / 'bad.bed'
  bed.write_text('chr9\t10\t20\tx\n')
  assert embed_cli.main(['--model', model_path, '--fasta', fasta, '--bed',
                         str(bed), '--out', out]) == 1
  assert 'chr9' in capsys.readouterr().err
