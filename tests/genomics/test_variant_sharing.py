"""Tests for shared windows and the full statistics of variant scoring."""
import h5py
import numpy as np
import pytest
import tf_keras as keras

from enformer_tf import Enformer
from enformer_tf.data import encoding
from enformer_tf.data import genome
from enformer_tf.genomics import variant_effects as ve
from enformer_tf.genomics import variant_scoring
from enformer_tf.genomics import variant_stats
from enformer_tf.genomics import variant_windows
from enformer_tf.genomics import vcf

LENGTH = 1024
BASES = np.array(list('ACGT'))


@pytest.fixture(name='model', scope='module')
def _model():
  keras.utils.set_random_seed(2)
  model = Enformer(channels=48, num_transformer_layers=1, num_heads=2,
                   conv_tower_divisible_by=8, sequence_length=LENGTH,
                   target_length=4, heads={'human': 3})
  model.build((None, LENGTH, 4))
  return model


@pytest.fixture(name='chroms', scope='module')
def _chroms():
  rng = np.random.default_rng(11)
  return {'chr1': ''.join(rng.choice(BASES, 4000))}


@pytest.fixture(name='fasta', scope='module')
def _fasta(tmp_path_factory, chroms):
  path = tmp_path_factory.mktemp('genome') / 'genome.fa'
  path.write_text(''.join(f'>{n}\n{s}\n' for n, s in chroms.items()))
  with genome.FastaExtractor(str(path)) as fasta:
    yield fasta


class CountingModel:
  """Delegates to `model`, counting the sequences it predicts."""

  def __init__(self, model):
    self.model, self.sequences = model, 0
    self.heads = model.heads
    self.sequence_length = model.sequence_length
    self.target_length = model.target_length

  def predict_head(self, x, head, training=False):
    self.sequences += len(x)
    return self.model.predict_head(x, head, training=training)


def snv(chroms, start, step=1, line=1):
  ref = chroms['chr1'][start]
  alt = 'ACGT'[('ACGT'.index(ref) + step) % 4]
  return vcf.VcfRecord('chr1', start + 1, f'v{line}', ref, alt, line)


def clustered(chroms):
  """Two clusters of SNVs (one multi-allelic site), an insertion between
  them, and a lone SNV."""
  records = [snv(chroms, p, 1 + k % 3, k + 1) for k, p in enumerate(
      [1500, 1500, 1520, 1540, 1560])]  # Spread 60 <= 2 * 32.
  ref = chroms['chr1'][1800]
  records.append(vcf.VcfRecord('chr1', 1801, 'ins', ref, ref + 'GATTACA', 6))
  records += [snv(chroms, p, 2, 7 + k) for k, p in enumerate([2000, 2010])]
  records.append(snv(chroms, 2900, 1, 9))
  return records


def explicit_predictions(model, chroms, record, start, shifts, rc):
  """ref and alt of `record` in the window at `start`, by string slicing
  and direct model calls."""
  refs, alts = [], []
  for shift in shifts:
    first = start + shift
    window = chroms['chr1'][first:first + LENGTH]
    offset = record.start - first
    refs.append(window)
    alts.append(window[:offset] + record.alt +
                window[offset + len(record.ref):])
  x = np.stack([encoding.one_hot_encode(s) for s in refs + alts])
  y = model.predict_head(x, 'human', training=False).numpy()
  if rc:
    y_rc = model.predict_head(x[:, ::-1, ::-1].copy(), 'human',
                              training=False).numpy()
    y = (y + y_rc[:, ::-1]) / 2
  return y[:len(shifts)].mean(0), y[len(shifts):].mean(0)


def test_grouping_shares_only_nearby_substitutions(chroms):
  records = clustered(chroms)
  groups = list(variant_windows.group_variants(records, LENGTH, 32))
  assert [[r.line for r in g.records] for g in groups] == [
      [1, 2, 3, 4, 5], [6], [7, 8], [9]]
  assert [g.shared for g in groups] == [True, False, True, True]
  assert groups[0].start == 1530 - LENGTH // 2
  assert groups[1].start == 1800 - LENGTH // 2  # The indel: its own window.
  # Tolerance 0: only the multi-allelic site shares.
  assert [len(g.records) for g in variant_windows.group_variants(
      records, LENGTH, 0)] == [2, 1, 1, 1, 1, 1, 1, 1]
  assert all(len(g.records) == 1 for g in variant_windows.group_variants(
      records, LENGTH, None))
  with pytest.raises(ValueError, match='from 0 to 256 bp'):
    list(variant_windows.group_variants(records, LENGTH, 300))


@pytest.mark.parametrize('shifts,rc', [((0,), False), ((-3, 0, 5), True)])
def test_shared_windows_equal_explicit_forward_passes(model, fasta, chroms,
                                                      shifts, rc):
  records = clustered(chroms)
  counting = CountingModel(model)
  scorer = ve.VariantScorer(counting, fasta, 'human', shifts=shifts, rc=rc,
                            batch_size=64, share_windows=32)
  groups = scorer.group(records)
  ref, alt, starts = scorer.grouped_predictions(groups)
  for i, record in enumerate(records):
    group = next(g for g in groups if record in g.records)
    assert starts[i] == group.start
    if group.shared:
      want_ref, want_alt = explicit_predictions(model, chroms, record,
                                                group.start, shifts, rc)
      np.testing.assert_allclose(ref[i], want_ref, rtol=1e-5, atol=1e-6)
      np.testing.assert_allclose(alt[i], want_alt, rtol=1e-5, atol=1e-6)
  # One reference per group instead of one per variant.
  strands = 2 if rc else 1
  assert counting.sequences == strands * len(shifts) * (
      len(groups) + len(records))


def test_identical_windows_give_identical_scores_with_fewer_passes(
    model, fasta, chroms):
  records = clustered(chroms)
  alone_model, shared_model = CountingModel(model), CountingModel(model)
  alone = ve.VariantScorer(alone_model, fasta, 'human', batch_size=64)
  shared = ve.VariantScorer(shared_model, fasta, 'human', batch_size=64,
                            share_windows=0)
  want = alone.score(records)
  got = shared.score(records)
  for w, g in zip(want, got):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7)
  # The multi-allelic site's reference was predicted once, not twice.
  assert alone_model.sequences == 2 * len(records)
  assert shared_model.sequences == 2 * len(records) - 1


def test_score_vcf_streams_chosen_stats_and_profiles(model, fasta, chroms,
                                                     tmp_path):
  records = clustered(chroms)
  path = tmp_path / 'in.vcf'
  path.write_text('##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\t'
                  'FILTER\tINFO\n' + ''.join(
                      f'{r.chrom}\t{r.pos}\t{r.id}\t{r.ref}\t{r.alt}\t.\t.'
                      '\t.\n' for r in records))
  stats = ('SAD', 'logD2', 'MAX', 'JS')
  summary = variant_scoring.score_vcf(
      model, fasta, str(path), 'human', tmp_path / 'out.tsv',
      h5=tmp_path / 'out.h5', tracks=[2, 0], stats=stats, batch_size=5,
      share_windows=32, profile_tracks=[0])
  assert summary.num_scored == len(records)
  scorer = ve.VariantScorer(model, fasta, 'human', tracks=[2, 0],
                            share_windows=32)
  ref, alt = scorer.predictions(records)
  want = variant_stats.bin_stats(ref, alt, stats)
  with open(tmp_path / 'out.tsv') as f:
    header = f.readline().rstrip('\n').split('\t')
    rows = [line.rstrip('\n').split('\t') for line in f]
  assert header[6:] == [f'{s}_track_{t}' for s in stats for t in (2, 0)]
  values = np.array([[float(v) for v in row[6:]] for row in rows])
  np.testing.assert_allclose(
      values, np.concatenate([want[s] for s in stats], axis=1), rtol=1e-4,
      atol=1e-6)
  with h5py.File(tmp_path / 'out.h5') as f:
    for s in stats:
      np.testing.assert_allclose(f[s.lower()][:], want[s], rtol=1e-4,
                                 atol=1e-6)
    assert [s.decode() if isinstance(s, bytes) else s
            for s in f.attrs['stats']] == list(stats)
    assert 'logD2 = sqrt' in f.attrs['definition']
    assert f['profile_track_indices'][:].tolist() == [0]
    np.testing.assert_allclose(f['ref_profile'][:], ref[..., 1:2],
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(f['alt_profile'][:], alt[..., 1:2],
                               rtol=1e-4, atol=1e-6)
    assert f.attrs['share_windows'] == 32


def test_bad_stat_and_profile_options_are_refused(model, fasta):
  with pytest.raises(ValueError, match="unknown statistic 'SADX'"):
    ve.VariantScorer(model, fasta, 'human', stats=('SADX',))
  with pytest.raises(ValueError, match=r'SED need genes'):
    ve.VariantScorer(model, fasta, 'human', stats=('SAD', 'SED'))
  with pytest.raises(ValueError, match=r'Profile tracks \[2\] are not among'):
    ve.VariantScorer(model, fasta, 'human', tracks=[0, 1],
                     profile_tracks=[2])
