"""`prioritize_enhancers_to_files` and `enformer-prioritize-enhancers`: the
written tables, auPRC against scikit-learn, resuming, the CLI."""
import os

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from enformer_tf.cli import prioritize_enhancers
from enformer_tf.genomics import enhancer_evaluation, enhancer_files
from enformer_tf.genomics import enhancers
from enhancer_helpers import GENES_BED, HEADER, small_enformer

from enformer_tf.data.synthetic import writers

ROWS = [  # element start, end, gene, label, effect size
    (5100, 5160, 'GENEA', 'TRUE', -0.3), (5990, 6010, 'GENEA', 'FALSE', 0),
    (6500, 6700, 'GENEA', 'TRUE', -0.2), (6100, 6130, 'GENEA', 'FALSE', 0),
    (11800, 11830, 'GENEB', 'TRUE', -0.5),
    (12300, 12350, 'GENEB', 'FALSE', 0), (12600, 12640, 'GENEB', 'TRUE', 0),
    (12050, 12060, 'GENEB', 'FALSE', 0), (3000, 3050, 'GENEC', 'FALSE', 0),
    (15000, 15050, 'GENEA', 'FALSE', 0)]


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
  root = tmp_path_factory.mktemp('enhancer_files')
  rng = np.random.default_rng(9)
  sequence = np.frombuffer(b'ACGT', np.uint8)[rng.integers(0, 4, 20_000)]
  writers.write_fasta(str(root / 'genome.fa'), [('chr1', sequence.copy())])
  (root / 'genes.bed').write_text(GENES_BED)
  text = HEADER + ''.join(
      f'chr1\t{s}\t{e}\tel{i}\t{g}\t.\t{label}\t{effect}\tK562\n'
      for i, (s, e, g, label, effect) in enumerate(ROWS))
  text += 'chr1\t100\n'  # Malformed: row 12.
  (root / 'pairs.tsv').write_text(text)
  model = small_enformer()
  return {'root': root, 'model': model, 'fasta': str(root / 'genome.fa'),
          'genes': str(root / 'genes.bed'), 'pairs': str(root / 'pairs.tsv')}


def _run(setup, out, **kwargs):
  return enhancer_files.prioritize_enhancers_to_files(
      setup['model'], setup['fasta'], setup['genes'], setup['pairs'],
      'human', str(out), tracks='1,2', n_bootstrap=50, **kwargs)


def test_tables_and_auprc_equal_sklearn_on_the_written_table(setup, tmp_path):
  result = _run(setup, tmp_path, progress=True)
  paths = result['paths']
  scores = pd.read_csv(paths['scores'], sep='\t')
  assert sorted(scores['row']) == [2, 3, 4, 5, 6, 7, 8, 9]
  assert list(scores['cell']) == ['K562'] * 8  # Extra column kept.
  problems = pd.read_csv(paths['problems'], sep='\t')
  reasons = dict(zip(problems['row'], problems['reason']))
  assert sorted(reasons) == [10, 11, 12]
  assert "'GENEC' is not in the annotation" in reasons[10]
  assert 'outside the model' in reasons[11]
  assert reasons[12] == '2 fields, expected 9'
  main = pd.read_csv(paths['main_tss'], sep='\t')
  assert list(main['gene']) == ['GENEA', 'GENEB']
  assert list(main['rule']) == ['single', 'highest']
  evaluation = pd.read_csv(paths['evaluation'], sep='\t')
  labels = scores['significant'].to_numpy(bool)
  for name, values in (('gradient', scores['gradient']),
                       ('attention', scores['attention']),
                       ('perturbation', scores['perturbation_delta'].abs()),
                       ('distance', -scores['distance'].abs())):
    row = evaluation[(evaluation['score'] == name) &
                     (evaluation['distance_bin'] == 'all')].iloc[0]
    assert row['auprc'] == pytest.approx(
        metrics.average_precision_score(labels, values), rel=1e-5)
    assert row['auroc'] == pytest.approx(
        metrics.roc_auc_score(labels, values), rel=1e-5)
    assert row['positive_fraction'] == pytest.approx(labels.mean())
    assert row['auprc_low'] <= row['auprc_high']
    # Every pair lies within 10 kb: the 0-10 kb bin is all of them.
    near = evaluation[(evaluation['score'] == name) &
                      (evaluation['distance_bin'] == '0-10kb')].iloc[0]
    assert near['auprc'] == pytest.approx(row['auprc'], rel=1e-6)
    far = evaluation[(evaluation['score'] == name) &
                     (evaluation['distance_bin'] == '10-30kb')].iloc[0]
    assert far['n'] == 0 and np.isnan(far['auprc'])
  assert os.path.getsize(paths['pr_curves']) > 1000
  assert result['scored'] == 8 and result['problems'] == 3


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_numpy_statistics_equal_sklearn_with_ties(seed):
  rng = np.random.default_rng(seed)
  labels = rng.random(80) < 0.25
  scores = np.round(labels + rng.normal(0, 1, 80), 1)  # Many ties.
  assert enhancer_evaluation.average_precision(labels, scores) == \
      pytest.approx(metrics.average_precision_score(labels, scores))
  assert enhancer_evaluation.roc_auc(labels, scores) == pytest.approx(
      metrics.roc_auc_score(labels, scores))


def test_bootstrap_interval_is_the_percentiles_of_resampled_auprc():
  rng = np.random.default_rng(0)
  labels = rng.random(60) < 0.3
  scores = labels + rng.normal(0, 1, 60)
  ci = enhancer_evaluation.bootstrap(labels, scores, 200, seed=4)
  draws, values = np.random.default_rng(4), []
  for _ in range(200):
    sample = draws.integers(0, 60, 60)
    if labels[sample].any() and not labels[sample].all():
      values.append((metrics.average_precision_score(labels[sample],
                                                     scores[sample]),
                     metrics.roc_auc_score(labels[sample], scores[sample])))
  np.testing.assert_allclose(
      ci, np.percentile(values, [2.5, 97.5], axis=0).T, rtol=1e-9)


def test_resume_does_not_recompute_finished_genes(setup, tmp_path,
                                                  monkeypatch):
  fresh = _run(setup, tmp_path / 'fresh')['paths']
  calls = []
  real = enhancers.score_gene

  def failing(model, extractor, gene_pairs, *args, **kwargs):
    calls.append(gene_pairs.key)
    if gene_pairs.key == 'GENEB':
      raise RuntimeError('killed')
    return real(model, extractor, gene_pairs, *args, **kwargs)

  monkeypatch.setattr(enhancers, 'score_gene', failing)
  out = tmp_path / 'resumed'
  with pytest.raises(RuntimeError, match='killed'):
    _run(setup, out)
  assert os.path.exists(out / 'pair_scores.tsv.partial')
  assert not os.path.exists(out / 'pair_scores.tsv')
  calls.clear()
  monkeypatch.setattr(enhancers, 'score_gene', real)
  counted = []
  monkeypatch.setattr(enhancers, 'score_gene',
                      lambda m, x, g, *a, **k: counted.append(g.key) or
                      real(m, x, g, *a, **k))
  paths = _run(setup, out, resume=True)['paths']
  assert counted == ['GENEB']  # GENEA was done.
  for key in ('scores', 'main_tss', 'problems'):
    assert open(paths[key]).read() == open(fresh[key]).read(), key
  assert not os.path.exists(out / 'pair_scores.tsv.partial')


def test_cli(setup, tmp_path, capsys):
  model_path = str(tmp_path / 'model.keras')
  setup['model'].save(model_path)
  argv = ['--model', model_path, '--fasta', setup['fasta'], '--genes',
          setup['genes'], '--pairs', setup['pairs'], '--head', 'human',
          '--tracks', '1,2', '--out', str(tmp_path / 'out'), '--bootstrap',
          '20', '--perturbation', 'N', '--no_progress']
  assert prioritize_enhancers.main(argv) == 0
  out = capsys.readouterr().out
  assert 'scored 8 pairs, 3 not scored' in out and 'auPRC' in out
  assert os.path.exists(tmp_path / 'out' / 'evaluation.tsv')
  bad = argv[:]
  bad[bad.index('--pairs') + 1] = setup['genes']  # Not a pair table.
  assert prioritize_enhancers.main(bad) == 1
  err = capsys.readouterr().err
  assert err.startswith('enformer-prioritize-enhancers: error: ')
  assert 'lacks the columns' in err and len(err.strip().splitlines()) == 1
