"""Tests for `enformer-variant-benchmark` and its library functions, on
the synthetic genome's variants whose true effects are planted."""
import json
import re

import numpy as np
import pytest

from enformer_tf.cli import variant_benchmark as cli
from enformer_tf.data import genome
from enformer_tf.data import synthetic
from enformer_tf.genomics import variant_benchmark_files as files
from enformer_tf.genomics import variant_files

PROG = cli.PROG
SWAP = {'A': 'C', 'T': 'G', 'C': 'A', 'G': 'T'}
HEADER = ('##fileformat=VCFv4.2\n'
          '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n')


@pytest.fixture(name='planted', scope='module')
def _planted(trained_synthetic, tmp_path_factory):
  """Scores of variants with known effects: every promoter's motif core
  destroyed (effect -strength, label 1), and SNVs in decoy motifs and far
  from every element (effect 0, label 0). Returns (scores TSV, rows)."""
  human = trained_synthetic.genome['human']
  elements = synthetic.read_elements(human['elements'])
  tmp = tmp_path_factory.mktemp('planted')
  rows = []  # (chrom, pos, ref, alt, label, effect)
  with genome.FastaExtractor(human['fasta']) as fasta:
    for e in elements:
      if e.kind == 'promoter':
        ref = fasta.extract(e.chrom, e.start + 4, e.start + 10).upper()
        rows.append((e.chrom, e.start + 5, ref,
                     ''.join(SWAP[b] for b in ref), 1, -e.strength))
      elif e.kind == 'decoy':
        ref = fasta.extract(e.chrom, e.center, e.center + 1).upper()
        rows.append((e.chrom, e.center + 1, ref, SWAP[ref], 0, 0.0))
    for chrom, size in fasta.chromosome_sizes.items():
      centres = np.array([e.center for e in elements if e.chrom == chrom])
      for p in range(5_000, size - 5_000, 997):
        if np.min(np.abs(centres - p)) > 2_500:
          ref = fasta.extract(chrom, p, p + 1).upper()
          rows.append((chrom, p + 1, ref, SWAP[ref], 0, 0.0))
  rows.sort()
  vcf_path = tmp / 'planted.vcf'
  vcf_path.write_text(HEADER + ''.join(
      f'{c}\t{p}\t.\t{r}\t{a}\t.\t.\t.\n' for c, p, r, a, _, _ in rows))
  scores = tmp / 'scores.tsv'
  variant_files.score_variants_to_files(
      trained_synthetic.model_path, human['fasta'], str(vcf_path), 'human',
      str(scores), targets=human['targets'], stats='SAD,D2', batch_size=16)
  return str(scores), rows


def write_values(path, rows, column, values):
  path.write_text(f'chrom\tpos\tref\talt\t{column}\n' + ''.join(
      f'{c}\t{p}\t{r}\t{a}\t{v}\n' for (c, p, r, a, *_), v in
      zip(rows, values)))
  return str(path)


def test_classifier_and_lasso_recover_planted_effects(planted, tmp_path,
                                                      capsys):
  scores, rows = planted
  labels = np.array([row[4] for row in rows])
  assert labels.sum() > 40 and (1 - labels).sum() > 40
  path = write_values(tmp_path / 'labels.tsv', rows, 'label', labels)
  out = tmp_path / 'classify.json'
  assert cli.main(['classify', '--scores', scores, '--labels', path,
                   '--stats', 'SAD,D2', '--group',
                   'cage=cage_promoter,cage_distal', '--group', 'gc=gc',
                   '--trees', '50', '--bootstrap', '200', '--out',
                   str(out)]) == 0
  result = json.loads(out.read_text())
  assert json.loads(capsys.readouterr().out) == result
  assert result['cage']['features'] == ['SAD_cage_promoter',
                                        'SAD_cage_distal', 'D2_cage_promoter',
                                        'D2_cage_distal']
  # Destroyed promoters change CAGE a lot, the rest barely.
  assert result['cage']['auroc'] > 0.9, result
  assert result['cage']['auroc_ci'][0] > 0.8
  shuffled = np.random.default_rng(0).permutation(labels)
  chance = files.classify_from_files(
      scores, write_values(tmp_path / 'shuffled.tsv', rows, 'label',
                           shuffled), ['SAD', 'D2'], n_estimators=50,
      n_bootstrap=200)['all']
  assert 0.3 < chance['auroc'] < 0.7, chance
  assert chance['auroc_ci'][0] < 0.5 < chance['auroc_ci'][1]

  effects = np.array([row[5] for row in rows])
  path = write_values(tmp_path / 'effects.tsv', rows, 'effect', effects)
  assert cli.main(['lasso', '--scores', scores, '--effects', path]) == 0
  lasso = json.loads(capsys.readouterr().out)
  assert lasso['num_variants'] == len(rows)
  assert lasso['lasso_pearson'] > 0.7, lasso
  assert lasso['best_track_pearson'] > 0.5
  noise = files.lasso_from_files(
      scores, write_values(tmp_path / 'noise.tsv', rows, 'effect',
                           np.random.default_rng(1).permutation(effects)))
  assert abs(noise['lasso_pearson']) < 0.3, noise


def test_benchmark_errors_are_one_line(tmp_path, capsys):
  scores = tmp_path / 'scores.tsv'
  scores.write_text('chrom\tpos\tid\tref\talt\tvcf_line\tSAD_a\n'
                    'chr1\t5\t.\tA\tG\t3\t0.5\n')
  labels = tmp_path / 'labels.tsv'
  labels.write_text('chrom\tpos\tref\talt\tlabel\nchr1\t6\tA\tG\t1\n')
  bad = tmp_path / 'bad.tsv'
  bad.write_text('chrom\tpos\tref\tlabel\nchr1\t5\tA\t1\n')
  cases = [
      (['classify', '--scores', str(scores), '--labels', str(labels)],
       '1 variants of .*labels.tsv have no scores in .*scores.tsv, e.g. '
       'chr1:6:A:G'),
      (['classify', '--scores', str(scores), '--labels', str(bad)],
       'the header lacks alt'),
      (['lasso', '--scores', str(scores), '--effects', str(labels),
        '--stats', 'D2'], 'has no D2_<track> columns'),
      (['classify', '--scores', str(scores), '--labels', str(labels),
        '--group', 'x'], "--group 'x': expected NAME=TRACK"),
  ]
  for argv, pattern in cases:
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and err.startswith(f'{PROG}: error: ')
    assert re.search(pattern, err), err
