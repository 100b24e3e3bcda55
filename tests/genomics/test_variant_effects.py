"""Tests for enformer_tf.genomics.variant_effects: windows, SAD/SAR, files."""
import dataclasses

import h5py
import numpy as np
import pytest
import tf_keras as keras

from enformer_tf import Enformer
from enformer_tf.data import encoding
from enformer_tf.data import genome
from enformer_tf.data import synthetic
from enformer_tf import io as models
from enformer_tf.genomics import variant_effects as ve
from enformer_tf.genomics import variant_scoring as vsc
from enformer_tf.genomics import variant_windows as vw
from enformer_tf.genomics import vcf

LENGTH = 1024  # Model window; 8 trunk bins, 4 output bins.
BASES = np.array(list('ACGT'))
COMPLEMENT = {'A': 'T', 'C': 'G', 'G': 'C', 'T': 'A'}


@pytest.fixture(name='model', scope='module')
def _model():
  # Default initialisation: fully random weights (random_weights) make this
  # tiny model's output all but independent of its input.
  keras.utils.set_random_seed(1)
  model = Enformer(channels=48, num_transformer_layers=1, num_heads=2,
                   conv_tower_divisible_by=8, sequence_length=LENGTH,
                   target_length=4, heads={'human': 3})
  model.build((None, LENGTH, 4))
  return model


@pytest.fixture(name='chroms', scope='module')
def _chroms():
  rng = np.random.default_rng(7)
  half = ''.join(rng.choice(BASES, 1500))
  return {'chr1': ''.join(rng.choice(BASES, 3000)),
          # An exact reverse-complement palindrome.
          'pal': half + encoding.reverse_complement(half)}


@pytest.fixture(name='fasta', scope='module')
def _fasta(tmp_path_factory, chroms):
  path = tmp_path_factory.mktemp('genome') / 'genome.fa'
  path.write_text(''.join(f'>{name}\n{seq}\n' for name, seq in chroms.items()))
  with genome.FastaExtractor(str(path)) as fasta:
    yield fasta


def snv(chroms, chrom, start, line=1, alt=None):
  """The SNV at 0-based `start` to the next base in ACGT (or `alt`)."""
  ref = chroms[chrom][start]
  alt = alt or 'ACGT'['ACGT'.index(ref) - 3]
  return vcf.VcfRecord(chrom, start + 1, f'v{line}', ref, alt, line)


def indel(chroms, chrom, start, ref_length, alt_tail='', line=1):
  """A VCF-style indel at 0-based `start`: REF `ref_length` bases, ALT the
  first REF base followed by `alt_tail`."""
  ref = chroms[chrom][start:start + ref_length]
  return vcf.VcfRecord(chrom, start + 1, f'v{line}', ref, ref[0] + alt_tail,
                       line)


def expected_windows(chroms, record, length, shift):
  """Reference and alternative windows built with plain string slicing."""
  pad = 'N' * 4 * length
  padded = pad + chroms[record.chrom] + pad
  start = len(pad) + record.start - length // 2 + shift
  variant = len(pad) + record.start
  reference = padded[start:start + length]
  alternative = (padded[start:variant] + record.alt +
                 padded[variant + len(record.ref):])[:length]
  return reference, alternative


def numpy_scores(model, chroms, records, tracks, shifts, rc):
  """SAD and SAR from the model's raw predictions of hand-built windows."""
  windows = [expected_windows(chroms, record, LENGTH, shift)
             for record in records for shift in shifts]
  x = np.stack([encoding.one_hot_encode(w) for pair in windows
                for w in pair])  # [variants * shifts * 2, L, 4]
  y = model.predict_head(x, 'human', training=False).numpy()
  if rc:
    y_rc = model.predict_head(x[:, ::-1, ::-1].copy(), 'human',
                              training=False).numpy()
    y = (y + y_rc[:, ::-1]) / 2
  # [variants, shifts, (ref, alt), bins, tracks] -> mean over shifts.
  y = y[..., tracks].reshape(len(records), len(shifts), 2, *y.shape[1:2],
                             len(tracks)).mean(axis=1)
  ref, alt = y[:, 0], y[:, 1]
  sad = np.mean(alt - ref, axis=1)
  sar = np.mean(np.log2(1 + alt) - np.log2(1 + ref), axis=1)
  return sad, sar


def some_records(chroms):
  return [snv(chroms, 'chr1', 1500, 1),
          indel(chroms, 'chr1', 1200, 5, '', 2),  # 4-bp deletion.
          indel(chroms, 'chr1', 1800, 1, 'GATTACA', 3),  # Insertion.
          snv(chroms, 'chr1', 20, 4),  # The window runs off the start.
          indel(chroms, 'chr1', 2990, 8, '', 5)]  # Deletion near the end.


# -- Windows ------------------------------------------------------------------


@pytest.mark.parametrize('shift', [0, -3, 5])
@pytest.mark.parametrize('case', ['snv', 'deletion', 'insertion',
                                  'long_insertion', 'start', 'end'])
def test_windows_keep_length_and_put_alt_at_the_centre(fasta, chroms, case,
                                                       shift):
  record = {
      'snv': snv(chroms, 'chr1', 1000),
      'deletion': indel(chroms, 'chr1', 1000, 30),
      'insertion': indel(chroms, 'chr1', 1000, 1, 'ACGTTGCA'),
      'long_insertion': indel(chroms, 'chr1', 1000, 1, 'ACGT' * 200),
      'start': indel(chroms, 'chr1', 3, 1, 'TTTT'),
      'end': indel(chroms, 'chr1', 2980, 15),
  }[case]
  reference, alternative = vw.variant_windows(fasta, record, LENGTH, shift)
  assert len(reference) == len(alternative) == LENGTH
  centre = LENGTH // 2 - shift
  assert reference[centre:centre + len(record.ref)] == record.ref[
      :LENGTH - centre]
  assert alternative[centre:centre + len(record.alt)] == record.alt[
      :LENGTH - centre]
  assert (reference, alternative) == expected_windows(chroms, record, LENGTH,
                                                      shift)


def test_windows_pad_with_n_off_the_chromosome(fasta, chroms):
  record = indel(chroms, 'chr1', 2990, 8)
  reference, alternative = vw.variant_windows(fasta, record, LENGTH)
  tail = LENGTH // 2 + 10  # Bases from the variant to the chromosome end.
  assert reference[tail:] == 'N' * (LENGTH - tail)
  assert 'N' not in reference[:tail]
  assert alternative[LENGTH // 2:].startswith(record.alt + chroms['chr1'][
      2998:])
  assert set(alternative[LENGTH // 2 + 3:]) == {'N'}


# -- SAD and SAR --------------------------------------------------------------


def test_sad_sar_formulas():
  rng = np.random.default_rng(0)
  ref, alt = rng.uniform(0, 5, (2, 3, 6, 4))  # [variants, bins, tracks]
  sad, sar = ve.sad_sar(ref, alt)
  assert sad.shape == sar.shape == (3, 4)
  for v in range(3):
    for t in range(4):
      np.testing.assert_allclose(
          sad[v, t], sum(alt[v, b, t] - ref[v, b, t] for b in range(6)) / 6,
          rtol=1e-6)
      np.testing.assert_allclose(
          sar[v, t], sum(np.log2(1 + alt[v, b, t]) - np.log2(1 + ref[v, b, t])
                         for b in range(6)) / 6, rtol=1e-5, atol=1e-7)
  with pytest.raises(ValueError, match='one shape'):
    ve.sad_sar(ref, alt[:, :5])


@pytest.mark.parametrize('rc,shifts,batch_size', [
    (False, (0,), 3), (True, (-1, 0, 2), 5)])
def test_scores_match_numpy_on_raw_predictions(model, fasta, chroms, rc,
                                               shifts, batch_size):
  records = some_records(chroms)
  tracks = [2, 0]
  scorer = ve.VariantScorer(model, fasta, 'human', tracks=tracks, rc=rc,
                            shifts=shifts, batch_size=batch_size)
  sad, sar = scorer.score(records)
  want_sad, want_sar = numpy_scores(model, chroms, records, tracks, shifts, rc)
  assert sad.shape == (len(records), 2)
  np.testing.assert_allclose(sad, want_sad, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(sar, want_sar, rtol=1e-4, atol=1e-6)
  assert np.all(np.abs(sad) > 0)  # Every variant changes the prediction.
  assert scorer.track_names == ('track_2', 'track_0')


def test_rc_averaging_of_a_palindrome_gives_symmetric_scores(model, fasta,
                                                            chroms):
  # In the palindrome, base p mirrors base 2999 - p (complemented). A window
  # shifted by s mirrors the mirror variant's window shifted by 1 - s, so
  # with shifts (0, 1) the windows of a variant and of its mirror are each
  # other's reverse complements, and RC averaging must give equal scores.
  records, mirrors = [], []
  for i, p in enumerate([1400, 1499, 1010]):
    record = snv(chroms, 'pal', p, i)
    records.append(record)
    mirrors.append(snv(chroms, 'pal', 2999 - p, i,
                       alt=COMPLEMENT[record.alt]))
    assert mirrors[-1].ref == COMPLEMENT[record.ref]

  def scores(variants, **kwargs):
    scorer = ve.VariantScorer(model, fasta, 'human', shifts=(0, 1),
                              batch_size=8, **kwargs)
    return scorer.score(variants)

  sad, sar = scores(records, rc=True)
  mirror_sad, mirror_sar = scores(mirrors, rc=True)
  np.testing.assert_allclose(mirror_sad, sad, rtol=1e-4, atol=1e-7)
  np.testing.assert_allclose(mirror_sar, sar, rtol=1e-4, atol=1e-7)
  # Strand pairs: tracks 0 and 1 swap places on the other strand.
  pairs = [1, 0, 2]
  sad, _ = scores(records, rc=True, strand_pairs=pairs)
  mirror_sad, _ = scores(mirrors, rc=True, strand_pairs=pairs)
  np.testing.assert_allclose(mirror_sad, sad[:, pairs], rtol=1e-4, atol=1e-7)
  # Without RC averaging the model itself is not symmetric.
  plain, _ = scores(records)
  plain_mirror, _ = scores(mirrors)
  assert np.max(np.abs(plain - plain_mirror)) > 10 * np.max(
      np.abs(mirror_sad[:, pairs] - sad)) + 1e-6


class _Fake:
  heads = {'human': 3}

  def __init__(self, sequence_length=LENGTH, target_length=4):
    self.sequence_length = sequence_length
    self.target_length = target_length


@pytest.mark.parametrize('kwargs,words', [
    (dict(head='mouse'), "Unknown head 'mouse'"),
    (dict(tracks=[3]), 'out of range'),
    (dict(shifts=(200,)), '|shift| < 128'),
    (dict(shifts=()), 'shifts is empty'),
    (dict(shifts=(1, 1)), 'repeats'),
    (dict(batch_size=0), 'batch_size'),
    (dict(strand_pairs=[0, 0, 1], rc=True), 'permutation'),
    (dict(model=_Fake(target_length=3), rc=True), 'centred'),
])
def test_bad_options_are_refused(fasta, kwargs, words):
  kwargs = {'model': _Fake(), 'head': 'human', **kwargs}
  with pytest.raises(ValueError, match=words.replace('|', r'\|')):
    ve.VariantScorer(kwargs.pop('model'), fasta, kwargs.pop('head'), **kwargs)


# -- Whole VCF to files -------------------------------------------------------


def write_vcf(path, records, extra_lines=()):
  lines = ['##fileformat=VCFv4.2',
           '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO']
  lines += [f'{r.chrom}\t{r.pos}\t{r.id}\t{r.ref}\t{r.alt}\t.\t.\t.'
            for r in records]
  lines += list(extra_lines)
  path.write_text('\n'.join(lines) + '\n')
  return str(path)


def read_tsv(path):
  with open(path) as f:
    header = f.readline().rstrip('\n').split('\t')
    rows = [line.rstrip('\n').split('\t') for line in f]
  return header, rows


def test_score_vcf_writes_tsv_and_h5(model, fasta, chroms, tmp_path):
  good = some_records(chroms)
  bad_ref = dataclasses.replace(snv(chroms, 'chr1', 700), id='badref',
                                ref='ACGT'[('ACGT'.index(
                                    chroms['chr1'][700]) + 2) % 4])
  path = write_vcf(tmp_path / 'in.vcf', good[:3] + [bad_ref] + good[3:],
                   ['chr1\tx\tbadpos\tA\tG\t.\t.\t.',
                    'chrX\t5\tchrom\tA\tG\t.\t.\t.'])
  skipped = []
  summary = vsc.score_vcf(model, fasta, path, 'human', tmp_path / 'out.tsv',
                          h5=tmp_path / 'out.h5', batch_size=4,
                          track_names=['a', 'b', 'c'],
                          on_skip=skipped.append)
  assert summary.num_scored == len(good)
  assert [(s.line, s.reason) for s in skipped] == [
      (6, vcf.REF_MISMATCH), (9, vcf.MALFORMED), (10, vcf.UNKNOWN_CHROMOSOME)]
  assert summary.message() == (
      f'scored {len(good)} variants, skipped 3 records (1 malformed, '
      '1 unknown chromosome, 1 REF mismatch)')
  assert sorted(p.name for p in tmp_path.iterdir()) == ['in.vcf', 'out.h5',
                                                        'out.tsv']

  scorer = ve.VariantScorer(model, fasta, 'human', batch_size=4)
  want_sad, want_sar = scorer.score(good)
  header, rows = read_tsv(tmp_path / 'out.tsv')
  assert header == ['chrom', 'pos', 'id', 'ref', 'alt', 'vcf_line',
                    'SAD_a', 'SAD_b', 'SAD_c', 'SAR_a', 'SAR_b', 'SAR_c']
  assert [row[:6] for row in rows] == [
      [r.chrom, str(r.pos), r.id, r.ref, r.alt, str(line)]
      for r, line in zip(good, [3, 4, 5, 7, 8])]
  values = np.array([[float(v) for v in row[6:]] for row in rows])
  np.testing.assert_allclose(values, np.concatenate([want_sad, want_sar], 1),
                             rtol=1e-5, atol=1e-8)

  with h5py.File(tmp_path / 'out.h5') as f:
    np.testing.assert_allclose(f['sad'][:], want_sad, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(f['sar'][:], want_sar, rtol=1e-5, atol=1e-8)
    assert [s.decode() for s in f['alt'][:]] == [r.alt for r in good]
    assert f['pos'][:].tolist() == [r.pos for r in good]
    assert f['vcf_line'][:].tolist() == [3, 4, 5, 7, 8]
    assert [s.decode() for s in f['track_names'][:]] == ['a', 'b', 'c']
    assert f.attrs['complete'] and f.attrs['num_variants'] == len(good)
    assert f.attrs['head'] == 'human'


class _FailsOnCall:
  """Delegates to `model`, but `predict_head` raises on call `fail_on`."""

  def __init__(self, model, fail_on):
    self.model, self.fail_on, self.calls = model, fail_on, 0
    self.heads = model.heads
    self.sequence_length = model.sequence_length
    self.target_length = model.target_length

  def predict_head(self, x, head, training=False):
    self.calls += 1
    if self.calls == self.fail_on:
      raise MemoryError('out of memory in batch 3')
    return self.model.predict_head(x, head, training=training)


def test_failure_midway_keeps_the_scored_rows(model, fasta, chroms,
                                              tmp_path):
  records = [snv(chroms, 'chr1', 600 + 50 * i, i) for i in range(10)]
  path = write_vcf(tmp_path / 'in.vcf', records)
  failing = _FailsOnCall(model, fail_on=3)
  # batch_size 4 = 2 variants x (ref, alt): one model call per batch.
  with pytest.raises(vsc.ScoringInterrupted) as raised:
    vsc.score_vcf(failing, fasta, path, 'human', tmp_path / 'out.tsv',
                  h5=tmp_path / 'out.h5', batch_size=4)
  error = raised.value
  assert error.num_scored == 4
  assert 'MemoryError: out of memory in batch 3' in str(error)
  assert '4 variants scored so far (up to VCF line 6)' in str(error)
  assert str(tmp_path / 'out.tsv.partial') in str(error)
  assert not (tmp_path / 'out.tsv').exists()
  assert not (tmp_path / 'out.h5').exists()

  want_sad, want_sar = ve.VariantScorer(model, fasta, 'human').score(
      records[:4])
  _, rows = read_tsv(tmp_path / 'out.tsv.partial')
  assert [int(row[5]) for row in rows] == [3, 4, 5, 6]
  values = np.array([[float(v) for v in row[6:]] for row in rows])
  np.testing.assert_allclose(values, np.concatenate([want_sad, want_sar], 1),
                             rtol=1e-5, atol=1e-8)
  with h5py.File(tmp_path / 'out.h5.partial') as f:
    np.testing.assert_allclose(f['sad'][:], want_sad, rtol=1e-5, atol=1e-8)
    assert not f.attrs['complete'] and f.attrs['num_variants'] == 4


def test_failure_before_any_row_leaves_no_file(model, fasta, chroms,
                                               tmp_path):
  path = write_vcf(tmp_path / 'in.vcf', [snv(chroms, 'chr1', 600)])
  with pytest.raises(vsc.ScoringInterrupted, match='no variant was scored'):
    vsc.score_vcf(_FailsOnCall(model, fail_on=1), fasta, path, 'human',
                  tmp_path / 'out.tsv')
  assert sorted(p.name for p in tmp_path.iterdir()) == ['in.vcf']


def test_bad_output_paths_fail_before_scoring(model, fasta, chroms,
                                              tmp_path):
  path = write_vcf(tmp_path / 'in.vcf', [snv(chroms, 'chr1', 600)])
  with pytest.raises(ValueError, match='does not exist'):
    vsc.score_vcf(model, fasta, path, 'human', tmp_path / 'no' / 'out.tsv')
  with pytest.raises(ValueError, match='same file'):
    vsc.score_vcf(model, fasta, path, 'human', tmp_path / 'out',
                  h5=tmp_path / 'out')


# -- On the trained synthetic model -------------------------------------------


@pytest.fixture(name='trained', scope='module')
def _trained(trained_synthetic):
  human = trained_synthetic.genome['human']
  model = models.load_model(trained_synthetic.model_path)
  with genome.FastaExtractor(human['fasta']) as fasta:
    yield model, fasta, synthetic.read_elements(human['elements'])


def _trained_scorer(model, fasta):
  return ve.VariantScorer(model, fasta, 'human', batch_size=8, track_names=[
      'cage_promoter', 'cage_distal', 'dnase', 'gc'])


def test_snv_in_a_promoter_motif_lowers_its_cage_peak(trained):
  model, fasta, elements = trained
  promoters = [e for e in elements if e.kind == 'promoter' and
               e.variant == 'strong'][:2]
  records = []
  for i, promoter in enumerate(promoters):
    # The motif's middle base, inside its TATA box on either strand.
    ref = fasta.extract(promoter.chrom, promoter.center,
                        promoter.center + 1).upper()
    assert ref == promoter.motif[promoter.center - promoter.start]
    alt = {'A': 'C', 'T': 'G', 'C': 'A', 'G': 'T'}[ref]
    records.append(vcf.VcfRecord(promoter.chrom, promoter.center + 1,
                                 promoter.name, ref, alt, i + 1))
  scorer = _trained_scorer(model, fasta)
  ref_pred, alt_pred = scorer.predictions(records)
  sad, _ = scorer.score(records)
  cage = scorer.track_names.index('cage_promoter')
  # Bars from the measured distribution (tests/fixture_sweep.py, 10 models:
  # seeds 0-4 x oneDNN on/off, AMD EPYC, 2026-12-03): SAD / mean reference
  # prediction ranged -0.96 to -0.21, and alt / ref at the promoter's bin
  # 0.02 to 0.80. The old bars (-0.2, 0.8) sat at the weakest model's
  # values, which then failed by 0.0004; these are half its effect.
  for i in range(len(records)):
    # Lowered by a good part of the reference prediction.
    assert sad[i, cage] < -0.1 * ref_pred[i, :, cage].mean(), sad[i]
    # And at the promoter's own bin, the target of its peak.
    centre_bin = ref_pred.shape[1] // 2
    assert alt_pred[i, centre_bin, cage] < 0.9 * ref_pred[i, centre_bin, cage]


def test_snv_far_from_every_element_scores_near_zero(trained):
  model, fasta, elements = trained
  far = 2 * model.sequence_length  # Beyond the window, so the receptive field.
  centres = np.array([e.center for e in elements if e.chrom == 'chr1'])
  size = fasta.chromosome_sizes['chr1']
  positions = [p for p in range(5_000, size - 5_000, 997)
               if np.min(np.abs(centres - p)) > far][:3]
  assert positions
  promoter = next(e for e in elements if e.kind == 'promoter' and
                  e.variant == 'strong')
  records = []
  sites = [('chr1', p) for p in positions]
  for i, (chrom, p) in enumerate(sites + [(promoter.chrom, promoter.center)]):
    ref = fasta.extract(chrom, p, p + 1).upper()
    records.append(vcf.VcfRecord(chrom, p + 1, '.', ref,
                                 'ACGT'['ACGT'.index(ref) - 2], i + 1))
  scorer = _trained_scorer(model, fasta)
  sad, _ = scorer.score(records)
  # The peak tracks (not GC content, which any SNV nudges) barely move.
  peaks = [scorer.track_names.index(n) for n in ('cage_promoter',
                                                 'cage_distal', 'dnase')]
  reference = np.abs(sad[-1, peaks[0]])  # The promoter SNV's effect.
  # The untrained model of the same shape measured a ratio of 17; trained
  # fixtures 0.0004-0.031 over five seeds x oneDNN runs (tests/README.md).
  # 0.03 failed one of them, so the bar is 0.1.
  assert np.max(np.abs(sad[:-1][:, peaks])) < 0.1 * reference, sad
