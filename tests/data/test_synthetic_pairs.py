"""The synthetic CRISPRi table (`crispri_pairs.tsv`) against the planted
truth in elements.bed, read back with the pair reader."""
import os

import numpy as np
import pytest

from enformer_tf.data import crispri_pairs, encoding, genome, synthetic
from enformer_tf.data.synthetic import pairs as pairs_lib

SPEC = synthetic.SyntheticGenomeSpec(seed=3, chrom_sizes=(300_000, 200_000))


@pytest.fixture(scope='module')
def genome_dir(tmp_path_factory):
  out = tmp_path_factory.mktemp('synthetic_pairs') / 'genome'
  return synthetic.make_synthetic_genome(str(out), SPEC, ('human',))['human']


def _expected(elements, low, high):
  """Naive: every (promoter, enhancer-like element) within range."""
  rows = {}
  for p in elements:
    if p.kind != 'promoter':
      continue
    for e in elements:
      if e.kind in ('enhancer', 'decoy') and e.chrom == p.chrom and (
          low <= abs(e.center - p.center) <= high):
        rows[('GENE' + p.name[1:], e.name)] = e.partner == p.name
  return rows


def test_default_table_labels_partners_significant(genome_dir):
  elements = synthetic.read_elements(genome_dir['elements'])
  table = crispri_pairs.read_pairs(genome_dir['crispri_pairs'], 'encode')
  assert not table.problems
  got = {(p.gene, p.name): p.significant for p in table.pairs}
  expected = _expected(elements, 0, 100_000)
  assert got == expected
  # Every paired promoter's enhancer is there, labelled significant.
  partners = {e.name for e in elements if e.kind == 'enhancer'}
  assert {name for (_, name), s in got.items() if s} == partners
  assert any(not s for s in got.values())
  by_name = {e.name: e for e in elements}
  for pair in table.pairs:
    promoter = by_name['P' + pair.gene[4:]]
    assert pair.tss == promoter.center
    assert (pair.start, pair.end) == (by_name[pair.name].start,
                                      by_name[pair.name].end)
    fields = dict(pair.fields)
    assert int(fields['distance']) == by_name[pair.name].center - pair.tss
    assert pair.effect_size == pytest.approx(
        SPEC.distal_base - 1 if pair.significant else 0.0)
    kinds = {'enhancer': ('partner_enhancer' if pair.significant else
                          'other_enhancer'),
             'decoy': f'{by_name[pair.name].variant}_decoy'}
    assert fields['element_kind'] == kinds[by_name[pair.name].kind]


def test_distance_range_promoters_and_background(genome_dir, tmp_path):
  path = str(tmp_path / 'close.tsv')
  pairs_lib.write_pairs_for(genome_dir['dir'], path, SPEC.distal_base,
                            distance_range=(0, 900), own_promoter=True,
                            background_per_gene=3, seed=1)
  table = crispri_pairs.read_pairs(path)
  assert not table.problems
  elements = synthetic.read_elements(genome_dir['elements'])
  promoters = {'GENE' + e.name[1:]: e for e in elements
               if e.kind == 'promoter'}
  motifs = sorted({e.motif for e in elements})
  with genome.FastaExtractor(genome_dir['fasta']) as fasta:
    for gene, promoter in promoters.items():
      rows = [p for p in table.pairs if p.gene == gene]
      kinds = [dict(p.fields)['element_kind'] for p in rows]
      # Element spacing keeps every motif but the own promoter farther.
      assert sorted(kinds) == ['background'] * 3 + ['own_promoter']
      for pair in rows:
        assert abs(pair.center - promoter.center) <= 900
        assert pair.significant == (pair.name == promoter.name)
        if pair.name == promoter.name:
          continue
        for e in elements:  # Clear of every element by 100 bp.
          assert pair.end + 100 <= e.start or e.end + 100 <= pair.start
        sequence = fasta.extract(pair.chrom, pair.start, pair.end)
        assert 'N' not in sequence.upper()
        assert sequence.upper() not in motifs
        assert encoding.one_hot_encode(sequence).sum() == 14
  # Seeded: the same stretches again.
  again = str(tmp_path / 'again.tsv')
  pairs_lib.write_pairs_for(genome_dir['dir'], again, SPEC.distal_base,
                            distance_range=(0, 900), own_promoter=True,
                            background_per_gene=3, seed=1)
  with open(path) as a, open(again) as b:
    assert a.read() == b.read()


def test_bad_arguments(genome_dir, tmp_path):
  elements = synthetic.read_elements(genome_dir['elements'])
  with pytest.raises(ValueError, match='0 <= min <= max'):
    pairs_lib.write_pairs(str(tmp_path / 'x.tsv'), elements, 0.05,
                          distance_range=(10, 5))
  with pytest.raises(ValueError, match='needs rng and sequences'):
    pairs_lib.write_pairs(str(tmp_path / 'x.tsv'), elements, 0.05,
                          background_per_gene=2)
  assert os.path.exists(genome_dir['crispri_pairs'])
  assert np.isfinite(SPEC.distal_base)
