"""The synthetic genome: determinism, file formats and the planted grammar.

Ground truth is checked against independent computations: motifs found by a
regex scan of the FASTA, the distal rule recomputed from those motifs alone,
and track values recomputed from the documented formulas.
"""
import csv
import json
import os
import re

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pyBigWig
import pyfaidx
import pytest

from enformer_tf.cli import synthetic as synthetic_cli
from enformer_tf.data import encoding, synthetic

# Two small chromosomes: ~30 promoters per organism, generated in ~0.3 s.
SPEC = synthetic.SyntheticGenomeSpec(seed=7, chrom_sizes=(900_000, 600_000))
# Documented per-bp peak parameters: kind -> (sigma, promoter, enhancer).
PEAKS = {'cage': (120, 5.0, 0.0), 'cage_distal': (120, 5.0, 0.0),
         'dnase': (200, 2.0, 3.0), 'h3k27ac': (600, 1.2, 1.0)}


@pytest.fixture(scope='module')
def genome(tmp_path_factory):
  out = tmp_path_factory.mktemp('synthetic') / 'genome'
  return synthetic.make_synthetic_genome(str(out), SPEC)


def _tiny_spec(**kwargs):
  kwargs.setdefault('chrom_sizes', (150_000, 60_000))
  kwargs.setdefault('promoters_per_mb', 25.0)
  return synthetic.SyntheticGenomeSpec(**kwargs)


def _values(path, chrom):
  with pyBigWig.open(path) as bw:
    return np.asarray(bw.values(chrom, 0, bw.chroms(chrom), numpy=True))


def _scan(sequence, motif):
  """Starts of `motif` or its reverse complement: naive regex, overlapping."""
  rc = motif[::-1].translate(str.maketrans('ACGT', 'TGCA'))
  return sorted({m.start() for pattern in (motif, rc)
                 for m in re.finditer(f'(?={pattern})', sequence)})


def _peak_mean(path, element, half_width=64):
  with pyBigWig.open(path) as bw:
    return bw.stats(element.chrom, element.center - half_width,
                    element.center + half_width, type='mean')[0]


# -- Determinism --------------------------------------------------------------


def test_same_seed_is_identical_and_other_seed_differs(tmp_path):
  a = synthetic.make_synthetic_genome(str(tmp_path / 'a'), _tiny_spec(seed=1))
  b = synthetic.make_synthetic_genome(str(tmp_path / 'b'), _tiny_spec(seed=1))
  c = synthetic.make_synthetic_genome(str(tmp_path / 'c'), _tiny_spec(seed=2))
  for organism in ('human', 'mouse'):
    fasta = [open(x[organism]['fasta'], 'rb').read() for x in (a, b, c)]
    assert fasta[0] == fasta[1]
    assert fasta[0] != fasta[2]
    elements = [open(x[organism]['elements']).read() for x in (a, b, c)]
    assert elements[0] == elements[1]
    assert elements[0] != elements[2]
    for i, track in enumerate(a[organism]['tracks']):
      for chrom in ('chr1', 'chr2'):
        np.testing.assert_array_equal(
            _values(track, chrom), _values(b[organism]['tracks'][i], chrom))
        assert not np.array_equal(
            _values(track, chrom), _values(c[organism]['tracks'][i], chrom))


def test_organism_does_not_depend_on_the_others_requested(tmp_path):
  both = synthetic.make_synthetic_genome(str(tmp_path / 'both'), _tiny_spec())
  alone = synthetic.make_synthetic_genome(str(tmp_path / 'alone'),
                                          _tiny_spec(), organisms=('mouse',))
  assert list(alone) == ['mouse']
  for key in ('fasta', 'elements'):
    assert (open(both['mouse'][key], 'rb').read() ==
            open(alone['mouse'][key], 'rb').read())
  human = open(both['human']['fasta'], 'rb').read()
  assert human != open(both['mouse']['fasta'], 'rb').read()


# -- Files --------------------------------------------------------------------


def test_fasta_and_bigwigs_agree_on_chromosomes(genome):
  assert set(genome) == {'human', 'mouse'}
  for organism, info in genome.items():
    assert os.path.exists(info['fasta'] + '.fai')
    fasta = pyfaidx.Fasta(info['fasta'])
    sizes = {name: len(fasta[name]) for name in fasta.keys()}
    assert sizes == {'chr1': 900_000, 'chr2': 600_000} == info['chrom_sizes']
    for track in info['tracks']:
      with pyBigWig.open(track) as bw:
        assert bw.isBigWig()
        assert bw.chroms() == sizes
  assert len(genome['human']['tracks']) == 4
  assert len(genome['mouse']['tracks']) == 3


def test_targets_txt_is_basenji_format(genome):
  for info in genome.values():
    with open(info['targets']) as f:
      header = f.readline().rstrip('\n').split('\t')
      f.seek(0)
      rows = list(csv.DictReader(f, delimiter='\t'))
    assert header == ['index', 'identifier', 'file', 'clip', 'scale',
                      'sum_stat', 'description']
    assert [int(r['index']) for r in rows] == list(range(len(rows)))
    assert [r['identifier'] for r in rows] == info['track_names']
    assert [r['file'] for r in rows] == info['tracks']
    for row in rows:
      assert os.path.isabs(row['file']) and os.path.isfile(row['file'])
      assert row['sum_stat'] in ('sum', 'mean')
      assert float(row['clip']) > 0 and float(row['scale']) > 0
      assert row['description']


def test_n_runs_at_chromosome_ends_have_zero_signal(genome):
  info = genome['human']
  fasta = pyfaidx.Fasta(info['fasta'])
  n = SPEC.telomere_n
  for chrom, size in info['chrom_sizes'].items():
    seq = str(fasta[chrom])
    assert seq[:n] == 'N' * n and seq[size - n:] == 'N' * n
    assert set(seq[n:size - n]) <= set('ACGTN')
    for track in info['tracks']:
      values = _values(track, chrom)
      assert not values[:n].any() and not values[size - n:].any()
      assert (values >= 0).all()


def test_bin_sums_are_counts_within_clip(genome):
  for info in genome.values():
    with open(info['targets']) as f:
      rows = list(csv.DictReader(f, delimiter='\t'))
    for row in rows:
      values = _values(row['file'], 'chr1')
      bins = values[:len(values) // 128 * 128].reshape(-1, 128)
      pooled = bins.sum(1) if row['sum_stat'] == 'sum' else bins.mean(1)
      assert pooled.max() <= float(row['clip'])
      if row['sum_stat'] == 'sum':
        assert 100 < pooled.max() < 1000


# -- Ground truth -------------------------------------------------------------


def test_elements_are_the_only_motifs_in_the_fasta(genome):
  motifs = list(synthetic.PROMOTER_MOTIFS.values()) + [
      synthetic.HUMAN_ENHANCER_MOTIF, synthetic.MOUSE_ENHANCER_MOTIF]
  for organism, info in genome.items():
    elements = synthetic.read_elements(info['elements'])
    fasta = pyfaidx.Fasta(info['fasta'])
    enhancer = (synthetic.HUMAN_ENHANCER_MOTIF if organism == 'human'
                else synthetic.MOUSE_ENHANCER_MOTIF)
    for e in elements:
      assert e.kind in synthetic.ELEMENT_KINDS
      assert str(fasta[e.chrom][e.start:e.end]) == e.motif
      consensus = (synthetic.PROMOTER_MOTIFS[e.variant]
                   if e.kind == 'promoter' else enhancer)
      assert e.motif == (consensus if e.strand == '+' else
                         encoding.reverse_complement(consensus))
    found = {(chrom, start) for chrom in fasta.keys()
             for motif in motifs for start in _scan(str(fasta[chrom]), motif)}
    assert found == {(e.chrom, e.start) for e in elements}


def test_pairing_rules(genome):
  dmin, dmax = SPEC.enhancer_distance
  margin = SPEC.distance_margin
  for info in genome.values():
    elements = synthetic.read_elements(info['elements'])
    by_name = {e.name: e for e in elements}
    promoters = [e for e in elements if e.kind == 'promoter']
    enhancers = [e for e in elements if e.kind == 'enhancer']
    decoys = [e for e in elements if e.kind == 'decoy']
    assert len(promoters) >= 25 and decoys
    # One enhancer per paired promoter and vice versa, distances in range.
    assert len({e.partner for e in enhancers}) == len(enhancers)
    for e in enhancers:
      promoter = by_name[e.partner]
      assert promoter.partner == e.name and promoter.chrom == e.chrom
      assert e.distance == promoter.center - e.center == -promoter.distance
      assert dmin <= abs(e.distance) <= dmax
    assert sum(p.partner is not None for p in promoters) == len(enhancers)
    fraction = len(enhancers) / len(promoters)
    assert abs(fraction - SPEC.paired_probability) <= 0.05
    # No other enhancer motif within the margin-widened range of a promoter.
    for p in promoters:
      near = [e.name for e in enhancers + decoys if e.chrom == p.chrom and
              dmin - margin <= abs(e.center - p.center) <= dmax + margin]
      assert near == ([p.partner] if p.partner else [])
    for d in decoys:
      distances = [abs(p.center - d.center) for p in promoters
                   if p.chrom == d.chrom]
      assert abs(d.distance) == min(distances)
      if d.variant == 'near':
        assert abs(d.distance) < dmin - margin
      else:
        assert d.variant == 'far' and abs(d.distance) > dmax + margin
    for e in elements:
      nearest = min(abs(e.center - o.center) for o in elements
                    if o is not e and o.chrom == e.chrom)
      assert nearest >= SPEC.min_element_spacing


def test_paired_fraction_follows_the_spec(tmp_path):
  spec = _tiny_spec(chrom_sizes=(600_000,), paired_probability=0.3,
                    promoters_per_mb=40.0)
  info = synthetic.make_synthetic_genome(str(tmp_path / 'g'), spec,
                                         organisms=('human',))['human']
  promoters = [e for e in synthetic.read_elements(info['elements'])
               if e.kind == 'promoter']
  fraction = np.mean([p.partner is not None for p in promoters])
  assert len(promoters) >= 15
  assert abs(fraction - 0.3) <= 0.05


@pytest.mark.parametrize('probability', [0.0, 1.0])
def test_all_or_no_promoters_paired(tmp_path, probability):
  spec = _tiny_spec(chrom_sizes=(300_000,), paired_probability=probability,
                    promoters_per_mb=15.0)
  info = synthetic.make_synthetic_genome(str(tmp_path / 'g'), spec,
                                         organisms=('human',))['human']
  promoters = [e for e in synthetic.read_elements(info['elements'])
               if e.kind == 'promoter']
  assert len(promoters) >= 3
  assert [p.partner is not None for p in promoters] == (
      [bool(probability)] * len(promoters))


def test_distal_track_follows_enhancers_found_in_the_sequence(genome):
  """The distal rule recomputed from a motif scan of the FASTA alone."""
  dmin, dmax = SPEC.enhancer_distance
  for organism, info in genome.items():
    fasta = pyfaidx.Fasta(info['fasta'])
    enhancer = (synthetic.HUMAN_ENHANCER_MOTIF if organism == 'human'
                else synthetic.MOUSE_ENHANCER_MOTIF)
    strengths = SPEC.organisms[organism].promoter_strengths
    distal = info['tracks'][info['track_names'].index('cage_distal')]
    elements = {(e.chrom, e.start): e
                for e in synthetic.read_elements(info['elements'])}
    active_count = 0
    for chrom in fasta.keys():
      seq = str(fasta[chrom])
      enhancer_centers = np.array(_scan(seq, enhancer)) + len(enhancer) // 2
      for variant, motif in synthetic.PROMOTER_MOTIFS.items():
        for start in _scan(seq, motif):
          center = start + len(motif) // 2
          distance = np.abs(enhancer_centers - center)
          active = bool(((distance >= dmin) & (distance <= dmax)).any())
          element = elements[(chrom, start)]
          assert (element.partner is not None) == active
          # Active: ~5 * strength * 0.95 over the central bin; inactive:
          # distal_base (0.05) of that.
          value = _peak_mean(distal, element)
          assert (value > 2.5 * strengths[variant]) == active, (
              organism, element, value)
          active_count += active
    assert active_count >= 10


def test_promoter_track_does_not_see_the_enhancer(genome):
  info = genome['human']
  track = info['tracks'][info['track_names'].index('cage_promoter')]
  for e in synthetic.read_elements(info['elements']):
    if e.kind == 'promoter':
      # Within noise of 5 * strength * 0.953 (Gaussian mean over +-64 bp).
      np.testing.assert_allclose(_peak_mean(track, e),
                                 5 * e.strength * 0.953, rtol=0.12)


def test_track_values_match_documented_formulas(tmp_path):
  spec = _tiny_spec(seed=3, noise_sd=0.0, background=0.0, track_step=8)
  genome = synthetic.make_synthetic_genome(str(tmp_path / 'g'), spec)
  for organism, info in genome.items():
    fasta = pyfaidx.Fasta(info['fasta'])
    elements = synthetic.read_elements(info['elements'])
    kinds = {t.name: t.kind for t in spec.organisms[organism].tracks}
    for chrom, size in info['chrom_sizes'].items():
      seq = np.frombuffer(str(fasta[chrom]).encode(), np.uint8)
      steps = np.arange(-(-size // 8))
      centers = (steps + 0.5) * 8
      has_n = np.array([(seq[s * 8:(s + 1) * 8] == ord('N')).any()
                        for s in steps])
      for name, path in zip(info['track_names'], info['tracks']):
        kind = kinds[name]
        if kind == 'gc':
          is_gc = np.isin(seq, np.frombuffer(b'GC', np.uint8))
          is_base = seq != ord('N')
          expected = np.empty(len(steps))
          for s, c in enumerate(centers.astype(int)):
            lo, hi = max(min(c, size - 1) - 500, 0), min(c + 501, size)
            expected[s] = 10 * is_gc[lo:hi].sum() / max(is_base[lo:hi].sum(), 1)
        else:
          sigma, promoter_height, enhancer_height = PEAKS[kind]
          expected = np.zeros(len(steps))
          for e in elements:
            if e.chrom != chrom:
              continue
            if e.kind == 'promoter':
              height = promoter_height * (
                  e.strength if kind != 'dnase' else 1.0)
              if kind == 'cage_distal' and e.partner is None:
                height *= spec.distal_base
            else:
              height = enhancer_height
            z = (centers - e.center) / sigma
            expected += height * np.exp(-0.5 * z**2)
        expected[has_n] = 0
        observed = _values(path, chrom)[steps * 8]
        np.testing.assert_allclose(observed, expected, rtol=1e-5, atol=2e-3,
                                   err_msg=f'{organism} {name} {chrom}')


# -- Helpers ------------------------------------------------------------------


@hypothesis.given(st.text('ACGTN', max_size=300), st.sampled_from(
    list(synthetic.PROMOTER_MOTIFS.values()) + ['ACGT', 'AAAA']))
def test_motif_occurrences_matches_naive_scan(sequence, motif):
  sequence = sequence[:120] + 'xx' + motif + sequence[120:]
  rc = encoding.reverse_complement(motif)
  expected = sorted(
      {(i, '+') for i in range(len(sequence)) if sequence.startswith(motif, i)}
      | {(i, '-') for i in range(len(sequence)) if sequence.startswith(rc, i)})
  assert synthetic.motif_occurrences(sequence, motif) == expected
  assert encoding.reverse_complement(rc) == motif


def test_chrom_sizes_from_total():
  assert synthetic.chrom_sizes_from_total(6_000_001, 3) == (
      3_000_001, 2_000_000, 1_000_000)
  assert synthetic.chrom_sizes_from_total(500_000, 1) == (500_000,)


@pytest.mark.parametrize('kwargs, field', [
    (dict(seed=-1), 'seed'),
    (dict(chrom_sizes=(1000,)), 'chrom_sizes'),
    (dict(chrom_sizes=()), 'chrom_sizes'),
    (dict(enhancer_distance=(40_000, 10_000)), 'enhancer_distance'),
    (dict(enhancer_distance=(1_000, 40_000)), 'enhancer_distance'),
    (dict(paired_probability=1.5), 'paired_probability'),
    (dict(promoters_per_mb=-1.0), 'promoters_per_mb'),
    (dict(gc_range=(0.6, 0.4)), 'gc_range'),
    (dict(track_step=0), 'track_step'),
    (dict(distal_base=1.0), 'distal_base'),
])
def test_spec_validation_names_the_field(kwargs, field):
  with pytest.raises(ValueError, match=field):
    synthetic.SyntheticGenomeSpec(**kwargs)


def test_bad_track_kind_and_unknown_organism(tmp_path):
  organism = synthetic.OrganismSpec(
      'ACGTACGTAC', {'strong': 1.0, 'medium': 0.5, 'weak': 0.2},
      (synthetic.TrackSpec('x', 'chip', 'X'),))
  with pytest.raises(ValueError, match="kind 'chip'"):
    synthetic.SyntheticGenomeSpec(organisms={'fish': organism})
  with pytest.raises(ValueError, match='fish'):
    synthetic.make_synthetic_genome(str(tmp_path / 'g'), _tiny_spec(),
                                    organisms=('human', 'fish'))
  assert not os.listdir(tmp_path)


def test_refuses_to_overwrite_and_replaces_atomically(tmp_path):
  out = tmp_path / 'g'
  first = synthetic.make_synthetic_genome(str(out), _tiny_spec(seed=1))
  fasta = open(first['human']['fasta'], 'rb').read()
  with pytest.raises(FileExistsError, match='overwrite'):
    synthetic.make_synthetic_genome(str(out), _tiny_spec(seed=2))
  assert open(first['human']['fasta'], 'rb').read() == fasta
  synthetic.make_synthetic_genome(str(out), _tiny_spec(seed=2),
                                  overwrite=True)
  assert open(first['human']['fasta'], 'rb').read() != fasta
  assert os.listdir(tmp_path) == ['g']  # No temporary directories left.
  empty = tmp_path / 'empty'
  empty.mkdir()
  synthetic.make_synthetic_genome(str(empty), _tiny_spec(),
                                  organisms=('mouse',))
  assert sorted(os.listdir(empty)) == ['mouse', 'spec.json']


# -- Command line -------------------------------------------------------------


def test_cli_writes_refuses_and_overwrites(tmp_path, capsys):
  out = str(tmp_path / 'cli')
  args = ['--out_dir', out, '--chrom_sizes', '150000,60000', '--seed', '5']
  assert synthetic_cli.main(args) == 0
  stdout = capsys.readouterr().out
  assert stdout.count('\n') == 1 and 'human 4 tracks' in stdout
  assert 'mouse 3 tracks' in stdout
  api = synthetic.make_synthetic_genome(
      str(tmp_path / 'api'), synthetic.SyntheticGenomeSpec(
          seed=5, chrom_sizes=(150_000, 60_000)))
  assert (open(os.path.join(out, 'human', 'genome.fa'), 'rb').read() ==
          open(api['human']['fasta'], 'rb').read())

  assert synthetic_cli.main(args) == 1
  stderr = capsys.readouterr().err
  assert stderr.count('\n') == 1 and '--overwrite' in stderr
  assert synthetic_cli.main(args + ['--overwrite', '--organisms', 'human']) == 0
  assert sorted(os.listdir(out)) == ['human', 'spec.json']


@pytest.mark.parametrize('args, code, message', [
    (['--chrom_sizes', 'abc'], 2, 'comma-separated integers'),
    (['--enhancer_distance', '5000'], 2, 'MIN,MAX'),
    (['--chrom_sizes', '100000', '--genome_size_mb', '1'], 2,
     'not allowed with'),
    (['--paired_probability', '1.5'], 1, 'paired_probability'),
    (['--organisms', 'human,fish'], 1, 'fish'),
    (['--genome_size_mb', '0'], 1, 'genome_size_mb'),
])
def test_cli_errors_are_one_line(tmp_path, capsys, args, code, message):
  out = str(tmp_path / 'cli')
  assert synthetic_cli.main(['--out_dir', out] + args) == code
  stderr = capsys.readouterr().err
  assert stderr.count('\n') == 1 and message in stderr
  assert stderr.startswith('enformer-synthetic: error:')
  assert not os.path.exists(out)


def test_cli_genome_size(tmp_path, capsys):
  out = str(tmp_path / 'cli')
  assert synthetic_cli.main(['--out_dir', out, '--genome_size_mb', '0.3',
                             '--num_chromosomes', '2', '--organisms', 'mouse',
                             '--enhancer_distance', '5000,20000',
                             '--distance_margin', '1000',
                             '--min_element_spacing', '2000']) == 0
  assert '0.30 Mb' in capsys.readouterr().out
  spec = json.load(open(os.path.join(out, 'spec.json')))
  assert spec['enhancer_distance'] == [5000, 20000]
  assert spec['distance_margin'] == 1000
  assert spec['organisms_written'] == ['mouse']
  for e in synthetic.read_elements(os.path.join(out, 'mouse', 'elements.bed')):
    if e.kind == 'enhancer':
      assert 5000 <= abs(e.distance) <= 20000
  fai = open(os.path.join(out, 'mouse', 'genome.fa.fai')).read().split('\n')
  assert [line.split('\t')[:2] for line in fai if line] == [
      ['chr1', '200000'], ['chr2', '100000']]
