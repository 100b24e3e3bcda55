"""Tests for enformer_tf.genomics.variant_genes: gene-level variant scores."""
import os

import numpy as np
import pytest

from enformer_tf import io as models
from enformer_tf.data import annotation
from enformer_tf.data import genome
from enformer_tf.data import synthetic
from enformer_tf.data.synthetic import genes as synthetic_genes
from enformer_tf.genomics import intervals
from enformer_tf.genomics import variant_effects as ve
from enformer_tf.genomics import variant_genes
from enformer_tf.genomics import vcf

TRACKS = ['cage_promoter', 'cage_distal', 'dnase', 'gc']
SWAP = {'A': 'C', 'T': 'G', 'C': 'A', 'G': 'T'}


def gene(gene_id, chrom, strand, *tss):
  return annotation.Gene(gene_id, gene_id.lower(), 'protein_coding', chrom,
                         strand, tuple(tss))


def test_gene_bins_sums_and_rows_match_a_hand_computation():
  # Window start 1000, 8 bins of 128 bp after a 512-bp crop: bins cover
  # [1512, 2536); bin b is [1512 + 128 b, 1640 + 128 b).
  layout = intervals.OutputLayout(sequence_length=2048, num_bins=8,
                                  crop_bp=512)
  genes = [gene('A', 'chr1', '+', 1520, 1600),  # Both in bin 0: once.
           gene('B', 'chr1', '-', 2530, 2600),  # Bin 7; 2600 is outside.
           gene('C', 'chr1', '+', 1511),        # Just left of the bins.
           gene('D', 'chr2', '+', 1800)]        # Other chromosome.
  record = vcf.VcfRecord('chr1', 2001, 'v', 'A', 'G', 1)  # start 2000.
  rng = np.random.default_rng(0)
  ref = rng.uniform(0, 5, (8, 3))
  alt = rng.uniform(0, 5, (8, 3))
  rows = variant_genes.score_genes(variant_genes.GeneIndex(genes), record,
                                   1000, layout, ref, alt)
  assert [(r.gene.gene_id, r.tss_distance, r.num_bins) for r in rows] == [
      ('A', 2000 - 1600, 1), ('B', 2000 - 2530, 1)]
  np.testing.assert_allclose(rows[0].scores['SED'], alt[0] - ref[0],
                             rtol=1e-6)
  np.testing.assert_allclose(
      rows[1].scores['logSED'], np.log2(1 + alt[7]) - np.log2(1 + ref[7]),
      rtol=1e-5)
  # Flanks: A gets bins 0-1 (bin -1 is outside), B bins 6-7.
  rows = variant_genes.score_genes(variant_genes.GeneIndex(genes, 1),
                                   record, 1000, layout, ref, alt)
  assert [r.num_bins for r in rows] == [2, 2]
  np.testing.assert_allclose(rows[1].scores['SED'],
                             alt[6:].sum(0) - ref[6:].sum(0), rtol=1e-6)
  # No gene in range: one row saying so.
  far = variant_genes.score_genes(variant_genes.GeneIndex(genes), record,
                                  50_000, layout, ref, alt)
  assert len(far) == 1 and far[0].gene is None and not far[0].scores


@pytest.fixture(name='trained', scope='module')
def _trained(trained_synthetic):
  human = trained_synthetic.genome['human']
  model = models.load_model(trained_synthetic.model_path)
  genes = annotation.read_genes(human['genes'], gene_types=None)
  truth = synthetic_genes.gene_truth(os.path.dirname(human['genes']))
  with genome.FastaExtractor(human['fasta']) as fasta:
    yield (model, fasta, synthetic.read_elements(human['elements']), genes,
           truth)


def test_destroying_a_promoter_motif_lowers_its_gene_only(trained):
  model, fasta, elements, genes, truth = trained
  promoters = [e for e in elements if e.kind == 'promoter' and
               e.variant == 'strong'][:2]
  records, bystanders, far_genes = [], [], []
  for i, promoter in enumerate(promoters):
    # The motif's six central bases (its TATA box), each changed.
    ref = fasta.extract(promoter.chrom, promoter.start + 4,
                        promoter.start + 10).upper()
    assert ref == promoter.motif[4:10]
    records.append(vcf.VcfRecord(promoter.chrom, promoter.start + 5,
                                 promoter.name, ref,
                                 ''.join(SWAP[b] for b in ref), i + 1))
    # A gene whose TSS is in the window, three bins from the promoter (the
    # fixture's genes are never that close, so it is annotated here).
    bystanders.append(gene(f'B{i}', promoter.chrom, '+',
                           promoter.center + 384))
    # A real gene tens of kb away: its TSS is outside the 1,024-bp output.
    far_genes.append(next(
        g for g, t in truth.items()
        if abs(t.tss[0] - promoter.center) > 20_000 and
        next(x for x in genes if x.gene_id == g).chrom == promoter.chrom))
  scorer = ve.VariantScorer(model, fasta, 'human', track_names=TRACKS,
                            genes=genes + bystanders, batch_size=8)
  batch = scorer.score_batch(records)
  cage = TRACKS.index('cage_promoter')
  for i, promoter in enumerate(promoters):
    own = 'G' + promoter.name[1:]
    rows = {r.gene.gene_id: r for r in batch.genes if r.record is records[i]}
    assert set(rows) == {own, f'B{i}'}  # far_genes[i] is out of range.
    assert far_genes[i] not in rows
    assert rows[own].tss_distance == records[i].start - min(
        truth[own].tss, key=lambda t: abs(t - records[i].start))
    # Measured on one fixture: logSED of the gene -2.0 to -3.8 (23 strong
    # promoters), of the bystander under 0.03 in magnitude.
    assert rows[own].scores['logSED'][cage] < -0.5, rows[own].scores
    assert (abs(rows[f'B{i}'].scores['logSED'][cage]) <
            0.1 * abs(rows[own].scores['logSED'][cage]))
    # SED is the change of the summed TSS bins of the scorer's predictions.
    ref_pred, alt_pred = scorer.predictions([records[i]])
    start = records[i].start - model.sequence_length // 2
    bins = variant_genes.GeneIndex(genes).window_bins(
        next(g for g in genes if g.gene_id == own),
        start + scorer.layout.crop_bp, scorer.layout.num_bins)
    np.testing.assert_allclose(
        rows[own].scores['SED'],
        alt_pred[0, list(bins)].sum(0) - ref_pred[0, list(bins)].sum(0),
        rtol=1e-4, atol=1e-5)


def test_variant_with_no_gene_in_range_gets_a_dot_row(trained):
  model, fasta, elements, genes, _ = trained
  tss = np.array([t for g in genes if g.chrom == 'chr1' for t in g.tss])
  position = next(p for p in range(5_000, 300_000, 997)
                  if np.min(np.abs(tss - p)) > 2_000)
  ref = fasta.extract('chr1', position, position + 1).upper()
  record = vcf.VcfRecord('chr1', position + 1, 'far', ref, SWAP[ref], 1)
  scorer = ve.VariantScorer(model, fasta, 'human', genes=genes)
  batch = scorer.score_batch([record])
  assert len(batch.genes) == 1 and batch.genes[0].gene is None
