"""Enhancer-gene prioritisation on a model that learnt the distal rule
(issue 16's trained claim).

`long_range` (tests/long_range_model.py) is a committed small Enformer
(16,384-bp windows) whose transformer links each promoter's `cage_distal`
to its partner enhancer 1.5-6 kb away. The pairs are those of the held-out
chromosome within 1-7.5 kb of a TSS (inside the window), as a CRISPRi screen
would test them: each gene's partner enhancer (significant), the enhancers
of other genes and planted decoys, and plain-sequence stretches (not).
"""
import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from enformer_tf.data.synthetic import pairs as pairs_lib
from enformer_tf.genomics import enhancer_files

SCORES = ('gradient', 'attention', 'perturbation')


@pytest.fixture(scope='module')
def prioritised(long_range, tmp_path_factory):
  work = tmp_path_factory.mktemp('enhancers_long_range')
  every = work / 'all_pairs.tsv'
  pairs_lib.write_pairs_for(long_range.organism_dir, str(every),
                            distance_range=(1000, 7500),
                            background_per_gene=3, seed=0)
  lines = every.read_text().splitlines(keepends=True)
  held_out = work / 'pairs.tsv'
  held_out.write_text(lines[0] + ''.join(
      l for l in lines[1:] if l.startswith(long_range.held_out + '\t')))
  organism = long_range.organism_dir
  result = enhancer_files.prioritize_enhancers_to_files(
      long_range.model_path, f'{organism}/genome.fa', f'{organism}/genes.gtf',
      str(held_out), 'human', str(work / 'out'),
      targets=f'{organism}/targets.txt', tracks='cage_distal',
      n_bootstrap=0)
  evaluation = pd.read_csv(result['paths']['evaluation'], sep='\t')
  scores = pd.read_csv(result['paths']['scores'], sep='\t')
  return evaluation.set_index(['score', 'distance_bin']), scores


def test_the_three_scores_rank_partner_enhancers_above_decoys(prioritised):
  evaluation, scores = prioritised
  assert len(scores) >= 150 and scores['significant'].sum() >= 20
  chance = evaluation.loc[('gradient', 'all'), 'positive_fraction']
  distance = evaluation.loc[('distance', 'all'), 'auprc']
  for score in SCORES:
    auprc = evaluation.loc[(score, 'all'), 'auprc']
    # Measured 0.62-0.73 against a positive fraction of 0.13; the distance
    # baseline is at chance (partners are not the nearest candidates).
    assert auprc > 3 * chance, (score, auprc, chance)
    assert auprc > distance + 0.3, (score, auprc, distance)


def test_perturbation_tells_the_partner_from_other_genes_enhancers(
    prioritised):
  # Among enhancer motifs alone, the gene's own partner against the partners
  # of its neighbours (6.5-7.5 kb away): which promoter an enhancer serves
  # (by distance), not only where enhancers are. This model learnt it only
  # in part (auROC 0.65; median perturbation 3.3 against 0.2), so the bar
  # is above chance, not high.
  _, scores = prioritised
  motifs = scores[scores['element_kind'].isin(
      ['partner_enhancer', 'other_enhancer'])]
  labels = motifs['element_kind'] == 'partner_enhancer'
  assert labels.sum() >= 20 and (~labels).sum() >= 10
  assert metrics.roc_auc_score(labels, motifs['perturbation']) > 0.6
