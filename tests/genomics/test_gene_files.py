"""Gene expression workflows end to end: held-out genes, the CLIs, and the
trained synthetic model against the planted truth."""
import os

import numpy as np
import pytest
from enformer_tf.cli import evaluate_genes as evaluate_genes_cli
from enformer_tf.cli import predict_genes as predict_genes_cli
from enformer_tf.data.annotation import Gene
from enformer_tf.genomics import gene_files, genes as genes_lib
import synthetic_model


def test_held_out_genes_need_every_tss_in_the_split(tmp_path):
  bed = tmp_path / 'sequences.bed'
  bed.write_text('chr1\t0\t1000\ttrain\nchr1\t1000\t2000\ttest\n'
                 'chr2\t0\t1000\ttest\nchr2\t500\t1500\tvalid\n')
  genes = [Gene('a', 'a', '', 'chr1', '+', (1500,)),
           Gene('b', 'b', '', 'chr1', '+', (999, 1500)),  # One TSS in train.
           Gene('c', 'c', '', 'chr2', '+', (100,)),
           Gene('d', 'd', '', 'chr2', '+', (700,)),  # Also in a valid one.
           Gene('e', 'e', '', 'chr3', '+', (5,))]  # In no region.
  assert [g.gene_id for g in gene_files.held_out_genes(genes, str(bed))] == [
      'a', 'c']
  assert [g.gene_id for g in gene_files.held_out_genes(
      genes, str(bed), 'train')] == []
  assert [g.gene_id for g in gene_files.held_out_genes(
      genes, str(bed), ('valid', 'test'))] == ['a', 'c', 'd']
  (tmp_path / 'plain.bed').write_text('chr1\t0\t10\n')
  with pytest.raises(ValueError, match='no split column'):
    gene_files.held_out_genes(genes, str(tmp_path / 'plain.bed'))


def test_model_labels():
  assert evaluate_genes_cli.model_labels(['a=x.keras', 'y.keras']) == {
      'a': 'x.keras', 'model2': 'y.keras'}
  with pytest.raises(ValueError, match='twice'):
    evaluate_genes_cli.model_labels(['a=x', 'a=y'])


def test_cli_errors_are_one_line(tmp_path, capsys):
  code = predict_genes_cli.main([
      '--model', str(tmp_path / 'none.keras'), '--fasta', 'x.fa', '--genes',
      'g.gtf', '--head', 'human', '--out', str(tmp_path / 'o.tsv')])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 1 and len(err) == 1
  assert err[0].startswith('enformer-predict-genes: error: No ')
  assert 'none.keras' in err[0]
  with pytest.raises(SystemExit) as exit_:
    predict_genes_cli.main(['--model', 'm'])
  assert exit_.value.code == 2


# -- On the trained synthetic model --------------------------------------------


@pytest.fixture(scope='module')
def evaluated(trained_synthetic, tmp_path_factory):
  """The gene evaluation of the trained model and an untrained one on the
  held-out chromosome's genes, through the CLI."""
  human = trained_synthetic.genome['human']
  untrained = synthetic_model.enformer()
  untrained.build((None, synthetic_model.SEQUENCE_LENGTH, 4))
  out = tmp_path_factory.mktemp('eval_genes')
  untrained_path = str(out / 'untrained.keras')
  untrained.save(untrained_path)
  targets = synthetic_model._scaled_targets(human['targets'])  # As trained.
  split_bed = os.path.join(trained_synthetic.records['human'],
                           'sequences.bed')
  code = evaluate_genes_cli.main([
      '--model', f'trained={trained_synthetic.model_path}',
      '--model', f'untrained={untrained_path}', '--fasta', human['fasta'],
      '--genes', human['genes'], '--head', 'human', '--targets', targets,
      '--split_bed', split_bed, '--split', 'valid,test',
      '--out_dir', str(out / 'eval'),
      '--no_progress'])
  assert code == 0
  return out / 'eval', human


def _table(path):
  lines = open(path).read().splitlines()
  header = lines[0].split('\t')
  return [dict(zip(header, line.split('\t'))) for line in lines[1:]]


def test_the_evaluation_files_of_two_models(evaluated):
  """The CLI wrote each model's tables, plots and the comparison, on the
  genes of the chromosomes not trained on. (How well a model predicts genes
  is tested on the long-range models, tests/genomics/test_long_range.py:
  this fixture is trained to find peaks, not to rank promoter strengths.)"""
  out, _ = evaluated
  for label in ('trained', 'untrained'):
    rows = _table(out / f'{label}_tracks.tsv')
    assert [r['track'] for r in rows] == ['cage_promoter', 'cage_distal',
                                          'dnase', 'gc']
    assert os.path.exists(out / f'{label}_scatter_cage_promoter.png')
    summary = _table(out / f'{label}_summary.tsv')[0]
    assert float(summary['mean_pearson_r']) == pytest.approx(np.nanmean(
        [float(r['pearson_r']) for r in rows]), abs=1e-5)
  genes = _table(out / 'trained_predicted.tsv')
  observed = _table(out / 'observed.tsv')
  assert [g['gene_id'] for g in genes] == [g['gene_id'] for g in observed]
  assert genes and {g['chrom'] for g in genes} == {
      synthetic_model.VALID_CHROM, synthetic_model.TEST_CHROM}
  comparison = _table(out / 'comparison.tsv')
  assert [r['track'] for r in comparison][:2] == ['cage_promoter',
                                                   'cage_distal']
  trained = {r['track']: r for r in _table(out / 'trained_tracks.tsv')}
  assert float(comparison[0]['pearson_r_trained']) == pytest.approx(
      float(trained['cage_promoter']['pearson_r']))
  assert os.path.exists(out / 'comparison.png')


def test_observed_expression_is_the_training_targets_at_the_tss(
    evaluated, trained_synthetic):
  """Observed gene expression = the records' targets at the TSS bins."""
  out, human = evaluated
  from enformer_tf.data import basenji
  records = trained_synthetic.records['human']
  observed = genes_lib.read_expression_tsv(str(out / 'observed.tsv'))
  bed = [line.split('\t') for line in
         open(os.path.join(records, 'sequences.bed')).read().splitlines()]
  crop = (synthetic_model.SEQUENCE_LENGTH -
          128 * synthetic_model.TARGET_LENGTH) // 2
  checked = 0
  targets = None
  for gene, values in zip(observed.genes, observed.values):
    if len(gene.tss) != 1:
      continue
    tss = gene.tss[0]
    for index, (chrom, start, end, split) in enumerate(bed):
      first = int(start) + crop
      if chrom == gene.chrom and first <= tss < int(end) - crop:
        if targets is None:
          targets = {name: [e['target'].numpy() for e in basenji.load_dataset(
              records, name, num_parallel_reads=None)]
                     for name in ('valid', 'test')}
        same_split = [i for i, row in enumerate(bed) if row[3] == split]
        target = targets[split][same_split.index(index)]  # [bins, T]
        np.testing.assert_allclose(values, target[(tss - first) // 128],
                                   rtol=2e-3, atol=2e-3)
        checked += 1
        break
  assert checked >= 5


def test_gene_sums_of_the_written_table_equal_the_library(evaluated,
                                                          trained_synthetic):
  out, human = evaluated
  from enformer_tf import io
  model = io.load_model(trained_synthetic.model_path)
  table = genes_lib.read_expression_tsv(str(out / 'trained_predicted.tsv'))
  again = genes_lib.predict_gene_expression(model, human['fasta'],
                                            table.genes[:5], 'human')
  np.testing.assert_allclose(again.values, table.values[:5], rtol=1e-5)
