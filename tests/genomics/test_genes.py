"""Gene expression at TSSs: window geometry, sums, observed bigWigs, writers."""
import os

import numpy as np
import pyBigWig
import pytest

from enformer_tf import Enformer
from enformer_tf.constants import BIN_SIZE
from enformer_tf.data import encoding
from enformer_tf.data.annotation import Gene
from enformer_tf.genomics import genes as genes_lib
from enformer_tf.genomics import intervals
from random_weights import randomise_weights

SEQUENCE_LENGTH = 2048  # 16 bins, of which ...
TARGET_LENGTH = 8  # ... the central 8 are predicted (crop 512 bp).


class BaseCounts:
  """A stand-in model: track t of an output bin counts base t (A, C, G, T)
  in the 128 bp the bin covers. Its output for a genome bin is the same
  whatever window holds the bin, so gene sums have an exact oracle."""

  def __init__(self):
    self.sequence_length = SEQUENCE_LENGTH
    self.target_length = TARGET_LENGTH
    self.heads = {'human': 4}
    self.calls = 0

  def predict_head(self, x, head, training=False):
    self.calls += 1
    x = np.asarray(x)  # [B, L, 4]
    trim = (x.shape[1] // 128 - TARGET_LENGTH) // 2 * 128
    counts = x[:, trim:trim + TARGET_LENGTH * 128].reshape(
        len(x), TARGET_LENGTH, 128, 4)
    return counts.sum(axis=2)  # [B, bins, 4]


@pytest.fixture(scope='module')
def genome(tmp_path_factory):
  rng = np.random.RandomState(3)
  sequences = {'chrA': ''.join(rng.choice(list('ACGT'), 20_000)),
               'chrB': ''.join(rng.choice(list('ACGT'), 5_000))}
  path = tmp_path_factory.mktemp('genome') / 'genome.fa'
  with open(path, 'w') as f:
    for name, sequence in sequences.items():
      f.write(f'>{name}\n{sequence}\n')
  return str(path), sequences


def oracle(sequences, gene, flank_bins=0):
  """Base counts summed over the gene's unique TSS bins, straight from the
  sequence (off-chromosome bases count as nothing)."""
  total = np.zeros(4)
  for b in {t // BIN_SIZE + d for t in gene.tss
            for d in range(-flank_bins, flank_bins + 1)}:
    piece = sequences[gene.chrom][max(b * 128, 0):max((b + 1) * 128, 0)]
    total += [piece.count(base) for base in 'ACGT']
  return total


GENES = [
    # TSS at the last base of bin 7 and the first of bin 8 (bin edge).
    Gene('edge', 'EDGE', 'protein_coding', 'chrA', '+', (1023, 1024)),
    # Two TSSs in one bin: the bin counts once.
    Gene('same', 'SAME', 'protein_coding', 'chrA', '-', (5000, 5050)),
    # Near the chromosome start: the window runs off the end (N).
    Gene('start', 'START', 'protein_coding', 'chrA', '+', (10,)),
    # Near the end of chrB.
    Gene('end', 'END', 'protein_coding', 'chrB', '-', (4990,)),
    # TSSs 6 kb apart: separate windows however far they may share.
    Gene('far', 'FAR', 'protein_coding', 'chrA', '+', (9000, 15000)),
    # Shares a bin with `same` on the other strand: each gene counts it.
    Gene('neighbour', 'NB', 'protein_coding', 'chrA', '+', (5100,)),
]


def test_gene_bins_follow_the_128_bp_grid():
  assert genes_lib.gene_bins(GENES[0]) == (7, 8)
  assert genes_lib.gene_bins(GENES[1]) == (39,)
  assert genes_lib.gene_bins(GENES[1], flank_bins=1) == (38, 39, 40)
  assert genes_lib.gene_bins(GENES[0], flank_bins=1) == (6, 7, 8, 9)


def test_windows_are_aligned_centred_and_each_bin_read_once():
  layout = intervals.OutputLayout(SEQUENCE_LENGTH, TARGET_LENGTH, 512)
  windows = genes_lib.plan_windows(GENES, layout, max_tss_offset=0)
  # One window per distinct TSS position (9 distinct positions).
  assert len(windows) == 9
  read = {}
  for window in windows:
    # Output bin 0 starts crop_bp after the input start, on the grid.
    assert window.start + layout.crop_bp == window.first_bin * BIN_SIZE
    for g, bins in window.genes:
      for b in bins:
        assert 0 <= b < TARGET_LENGTH
        key = (g, window.first_bin + b)
        assert key not in read  # Each gene bin exactly once.
        read[key] = True
  assert sorted(read) == sorted(
      (g, b) for g, gene in enumerate(GENES)
      for b in genes_lib.gene_bins(gene))
  # The TSS sits in the centre bin (num_bins // 2) of its own window.
  first = [w for w in windows if w.chrom == 'chrA' and
           any(g == 0 for g, _ in w.genes)][0]
  assert first.first_bin + TARGET_LENGTH // 2 == 1023 // BIN_SIZE


def test_nearby_tss_share_a_window():
  layout = intervals.OutputLayout(SEQUENCE_LENGTH, TARGET_LENGTH, 512)
  windows = genes_lib.plan_windows(GENES, layout, max_tss_offset=128)
  # 1023/1024, 5000/5050/5100 share; 10, 9000, 15000 and chrB's alone.
  assert len(windows) == 6
  with pytest.raises(ValueError, match='does not fit'):
    genes_lib.plan_windows(GENES, layout, max_tss_offset=1024)
  with pytest.raises(ValueError, match='flank_bins'):
    genes_lib.plan_windows(GENES, layout, flank_bins=-1)


@pytest.mark.parametrize('max_tss_offset,flank_bins', [(0, 0), (128, 1),
                                                       (256, 0)])
def test_gene_sums_equal_the_sequence_oracle(genome, max_tss_offset,
                                             flank_bins):
  path, sequences = genome
  model = BaseCounts()
  result = genes_lib.predict_gene_expression(
      model, path, GENES, 'human', max_tss_offset=max_tss_offset,
      flank_bins=flank_bins, batch_size=3)
  assert result.gene_ids == [g.gene_id for g in GENES]
  expected = np.stack([oracle(sequences, g, flank_bins) for g in GENES])
  np.testing.assert_array_equal(result.values, expected)
  assert result.track_names == ('track_0', 'track_1', 'track_2', 'track_3')


def test_track_choice_and_names(genome):
  path, sequences = genome
  result = genes_lib.predict_gene_expression(
      BaseCounts(), path, GENES[:2], 'human', tracks=[2, 0],
      track_names=['A', 'C', 'G', 'T'])
  expected = np.stack([oracle(sequences, g) for g in GENES[:2]])[:, [2, 0]]
  np.testing.assert_array_equal(result.values, expected)
  assert result.track_names == ('G', 'A') and result.track_indices == (2, 0)


def test_enformer_gene_sums_equal_explicit_windows(genome):
  """A real (random) Enformer: the sum equals the model called on the
  window read by hand, at the bins computed by hand."""
  path, sequences = genome
  model = Enformer(channels=24, num_transformer_layers=1, num_heads=2,
                   heads={'human': 3}, sequence_length=SEQUENCE_LENGTH,
                   target_length=TARGET_LENGTH, conv_tower_divisible_by=4)
  model.build((None, SEQUENCE_LENGTH, 4))
  randomise_weights(model, seed=1)
  gene = GENES[0]  # TSSs 1,023 and 1,024: bins 7 and 8.
  result = genes_lib.predict_gene_expression(model, path, [gene], 'human')
  total = np.zeros(3)
  for tss in gene.tss:
    centre_bin = tss // 128
    start = (centre_bin - TARGET_LENGTH // 2) * 128 - 512
    piece = sequences['chrA'][max(start, 0):start + SEQUENCE_LENGTH]
    piece = 'N' * (SEQUENCE_LENGTH - len(piece)) + piece if start < 0 \
        else piece
    y = model.predict_head(encoding.one_hot_encode(piece)[None], 'human',
                           training=False).numpy()[0]  # [8, 3]
    total += y[TARGET_LENGTH // 2]
  np.testing.assert_allclose(result.values[0], total, rtol=1e-5)


def test_unknown_chromosome_and_tss_off_chromosome(genome):
  path, _ = genome
  with pytest.raises(ValueError, match="'chrZ', which the genome does not"):
    genes_lib.predict_gene_expression(
        BaseCounts(), path, [Gene('z', 'z', '', 'chrZ', '+', (5,))],
        'human')
  with pytest.raises(ValueError, match='off chrB'):
    genes_lib.predict_gene_expression(
        BaseCounts(), path, [Gene('z', 'z', '', 'chrB', '+', (5000,))],
        'human')
  with pytest.raises(ValueError, match='occurs twice'):
    genes_lib.predict_gene_expression(BaseCounts(), path,
                                      [GENES[0], GENES[0]], 'human')
  with pytest.raises(ValueError, match="Unknown head 'mouse'"):
    genes_lib.predict_gene_expression(BaseCounts(), path, GENES, 'mouse')


def test_observed_expression_from_bigwigs(tmp_path, genome):
  _, sequences = genome
  rng = np.random.RandomState(0)
  values = {c: rng.gamma(0.5, 2.0, len(s)).astype(np.float32)
            for c, s in sequences.items()}
  paths = []
  for name, scale in (('plain', 1.0), ('scaled', 0.5)):
    bw_path = str(tmp_path / f'{name}.bw')
    with pyBigWig.open(bw_path, 'w') as bw:
      bw.addHeader([(c, len(s)) for c, s in sequences.items()])
      for chrom, v in values.items():
        bw.addEntries(chrom, 0, values=v.tolist(), span=1, step=1)
    paths.append((name, bw_path, scale))
  targets = tmp_path / 'targets.txt'
  targets.write_text(
      'index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n' +
      ''.join(f'{i}\t{n}\t{p}\t1000000\t{s}\tsum\tCAGE:{n}\n'
              for i, (n, p, s) in enumerate(paths)))
  observed = genes_lib.observe_gene_expression(str(targets), GENES,
                                               flank_bins=1)
  assert observed.track_names == ('plain', 'scaled')
  for g, gene in enumerate(GENES):
    expected = 0.0
    for b in genes_lib.gene_bins(gene, flank_bins=1):
      expected += values[gene.chrom][max(b * 128, 0):max((b + 1) * 128, 0)
                                     ].astype(np.float64).sum()
    np.testing.assert_allclose(observed.values[g], [expected, expected / 2],
                               rtol=1e-3)


class FailsAfter(BaseCounts):
  def __init__(self, calls):
    super().__init__()
    self.fail_at = calls

  def predict_head(self, x, head, training=False):
    if self.calls >= self.fail_at:
      raise RuntimeError('killed')
    return super().predict_head(x, head, training)


def test_writer_keeps_finished_genes_and_resumes(tmp_path, genome):
  path, sequences = genome
  tsv, h5 = str(tmp_path / 'genes.tsv'), str(tmp_path / 'genes.h5')
  names = ['A', 'C', 'G', 'T']
  writer = genes_lib.GeneExpressionWriter(tsv, names, range(4), h5)
  with pytest.raises(RuntimeError, match='killed'):
    genes_lib.predict_gene_expression(FailsAfter(2), path, GENES, 'human',
                                      batch_size=2, writer=writer)
  partial = writer.abandon()
  assert not os.path.exists(tsv) and os.path.exists(partial)
  written = open(partial).read().splitlines()[1:]
  assert written  # Genes whose windows were all done are on disk.
  resumed = genes_lib.GeneExpressionWriter(tsv, names, range(4), h5,
                                           resume=True)
  done = resumed.done_gene_ids
  assert done == [line.split('\t')[0] for line in written]
  model = BaseCounts()
  genes_lib.predict_gene_expression(model, path, GENES, 'human',
                                    batch_size=2, writer=resumed,
                                    skip_gene_ids=done)
  paths = resumed.finish()
  table = genes_lib.read_expression_tsv(paths['tsv'])
  assert sorted(table.gene_ids) == sorted(g.gene_id for g in GENES)
  by_id = dict(zip(table.gene_ids, table.values))
  for gene in GENES:
    np.testing.assert_array_equal(by_id[gene.gene_id], oracle(sequences,
                                                              gene))
  import h5py
  with h5py.File(paths['h5']) as f:
    ids = [i.decode() for i in f['gene_id'][:]]
    np.testing.assert_array_equal(
        f['values'][:], np.stack([by_id[i] for i in ids]))
    assert 'TSS' in f.attrs['definition']
  # A partial file of other columns is not resumed silently.
  other = tmp_path / 'other.tsv'
  (tmp_path / 'other.tsv.partial').write_text('gene_id\tx\n')
  with pytest.raises(ValueError, match='not those of this run'):
    genes_lib.GeneExpressionWriter(str(other), names, range(4), resume=True)
