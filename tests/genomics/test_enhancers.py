"""Enhancer-gene scores (`genomics.enhancers`) against direct computations
on a small random Enformer: gradient x input from tf.GradientTape,
attention from `model.attention_weights`, perturbations from two explicit
forward passes, the main TSS from windows predicted one by one."""
import math
import zlib

import numpy as np
import pytest
import tensorflow as tf

from enformer_tf.constants import BIN_SIZE
from enformer_tf.data import annotation, crispri_pairs, encoding, genome
from enformer_tf.data.synthetic import writers
from enformer_tf.genomics import enhancers, intervals

from enhancer_helpers import (GENES_BED, HEAD, HEADER, LENGTH, TRACKS,
                             small_enformer)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
  root = tmp_path_factory.mktemp('enhancers')
  rng = np.random.default_rng(5)
  sequence = np.frombuffer(b'ACGT', np.uint8)[rng.integers(0, 4, 20_000)]
  fasta = str(root / 'genome.fa')
  writers.write_fasta(fasta, [('chr1', sequence.copy())])
  bed = root / 'genes.bed'
  bed.write_text(GENES_BED)
  return {'fasta': fasta, 'genes': str(bed), 'root': root}


@pytest.fixture(scope='module')
def model():
  return small_enformer()


def _table(path, rows):
  path.write_text(HEADER + ''.join('\t'.join(map(str, r)) + '\n'
                                   for r in rows))
  return crispri_pairs.read_pairs(str(path))


def _one_hot(fasta, start, length=LENGTH):
  with genome.FastaExtractor(fasta) as f:
    return encoding.one_hot_encode(f.extract('chr1', start, start + length)
                                   ).astype(np.float32)


def _target(model, x, bins):
  y = model.predict_head(x[np.newaxis], HEAD, training=False).numpy()[0]
  return y[np.ix_(bins, TRACKS)].mean()


def test_scores_equal_direct_computations(model, files, tmp_path):
  table = _table(tmp_path / 'pairs.tsv', [
      ('chr1', 5100, 5160, 'E1', 'GENEA', '.', 'TRUE', -0.3, 'K562'),
      ('chr1', 5990, 6010, 'E2', 'GENEA', '.', 'FALSE', 0.0, 'K562'),
      ('chr1', 6500, 6700, 'E3', 'GENEA', '.', 'FALSE', 0.1, 'K562')])
  genes = annotation.read_genes(files['genes'], gene_types=None)
  grouped, problems = enhancers.group_pairs(table, genes, {'chr1': 20_000})
  assert not problems and len(grouped) == 1
  main = enhancers.choose_main_tss(grouped[0].gene)
  assert (main.tss, main.rule) == (6000, 'single')
  with genome.FastaExtractor(files['fasta']) as extractor:
    for method in ('shuffle', 'N'):
      scores, problems, _ = enhancers.score_gene(
          model, extractor, grouped[0], main, HEAD, TRACKS, flank_bins=1,
          perturbation=method, seed=11, batch_size=2)
      assert not problems and len(scores) == 3
      # The window: output bins centred on bin 6000 // 128 = 46.
      first_bin = 6000 // BIN_SIZE - 2
      start = first_bin * BIN_SIZE - (LENGTH // BIN_SIZE - 4) // 2 * BIN_SIZE
      bins = [1, 2, 3]  # TSS bin 46 - first_bin = 2, +- 1.
      x = _one_hot(files['fasta'], start)
      inputs = tf.constant(x[np.newaxis])
      with tf.GradientTape() as tape:
        tape.watch(inputs)
        y = model.predict_head(inputs, HEAD, training=False)[0]
        target = tf.reduce_mean(tf.gather(tf.gather(y, bins), TRACKS,
                                          axis=1))
      per_base = (tape.gradient(target, inputs).numpy()[0] * x).sum(-1)
      maps = [w.numpy()[0] for w in model.attention_weights(x[np.newaxis])]
      assert len(maps) == 2
      crop = (LENGTH // BIN_SIZE - 4) // 2
      for score in scores:
        p = score.pair
        a, b = p.start - start, p.end - start
        assert score.reference == pytest.approx(float(target), rel=1e-5)
        assert score.gradient == pytest.approx(
            np.abs(per_base[a:b]).sum(), rel=1e-4, abs=1e-8)
        layers = []
        for m in maps:  # [heads, T, T]
          rows = m[:, [c + crop for c in bins], :].mean(axis=(0, 1))  # [T]
          layers.append(rows[a // BIN_SIZE:(b - 1) // BIN_SIZE + 1].sum())
        np.testing.assert_allclose(score.attention_layers, layers, rtol=1e-5)
        assert score.attention == pytest.approx(np.mean(layers), rel=1e-5)
        changed = x.copy()
        if method == 'N':
          changed[a:b] = 0
        else:
          changed[a:b] = np.random.default_rng(
              [11, zlib.crc32(f'chr1:{p.start}-{p.end}'.encode())]
          ).permutation(x[a:b])
          assert not np.array_equal(changed, x)
        delta = _target(model, changed, bins) - _target(model, x, bins)
        assert score.perturbation_delta == pytest.approx(delta, abs=1e-5,
                                                         rel=1e-4)
        assert score.distance == p.center - 6000
      assert [s.inside_output for s in scores] == [False, True, False]
      # Not vacuous: the scores differ between elements.
      assert len({round(s.gradient, 9) for s in scores}) == 3


def test_main_tss_is_the_tss_with_highest_predicted_cage(model, files):
  genes = {g.gene_id: g for g in annotation.read_genes(files['genes'],
                                                       gene_types=None)}
  layout = intervals.output_layout(model)
  with genome.FastaExtractor(files['fasta']) as extractor:
    cage = enhancers.predict_tss_cage(model, extractor, list(genes.values()),
                                      HEAD, TRACKS)
  assert set(cage) == {'GB'}  # One TSS: no prediction needed.
  expected = []
  for tss in (12000, 12700):
    window = enhancers.gene_window('chr1', tss, layout)
    y = model.predict_head(_one_hot(files['fasta'], window.start)[np.newaxis],
                           HEAD, training=False).numpy()[0]
    expected.append(y[window.tss_bins[0], TRACKS].sum())
  np.testing.assert_allclose(cage['GB'], expected, rtol=1e-5)
  main = enhancers.choose_main_tss(genes['GB'], cage['GB'])
  assert main.tss == (12000, 12700)[int(np.argmax(expected))]
  assert main.rule == 'highest'


def test_main_tss_rules():
  plus = annotation.Gene('g', 'g', '', 'chr1', '+', (100, 300, 500))
  minus = dataclasses_replace(plus, strand='-')
  assert enhancers.choose_main_tss(plus, [1.0, 3.0, 2.0]).tss == 300
  # Ties: the most upstream along the strand.
  tie = enhancers.choose_main_tss(plus, [1.0, 3.0, 3.0])
  assert (tie.tss, tie.rule) == (300, 'tie_upstream')
  assert enhancers.choose_main_tss(minus, [3.0, 1.0, 3.0]).tss == 500
  single = enhancers.choose_main_tss(
      annotation.Gene('h', 'h', '', 'chr1', '-', (42,)))
  assert (single.tss, single.rule) == (42, 'single')
  with pytest.raises(ValueError, match='3 TSSs'):
    enhancers.choose_main_tss(plus)


def dataclasses_replace(gene, **changes):
  import dataclasses
  return dataclasses.replace(gene, **changes)


def test_pairs_outside_the_window_or_without_gene_are_reported(model, files,
                                                               tmp_path):
  table = _table(tmp_path / 'pairs.tsv', [
      ('chr1', 5100, 5160, 'E1', 'GENEA', '.', 'TRUE', -0.3, 'K562'),
      ('chr1', 9000, 9100, 'far', 'GENEA', '.', 'FALSE', 0.0, 'K562'),
      ('chr1', 6900, 7100, 'edge', 'GENEA', '.', 'FALSE', 0.0, 'K562'),
      ('chr1', 3000, 3100, 'E4', 'NOPE', '.', 'FALSE', 0.0, 'K562'),
      ('chr1', 3000, 3100, 'E5', 'NEWG', 3500, 'FALSE', 0.0, 'K562'),
      ('chr2', 3000, 3100, 'E6', 'GENEA', '.', 'FALSE', 0.0, 'K562'),
      ('chr1', 'x', 3100, 'E7', 'GENEA', '.', 'FALSE', 0.0, 'K562')])
  genes = annotation.read_genes(files['genes'], gene_types=None)
  scores, mains, problems = enhancers.score_pairs(
      model, files['fasta'], table, genes, HEAD, TRACKS)
  assert sorted(s.pair.name for s in scores) == ['E1', 'E5']
  reasons = {p.row: p.reason for p in problems}
  assert sorted(reasons) == [3, 4, 5, 7, 8]
  assert 'outside the model' in reasons[3] and '2,048-bp' in reasons[3]
  assert 'outside the model' in reasons[4]  # Partly outside.
  assert "'NOPE' is not in the annotation" in reasons[5]
  assert "'chr2' is not in the FASTA" in reasons[7]
  assert 'not a number' in reasons[8]
  assert {m.tss for m in mains} == {6000, 3500}  # NEWG from the table.


def test_conv_only_model_scores_nothing_beyond_its_receptive_field(files,
                                                                   tmp_path):
  length = 4096
  model = small_enformer(layers=0, length=length)
  # TSS at 8,000: input window [6,144, 10,240); the output bins [7,936,
  # 8,448). The conv tower's receptive field reaches ~260 bp past them.
  table = _table(tmp_path / 'pairs.tsv', [
      ('chr1', 6300, 6500, 'far_left', 'GC', 8000, 'FALSE', 0, 'K562'),
      ('chr1', 9700, 9900, 'far_right', 'GC', 8000, 'FALSE', 0, 'K562'),
      ('chr1', 7990, 8010, 'at_tss', 'GC', 8000, 'TRUE', 0, 'K562')])
  scores, _, problems = enhancers.score_pairs(
      model, files['fasta'], table, [], HEAD, TRACKS, perturbation='N')
  assert not problems
  by_name = {s.pair.name: s for s in scores}
  for name in ('far_left', 'far_right'):
    assert by_name[name].gradient == 0.0
    assert abs(by_name[name].perturbation_delta) <= 1e-6
    assert math.isnan(by_name[name].attention)
    assert by_name[name].attention_layers == ()
  # Not vacuous: the element at the TSS is seen.
  assert by_name['at_tss'].gradient > 1e-6
  assert by_name['at_tss'].perturbation > 1e-6
