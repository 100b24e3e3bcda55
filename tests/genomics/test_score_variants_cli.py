"""Tests for `enformer-score-variants` (run in-process through `main`)."""
import gzip
import os

import h5py
import numpy as np
import pytest
import tf_keras as keras

from enformer_tf import Enformer
from enformer_tf.data import genome
from enformer_tf.data import synthetic
from enformer_tf import io as models
from enformer_tf.cli import fit_variant_normalizer as fit_cli
from enformer_tf.cli import score_variants as cli
from enformer_tf.data import annotation
from enformer_tf.genomics import variant_effects as ve
from enformer_tf.genomics import variant_files
from enformer_tf.genomics import vcf

PROG = cli.PROG
HEADER = ('##fileformat=VCFv4.2\n'
          '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n')


def _other(base):
  return 'ACGT'['ACGT'.index(base) - 2]


@pytest.fixture(name='synthetic_vcf', scope='module')
def _synthetic_vcf(trained_synthetic, tmp_path_factory):
  """A gzipped VCF on the synthetic human genome: a promoter SNV, an
  insertion and bad lines; returns (path, the good records)."""
  human = trained_synthetic.genome['human']
  elements = synthetic.read_elements(human['elements'])
  promoter = next(e for e in elements if e.kind == 'promoter')
  with genome.FastaExtractor(human['fasta']) as fasta:
    ref = fasta.extract(promoter.chrom, promoter.center,
                        promoter.center + 1).upper()
    ins_ref = fasta.extract('chr2', 50_000, 50_001).upper()
    actual = fasta.extract('chr1', 30_000, 30_001).upper()
  wrong = _other(actual)
  alts = ','.join(b for b in 'ACGT' if b not in (actual, wrong))
  lines = [
      f'{promoter.chrom}\t{promoter.center + 1}\t{promoter.name}\t{ref}\t'
      f'{_other(ref)}\t.\t.\t.',  # line 3
      f'chr1\t30001\twrong_ref\t{wrong}\t{alts}\t.\t.\t.',  # line 4
      'chr1\tabc\tbad_pos\tA\tG\t.\t.\t.',  # line 5
      'chr1\t100\ttoo_few\tA\tG',  # line 6
      f'chr2\t50001\tins\t{ins_ref}\t{ins_ref}GATTACA\t.\t.\t.',  # line 7
      'chr2\t50001\tsv\tA\t<INS>\t.\t.\t.',  # line 8
  ]
  path = tmp_path_factory.mktemp('vcf') / 'variants.vcf.gz'
  with gzip.open(path, 'wt') as f:
    f.write(HEADER + '\n'.join(lines) + '\n')
  good = [vcf.VcfRecord(promoter.chrom, promoter.center + 1, promoter.name,
                        ref, _other(ref), 3),
          vcf.VcfRecord('chr2', 50_001, 'ins', ins_ref, ins_ref + 'GATTACA',
                        7)]
  return str(path), good


def read_tsv(path):
  with open(path) as f:
    header = f.readline().rstrip('\n').split('\t')
    rows = [line.rstrip('\n').split('\t') for line in f]
  return header, rows


def test_scores_a_vcf_end_to_end(trained_synthetic, synthetic_vcf, tmp_path,
                                 capsys, monkeypatch):
  vcf_path, good = synthetic_vcf
  loaded = []  # The model the CLI loads, kept to compute the expected scores.
  load_model = models.load_model
  monkeypatch.setattr(models, 'load_model',
                      lambda path: loaded.append(load_model(path)) or
                      loaded[-1])
  human = trained_synthetic.genome['human']
  out, h5, skipped = (tmp_path / 'scores.tsv', tmp_path / 'scores.h5',
                      tmp_path / 'skipped.tsv')
  code = cli.main([
      '--model', trained_synthetic.model_path, '--fasta', human['fasta'],
      '--vcf', vcf_path, '--head', 'human', '--targets', human['targets'],
      '--tracks', 'cage_promoter,2', '--out', str(out), '--h5', str(h5),
      '--rc', '--shifts', '-1,0,1', '--batch_size', '12', '--skipped',
      str(skipped), '--no_progress'])
  captured = capsys.readouterr()
  assert code == 0, captured.err
  assert (f'{PROG}: scored 2 variants, skipped 5 records (2 malformed, '
          '1 symbolic allele, 2 REF mismatch)') in captured.out
  err_lines = captured.err.strip().splitlines()
  assert [line.split(' line ')[1].split(':')[0] for line in err_lines] == [
      '4', '4', '5', '6', '8']
  assert all(line.startswith(f'{PROG}: {vcf_path} line ') and
             line.endswith('; skipped') for line in err_lines)
  assert 'REF mismatch' in err_lines[0] and 'not an integer' in err_lines[2]

  with genome.FastaExtractor(human['fasta']) as fasta:
    scorer = ve.VariantScorer(loaded[0], fasta, 'human', tracks=[0, 2],
                              rc=True, shifts=(-1, 0, 1))
    want_sad, want_sar = scorer.score(good)
  header, rows = read_tsv(out)
  assert header[6:] == ['SAD_cage_promoter', 'SAD_dnase', 'SAR_cage_promoter',
                        'SAR_dnase']
  assert [row[5] for row in rows] == ['3', '7']
  np.testing.assert_allclose(
      np.array([[float(v) for v in row[6:]] for row in rows]),
      np.concatenate([want_sad, want_sar], axis=1), rtol=1e-4, atol=1e-6)
  assert want_sad[0, 0] < 0  # The promoter SNV lowers its CAGE peak.
  with h5py.File(h5) as f:
    np.testing.assert_allclose(f['sad'][:], want_sad, rtol=1e-4, atol=1e-6)
    assert f.attrs['rc'] and list(f.attrs['shifts']) == [-1, 0, 1]
    assert f['track_indices'][:].tolist() == [0, 2]
  _, skipped_rows = read_tsv(skipped)
  assert [(row[0], row[1]) for row in skipped_rows] == [
      ('4', vcf.REF_MISMATCH), ('4', vcf.REF_MISMATCH),
      ('5', vcf.MALFORMED), ('6', vcf.MALFORMED), ('8', vcf.SYMBOLIC)]
  assert not list(tmp_path.glob('*.partial'))


@pytest.fixture(name='untrained', scope='module')
def _untrained():
  keras.utils.set_random_seed(0)
  model = Enformer(channels=48, num_transformer_layers=1, num_heads=2,
                   conv_tower_divisible_by=8, sequence_length=1024,
                   target_length=4, heads={'human': 2})
  model.build((None, 1024, 4))
  return model


@pytest.fixture(name='tiny_model')
def _tiny_model(untrained, monkeypatch):
  """`load_model` returns a tiny untrained model, whatever the path."""
  monkeypatch.setattr(models, 'load_model', lambda path: untrained)
  return untrained


@pytest.fixture(name='small_inputs')
def _small_inputs(tmp_path):
  rng = np.random.default_rng(0)
  sequence = ''.join(rng.choice(list('ACGT'), 4000))
  fasta = tmp_path / 'genome.fa'
  fasta.write_text(f'>chr1\n{sequence}\n')
  lines = [f'chr1\t{p + 1}\tv{p}\t{sequence[p]}\t{_other(sequence[p])}'
           for p in range(1000, 3000, 350)]  # 6 variants, lines 2-7.
  vcf_path = tmp_path / 'in.vcf'
  vcf_path.write_text('#CHROM\tPOS\tID\tREF\tALT\n' + '\n'.join(lines) + '\n')
  return str(fasta), str(vcf_path)


class _FailsOnThirdCall:

  def __init__(self, model):
    self.model, self.calls = model, 0
    self.heads = model.heads
    self.sequence_length = model.sequence_length
    self.target_length = model.target_length

  def predict_head(self, x, head, training=False):
    self.calls += 1
    if self.calls == 3:
      raise ValueError('the accelerator fell over')
    return self.model.predict_head(x, head, training=training)


def test_failure_midway_keeps_rows_and_says_where(tiny_model, small_inputs,
                                                  tmp_path, monkeypatch,
                                                  capsys):
  fasta, vcf_path = small_inputs
  monkeypatch.setattr(models, 'load_model',
                      lambda path: _FailsOnThirdCall(tiny_model))
  out = tmp_path / 'scores.tsv'
  code = cli.main(['--model', 'm.keras', '--fasta', fasta, '--vcf', vcf_path,
                   '--head', 'human', '--out', str(out), '--batch_size', '4',
                   '--no_progress'])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 1
  assert err[0].startswith(f'{PROG}: error: scoring stopped by ValueError: '
                           'the accelerator fell over; 4 variants scored so '
                           'far (up to VCF line 5) are kept in ')
  assert err[0].endswith('scores.tsv.partial')
  assert err[1] == f'{PROG}: 4 scored before the failure; skipped 0 records'
  _, rows = read_tsv(str(out) + '.partial')
  assert [row[5] for row in rows] == ['2', '3', '4', '5']
  assert not out.exists()


def test_shifts_and_rc_options_reach_the_scores(tiny_model, small_inputs,
                                                tmp_path, capsys):
  fasta, vcf_path = small_inputs
  out = tmp_path / 'scores.tsv'
  assert cli.main(['--model', 'm', '--fasta', fasta, '--vcf', vcf_path,
                   '--head', 'human', '--out', str(out), '--rc',
                   '--shifts', '-2,3', '--tracks', '1', '--no_progress']) == 0
  assert 'scored 6 variants, skipped 0 records' in capsys.readouterr().out
  records, _ = vcf.read_vcf(vcf_path)
  with genome.FastaExtractor(fasta) as extractor:
    want_sad, want_sar = ve.VariantScorer(
        tiny_model, extractor, 'human', tracks=[1], rc=True,
        shifts=(-2, 3)).score(records)
  header, rows = read_tsv(out)
  assert header[6:] == ['SAD_track_1', 'SAR_track_1']
  np.testing.assert_allclose(
      np.array([[float(v) for v in row[6:]] for row in rows]),
      np.concatenate([want_sad, want_sar], axis=1), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize('args,message', [
    (['--vcf', 'missing.vcf'], '--vcf missing.vcf not found.'),
    (['--shifts', '1,x'], "--shifts '1,x': 'x' is not an integer"),
    (['--shifts', '200'], 'shift 200 must be an integer with |shift| < 128'),
    (['--head', 'mouse'], "Unknown head 'mouse'; the model has heads "
     "['human']."),
    (['--tracks', 'dnase'], "--tracks: 'dnase' is not a track index"),
    (['--batch_size', '0'], '--batch_size must be positive, got 0.'),
    (['--out', 'no/such/dir/out.tsv'], 'does not exist.'),
])
def test_errors_are_one_line(tiny_model, small_inputs, tmp_path, capsys,
                             monkeypatch, args, message):
  fasta, vcf_path = small_inputs
  monkeypatch.chdir(tmp_path)
  base = {'--model': 'm', '--fasta': fasta, '--vcf': vcf_path,
          '--head': 'human', '--out': 'out.tsv'}
  base.update(dict(zip(args[::2], args[1::2])))
  argv = [item for pair in base.items() for item in pair] + ['--no_progress']
  assert cli.main(argv) == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and err.startswith(f'{PROG}: error: ')
  assert message in err
  assert sorted(p.name for p in tmp_path.iterdir()
                if p.suffix != '.fai') == ['genome.fa', 'in.vcf']


def test_usage_errors_exit_2_with_one_line(capsys):
  with pytest.raises(SystemExit) as raised:
    cli.main(['--model', 'm'])
  assert raised.value.code == 2
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and err.startswith(f'{PROG}: error: ')


def test_write_skipped_lists_every_record_atomically(tmp_path):
  report = vcf.SkipReport()
  report.add(vcf.SkippedRecord(4, vcf.MALFORMED, 'POS  x\nis bad'))
  report.add(vcf.SkippedRecord(9, vcf.REF_MISMATCH, 'REF differs'))
  path = tmp_path / 'skipped.tsv'
  variant_files.write_skipped(str(path), report)
  assert path.read_text().splitlines() == [
      'vcf_line\treason\tmessage', '4\tmalformed\tPOS x is bad',
      '9\tREF mismatch\tREF differs']
  assert sorted(os.listdir(tmp_path)) == ['skipped.tsv']
  with pytest.raises(ValueError, match='does not exist'):
    variant_files.write_skipped(str(tmp_path / 'no' / 'skipped.tsv'), report)


def test_negative_shifts_need_no_equals_sign():
  assert cli.joined_negative_values(['--rc', '--shifts', '-1,0,1']) == [
      '--rc', '--shifts=-1,0,1']
  assert cli.joined_negative_values(['--shifts', '0,1']) == [
      '--shifts', '0,1']
  assert cli.parse_shifts('-1, 0,2') == [-1, 0, 2]


def test_gene_scores_and_chosen_stats_end_to_end(trained_synthetic,
                                                 synthetic_vcf, tmp_path,
                                                 capsys, monkeypatch):
  vcf_path, good = synthetic_vcf
  loaded = []
  load_model = models.load_model
  monkeypatch.setattr(models, 'load_model',
                      lambda path: loaded.append(load_model(path)) or
                      loaded[-1])
  human = trained_synthetic.genome['human']
  out, gene_out = tmp_path / 'scores.tsv', tmp_path / 'genes.tsv'
  code = cli.main([
      '--model', trained_synthetic.model_path, '--fasta', human['fasta'],
      '--vcf', vcf_path, '--head', 'human', '--targets', human['targets'],
      '--stats', 'SAD,logD2,JS,logSED', '--genes', human['genes'],
      '--gene_out', str(gene_out), '--gene_types', 'all', '--out', str(out),
      '--no_progress'])
  captured = capsys.readouterr()
  assert code == 0, captured.err
  # The promoter SNV has its gene in range; the insertion on chr2 none.
  assert ('scored 2 variants, skipped 5 records (2 malformed, 1 symbolic '
          "allele, 2 REF mismatch); 1 with no gene in range (gene '.' "
          'rows)') in captured.out
  names = ['cage_promoter', 'cage_distal', 'dnase', 'gc']
  genes = annotation.read_genes(human['genes'], gene_types=None)
  with genome.FastaExtractor(human['fasta']) as fasta:
    scorer = ve.VariantScorer(loaded[0], fasta, 'human', track_names=names,
                              stats=('SAD', 'logD2', 'JS'), genes=genes,
                              gene_stats=('logSED',))
    batch = scorer.score_batch(good)
  header, rows = read_tsv(out)
  assert header[6:] == [f'{s}_{n}' for s in ('SAD', 'logD2', 'JS')
                        for n in names]
  np.testing.assert_allclose(
      np.array([[float(v) for v in row[6:]] for row in rows]),
      np.concatenate([batch.scores[s] for s in ('SAD', 'logD2', 'JS')], 1),
      rtol=1e-4, atol=1e-6)
  header, rows = read_tsv(gene_out)
  assert header[6:11] == ['gene_id', 'gene_name', 'strand', 'tss_distance',
                          'tss_bins']
  assert header[11:] == [f'logSED_{n}' for n in names]
  want = [(r.record.line, r.gene.gene_id if r.gene else '.')
          for r in batch.genes]
  assert [(int(row[5]), row[6]) for row in rows] == want
  assert want[-1] == (7, '.') and rows[-1][11:] == [''] * 4
  promoter_gene = next(r for r in batch.genes if r.record.line == 3 and
                       r.gene is not None and r.tss_distance == 0)
  row = next(row for row in rows if row[6] == promoter_gene.gene.gene_id)
  np.testing.assert_allclose([float(v) for v in row[11:]],
                             promoter_gene.scores['logSED'], rtol=1e-4,
                             atol=1e-6)
  assert float(row[11]) < 0  # The promoter SNV lowers its gene's CAGE.


def test_normalizer_fitted_by_its_cli_is_applied_at_scoring(
    tiny_model, small_inputs, tmp_path, capsys):
  fasta, vcf_path = small_inputs
  background = tmp_path / 'background.h5'
  assert cli.main(['--model', 'm', '--fasta', fasta, '--vcf', vcf_path,
                   '--head', 'human', '--out', str(tmp_path / 'bg.tsv'),
                   '--h5', str(background), '--no_progress']) == 0
  norm = tmp_path / 'norm.json'
  assert fit_cli.main(['--h5', str(background), '--scaler', 'robust',
                       '--pca', '2', '--out', str(norm)]) == 0
  assert ('fitted a robust scaler on 6 variants x 2 tracks of SAD, 2 '
          'principal components') in capsys.readouterr().out
  out = tmp_path / 'scores.tsv'
  assert cli.main(['--model', 'm', '--fasta', fasta, '--vcf', vcf_path,
                   '--head', 'human', '--out', str(out), '--normalizer',
                   str(norm), '--no_progress']) == 0
  header, rows = read_tsv(out)
  assert header[6:] == ['SAD_track_0', 'SAD_track_1', 'SAR_track_0',
                        'SAR_track_1', 'zSAD_track_0', 'zSAD_track_1',
                        'SAD_PC1', 'SAD_PC2']
  values = np.array([[float(v) for v in row[6:]] for row in rows])
  with h5py.File(background) as f:
    sad = f['sad'][:].astype(np.float64)
  from sklearn import decomposition, preprocessing
  scaler = preprocessing.RobustScaler().fit(sad)
  pca = decomposition.PCA(2, random_state=0).fit(scaler.transform(sad))
  np.testing.assert_allclose(values[:, 4:6], scaler.transform(sad),
                             rtol=1e-3, atol=1e-4)
  np.testing.assert_allclose(values[:, 6:],
                             pca.transform(scaler.transform(sad)),
                             rtol=1e-3, atol=1e-4)
  # A normaliser of other tracks is refused before scoring.
  assert cli.main(['--model', 'm', '--fasta', fasta, '--vcf', vcf_path,
                   '--head', 'human', '--out', str(out), '--tracks', '1',
                   '--normalizer', str(norm), '--no_progress']) == 1
  assert 'The normaliser was fitted on tracks' in capsys.readouterr().err


@pytest.mark.parametrize('args,message', [
    (['--stats', 'SAD,D9'], "unknown statistic 'D9'"),
    (['--stats', 'SAD,logSED'], 'logSED need --genes'),
    (['--genes', 'genes.gtf'], '--genes and --gene_out go together'),
    (['--profiles', '0'], 'Profiles (--profiles) are written to HDF5'),
    (['--share_windows', '999'], 'tolerance must be an integer from 0 to 256'),
    (['--normalizer', 'none.json'], 'No normaliser file at none.json'),
])
def test_new_option_errors_are_one_line(tiny_model, small_inputs, tmp_path,
                                        capsys, monkeypatch, args, message):
  fasta, vcf_path = small_inputs
  monkeypatch.chdir(tmp_path)
  argv = ['--model', 'm', '--fasta', fasta, '--vcf', vcf_path, '--head',
          'human', '--out', 'out.tsv', '--no_progress'] + args
  assert cli.main(argv) == 1
  err = capsys.readouterr().err
  assert err.count('\n') == 1 and err.startswith(f'{PROG}: error: ')
  assert message in err
