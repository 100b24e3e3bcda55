"""Homology-aware splits on the synthetic pair of genomes (the generator's
homology option writes the truth), the chromosome-split baseline's leakage,
and `enformer-make-data --tile_regions` keeping windows inside regions."""
import collections
import dataclasses
import json
import os

import numpy as np
import pyfaidx
import pytest

from enformer_tf.cli import make_data as make_data_cli
from enformer_tf.cli import split_homology as split_cli
from enformer_tf.data import alignments, encoding, homology_split, regions
from enformer_tf.data import genome, synthetic

SPEC = synthetic.SyntheticGenomeSpec(
    seed=5, chrom_sizes=(1_000_000, 700_000, 500_000),
    homology=synthetic.HomologySpec())
REGION = 50_000
MIN_ALIGNED = 5_000
FRACTIONS = {'train': 0.8, 'valid': 0.1, 'test': 0.1}


@pytest.fixture(scope='module')
def pair(tmp_path_factory):
  out = tmp_path_factory.mktemp('homology') / 'genome'
  return synthetic.make_synthetic_genome(str(out), SPEC)


@pytest.fixture(scope='module')
def split(pair, tmp_path_factory):
  out = tmp_path_factory.mktemp('split') / 'splits'
  report = homology_split.split_homology(
      pair['human']['fasta'], pair['mouse']['fasta'],
      pair['mouse']['homology']['chain'], str(out), region_size=REGION,
      min_aligned_bp=MIN_ALIGNED, fractions=FRACTIONS, seed=1,
      baseline_chroms=(['chr2'], ['chr3']))
  return str(out), report


def _truth_pairs(truth, region_size):
  """Aligned bases per region pair, base by base from homology.tsv."""
  counts = collections.Counter()
  for segment in truth:
    for piece in segment.pieces:
      k = np.arange(piece.size)
      t = piece.source_start + k
      q = piece.copy_start + (k if segment.strand == '+' else
                              piece.size - 1 - k)
      keys, numbers = np.unique(
          np.stack([t // region_size, q // region_size]), axis=1,
          return_counts=True)
      for (t_index, q_index), n in zip(keys.T, numbers):
        counts[segment.source_chrom, int(t_index), segment.copy_chrom,
               int(q_index)] += int(n)
  return dict(counts)


def _read_bed(path):
  with open(path) as f:
    return [(c, int(s), int(e), split) for c, s, e, split in
            (line.split() for line in f)]


def test_synthetic_copies_are_mutated_homologs(pair):
  truth = synthetic.read_homology_truth(pair['mouse']['homology']['truth'])
  assert len(truth) >= 5
  assert {s.strand for s in truth} == {'+', '-'}
  # Rearranged: across chromosomes, and out of the source's order.
  assert any(s.source_chrom != s.copy_chrom for s in truth)
  in_copy_order = sorted(truth, key=lambda s: (s.copy_chrom, s.copy_start))
  assert in_copy_order != sorted(
      truth, key=lambda s: (s.source_chrom, s.source_start))
  human = pyfaidx.Fasta(pair['human']['fasta'], as_raw=True)
  mouse = pyfaidx.Fasta(pair['mouse']['fasta'], as_raw=True)
  rate = SPEC.homology.substitution_rate
  for segment in truth:
    same = total = 0
    for piece in segment.pieces:
      source = human[segment.source_chrom][
          piece.source_start:piece.source_start + piece.size]
      copy = mouse[segment.copy_chrom][
          piece.copy_start:piece.copy_start + piece.size]
      if segment.strand == '-':
        copy = encoding.reverse_complement(copy)
      same += sum(a == b for a, b in zip(source, copy))
      total += piece.size
    # Substitutions, plus the copy's planted motifs and scrubbed chance ones.
    assert 1 - 2 * rate < same / total < 1 - rate / 2, segment.number
  covered = sum(s.copy_end - s.copy_start for s in truth)
  assert 0.3 < covered / sum(SPEC.chrom_sizes) < 0.7


def test_spec_json_records_homology(pair):
  spec = json.load(open(os.path.join(
      os.path.dirname(pair['human']['dir']), 'spec.json')))
  assert spec['homology'] == dataclasses.asdict(SPEC.homology) | {
      'segment_length': list(SPEC.homology.segment_length),
      'piece_length': list(SPEC.homology.piece_length),
      'gap_length': list(SPEC.homology.gap_length)}


def test_chain_counts_equal_the_truth_and_net_gives_the_same_graph(pair):
  files = pair['mouse']['homology']
  truth = _truth_pairs(synthetic.read_homology_truth(files['truth']), REGION)
  from_chain = alignments.count_aligned_bases(
      alignments.read_alignment_blocks(files['chain']), REGION)
  from_net = alignments.count_aligned_bases(
      alignments.read_alignment_blocks(files['net']), REGION)
  assert from_chain == truth
  # The net omits insertion-only gaps: per pair within their total size.
  assert sum(from_net.values()) == sum(from_chain.values())
  for key in set(from_chain) | set(from_net):
    assert abs(from_net.get(key, 0) - from_chain.get(key, 0)) <= 2_000, key
  sizes = tuple(pair[o]['chrom_sizes'] for o in ('human', 'mouse'))
  graphs = [homology_split.homology_graph(sizes, counts, REGION, MIN_ALIGNED)
            for counts in (from_chain, from_net)]
  assert ({(t, q) for t, q, _ in graphs[0].edges} ==
          {(t, q) for t, q, _ in graphs[1].edges})


def test_no_homologous_pair_is_split_apart(pair, split):
  out, report = split
  truth = _truth_pairs(synthetic.read_homology_truth(
      pair['mouse']['homology']['truth']), REGION)
  split_of = [{(c, s // REGION): sp for c, s, _, sp in _read_bed(
      os.path.join(out, f'{name}.bed'))} for name in ('human', 'mouse')]
  joined = [(k, n) for k, n in truth.items() if n > MIN_ALIGNED]
  assert len(joined) >= 10
  for (t_chrom, t_index, q_chrom, q_index), _ in joined:
    assert (split_of[0][t_chrom, t_index] ==
            split_of[1][q_chrom, q_index])
  assert report['edges_cut'] == 0
  assert report['edges'] == len(joined)
  for name in ('human', 'mouse'):
    for held_out in ('valid', 'test'):
      assert report['leakage'][name][held_out]['fraction'] == 0
      assert report['leakage'][name][held_out]['bp_with_train_partner'] == 0


def test_split_fractions_and_bed_files(pair, split):
  out, report = split
  for name in ('human', 'mouse'):
    rows = _read_bed(os.path.join(out, f'{name}.bed'))
    sizes = pair[name]['chrom_sizes']
    assert sum(e - s for _, s, e, _ in rows) == sum(sizes.values())
    assert len(rows) == sum(-(-size // REGION) for size in sizes.values())
    for target_split, fraction in FRACTIONS.items():
      got = report['per_split'][name][target_split]['fraction']
      assert abs(got - fraction) < 0.03, (name, target_split, got)
    # The BED reads as enformer-make-data reads it, split in column 4.
    records = regions.read_bed(os.path.join(out, f'{name}.bed'))
    assert {r.split for r in records} == set(FRACTIONS)
  assert report['components'] >= 20
  largest = report['largest_component']
  assert sum(largest['regions'].values()) >= 2


def test_chromosome_baseline_leaks(split):
  """Splitting both genomes by chromosome puts homologs in train and test."""
  _, report = split
  baseline = report['chromosome_baseline']
  assert baseline['edges_cut'] > 0
  leaked = [baseline['leakage'][name][held_out]['fraction']
            for name in ('human', 'mouse') for held_out in ('valid', 'test')]
  assert max(leaked) > 0.2, leaked
  human_test = baseline['leakage']['human']['test']
  assert human_test['aligned_bp_to_train'] > 0


def test_same_seed_same_split_other_seed_differs(pair, split, tmp_path):
  out, report = split
  args = (pair['human']['fasta'], pair['mouse']['fasta'],
          pair['mouse']['homology']['net'])
  kwargs = dict(region_size=REGION, min_aligned_bp=MIN_ALIGNED,
                fractions=FRACTIONS, baseline_chroms=(['chr2'], ['chr3']))
  again = homology_split.split_homology(*args, str(tmp_path / 'a'), seed=1,
                                        **kwargs)
  other = homology_split.split_homology(*args, str(tmp_path / 'b'), seed=2,
                                        **kwargs)
  for name in ('human', 'mouse'):
    with open(os.path.join(out, f'{name}.bed')) as f, open(
        tmp_path / 'a' / f'{name}.bed') as g:
      assert f.read() == g.read()  # Net input, same graph, same seed.
  assert again['per_split'] == report['per_split']
  assert (_read_bed(tmp_path / 'b' / 'human.bed') !=
          _read_bed(tmp_path / 'a' / 'human.bed'))
  assert other['edges_cut'] == 0


def test_assignment_balances_both_genomes_exactly_when_it_can():
  """Equal-sized isolated regions: the targets are met on each genome."""
  sizes = ({'a': 1000}, {'b': 1000})
  graph = homology_split.homology_graph(sizes, {('a', 0, 'b', 0): 50}, 10,
                                        20)
  split_regions, report = homology_split.split_graph(
      graph, {'train': 0.8, 'valid': 0.1, 'test': 0.1}, seed=0)
  assert report['edges'] == 1 and report['edges_cut'] == 0
  for side in split_regions:
    counts = collections.Counter(r.split for r in side)
    assert counts == {'train': 80, 'valid': 10, 'test': 10}
  assert split_regions[0][0].split == split_regions[1][0].split


def test_alignment_on_another_assembly_is_an_error(tmp_path):
  pairs = {('chr1', 5, 'chrX', 0): 10}
  with pytest.raises(ValueError, match='past its end'):
    homology_split.homology_graph(({'chr1': 300}, {'chrX': 10}), pairs, 100,
                                  1)
  with pytest.raises(ValueError, match="has no chromosome 'chrX'"):
    homology_split.homology_graph(({'chr1': 1000}, {'1': 10}), pairs, 100,
                                  1)


def test_cli_writes_and_prints_the_report(pair, tmp_path, capsys):
  out = tmp_path / 'cli'
  code = split_cli.main([
      '--target_fasta', pair['human']['fasta'], '--query_fasta',
      pair['mouse']['fasta'], '--alignment',
      pair['mouse']['homology']['chain'], '--out_dir', str(out),
      '--region_size', str(REGION), '--min_aligned_bp', str(MIN_ALIGNED),
      '--valid_fraction', '0.1', '--test_fraction', '0.1', '--seed', '1',
      '--baseline_valid_chroms', 'chr2', '--baseline_test_chroms', 'chr3'])
  printed = capsys.readouterr().out
  assert code == 0
  assert 'edges cut: 0' in printed and 'human test:' in printed
  assert 'chromosome split instead' in printed
  assert sorted(os.listdir(out)) == ['human.bed', 'mouse.bed', 'report.json']
  code = split_cli.main([
      '--target_fasta', pair['human']['fasta'], '--query_fasta',
      pair['mouse']['fasta'], '--alignment', str(tmp_path / 'none.net'),
      '--out_dir', str(tmp_path / 'x')])
  error = capsys.readouterr().err
  assert code == 1 and error.count('\n') == 1
  assert error.startswith('enformer-split-homology: error: ')
  assert 'none.net' in error and not os.path.exists(tmp_path / 'x')


def test_make_data_tiles_windows_inside_split_regions(pair, split, tmp_path):
  out, _ = split
  bed = os.path.join(out, 'human.bed')
  with genome.FastaExtractor(pair['human']['fasta']) as fasta:
    windows = regions.load_regions(fasta, bed=bed, seq_length=16_384,
                                   stride=8_192, tile_bed=True)
    with pytest.raises(ValueError, match='stride applies only'):
      regions.load_regions(fasta, bed=bed, seq_length=16_384, stride=8_192)
  bed_regions = _read_bed(bed)
  assert len(windows) == len(bed_regions) * 5 - sum(
      e - s < REGION for _, s, e, _ in bed_regions) * 5 + sum(
          max(0, (e - s - 16_384) // 8_192 + 1)
          for _, s, e, _ in bed_regions if e - s < REGION)
  for window in windows:
    region = window.start // REGION
    start, end, split_name = next(
        (s, e, sp) for c, s, e, sp in bed_regions
        if c == window.chrom and s // REGION == region)
    assert start <= window.start and window.end <= end
    assert window.split == split_name


def test_make_data_cli_takes_the_bed_as_it_is(pair, split, tmp_path):
  out, _ = split
  bed = os.path.join(out, 'mouse.bed')
  data = tmp_path / 'data'
  assert make_data_cli.main([
      '--fasta', pair['mouse']['fasta'], '--targets',
      pair['mouse']['targets'], '--bed', bed, '--tile_regions', '--chroms',
      'chr3', '--seq_length', '16384', '--stride', '16384',
      '--target_length', '64', '--out_dir', str(data), '--quiet']) == 0
  bed_regions = {(c, s // REGION): (s, e, sp)
                 for c, s, e, sp in _read_bed(bed)}
  windows = _read_bed(data / 'sequences.bed')
  assert len(windows) == sum(
      (e - s) // 16_384 for (c, _), (s, e, _) in bed_regions.items()
      if c == 'chr3')
  for chrom, start, end, split_name in windows:
    region_start, region_end, region_split = bed_regions[chrom,
                                                         start // REGION]
    assert region_start <= start and end <= region_end
    assert split_name == region_split
  stats = json.load(open(data / 'statistics.json'))
  assert stats['train_seqs'] + stats['valid_seqs'] + stats['test_seqs'] == len(
      windows)


@pytest.mark.parametrize('kwargs, field', [
    (dict(source='fish'), 'homology.source'),
    (dict(copy='human'), 'homology.source and homology.copy'),
    (dict(coverage=1.0), 'homology.coverage'),
    (dict(segment_length=(10, 5)), 'homology.segment_length'),
    (dict(piece_length=(100, 900_000)), 'homology.piece_length'),
    (dict(substitution_rate=2.0), 'homology.substitution_rate'),
])
def test_homology_spec_validation_names_the_field(kwargs, field):
  with pytest.raises(ValueError, match=field.replace('.', r'\.')):
    synthetic.SyntheticGenomeSpec(homology=synthetic.HomologySpec(**kwargs))
