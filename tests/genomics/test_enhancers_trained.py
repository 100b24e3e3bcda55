"""The enhancer-gene tool end to end on the trained synthetic model.

The suite's trained model (tests/synthetic_model.py) sees 2,048 bp and
learnt the promoter motif locally; the synthetic genome keeps every other
element >= 2 kb from a promoter, so its enhancers lie outside the window.
The pairs are therefore the close table of `pairs.write_pairs_for`: each
gene's own promoter (significant) and plain-sequence stretches within 900 bp
(not), on the held-out chromosome chr3. That the three scores rank distal
partner enhancers above decoys is tested on the committed long-range model
(test_enhancers_long_range.py).
"""
import os

import numpy as np
import pandas as pd

from enformer_tf.constants import BIN_SIZE
from enformer_tf.data import synthetic
from enformer_tf.data.synthetic import pairs as pairs_lib
from enformer_tf.genomics import enhancer_files

TEST_CHROM = 'chr3'


def test_scores_find_the_promoters_and_the_main_tss(trained_synthetic,
                                                    tmp_path):
  files = trained_synthetic.genome['human']
  organism_dir = os.path.dirname(files['fasta'])
  every = tmp_path / 'all_pairs.tsv'
  pairs_lib.write_pairs_for(organism_dir, str(every), distance_range=(0, 900),
                            own_promoter=True, background_per_gene=4, seed=0)
  lines = every.read_text().splitlines(keepends=True)
  held_out = tmp_path / 'pairs.tsv'
  held_out.write_text(lines[0] + ''.join(
      l for l in lines[1:] if l.startswith(TEST_CHROM + '\t')))
  result = enhancer_files.prioritize_enhancers_to_files(
      trained_synthetic.model_path, files['fasta'], files['genes'],
      str(held_out), 'human', str(tmp_path / 'out'),
      targets=files['targets'], tracks='cage_promoter', n_bootstrap=50)
  evaluation = pd.read_csv(result['paths']['evaluation'], sep='\t')
  overall = evaluation[evaluation['distance_bin'] == 'all'].set_index('score')
  chance = overall.loc['gradient', 'positive_fraction']
  assert 0.15 < chance < 0.3
  for score in ('gradient', 'perturbation'):
    assert overall.loc[score, 'auprc'] >= 0.9, overall
    assert overall.loc[score, 'auprc_low'] > 2 * chance
  assert np.isfinite(overall.loc['attention', 'auprc'])

  # Pairs not scored are elements beyond the 2,048-bp window of their
  # gene's main TSS, checked here from the coordinates alone.
  scores = pd.read_csv(result['paths']['scores'], sep='\t')
  problems = pd.read_csv(result['paths']['problems'], sep='\t')
  main = pd.read_csv(result['paths']['main_tss'], sep='\t').set_index('gene')
  table = pd.read_csv(held_out, sep='\t')
  table['row'] = np.arange(2, len(table) + 2)
  for row in table.itertuples():
    tss = main.loc[row.measuredGeneSymbol, 'main_tss']
    start = tss // BIN_SIZE * BIN_SIZE - 1024
    inside = start <= row.chromStart and row.chromEnd <= start + 2048
    assert inside == (row.row in set(scores['row'])), row
    assert (not inside) == (row.row in set(problems['row']))
  assert set(problems['reason'].str.contains('outside the model')) <= {True}

  # The main TSS, chosen by predicted CAGE, is the planted one (the second
  # TSS lies 50-400 bp downstream on the flank of the same peak).
  truth = synthetic.gene_truth(organism_dir)
  two = [g for g in main.itertuples() if len(truth[g.gene_id].tss) == 2]
  assert two
  agree = [g.main_tss == truth[g.gene_id].tss[0] for g in two]
  assert np.mean(agree) >= 0.8, list(zip(two, agree))
  for g in two:
    if g.rule == 'tie_upstream':  # Same bin: the upstream one, the planted.
      assert g.main_tss == truth[g.gene_id].tss[0]
