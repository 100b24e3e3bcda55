"""The synthetic genome's genes.gtf: one gene per promoter, read back with
`enformer_tf.data.annotation.read_genes`, checked against elements.bed; and
the outputs that existed before genes.gtf unchanged by it.
"""
import hashlib
import os

import numpy as np
import pyBigWig
import pytest

from enformer_tf.constants import BIN_SIZE
from enformer_tf.data import annotation, synthetic
from enformer_tf.data.synthetic import genes as genes_lib
from enformer_tf.data.synthetic import generate as generate_lib

# The spec of tests/data/test_synthetic.py: ~30 promoters per organism.
SPEC = synthetic.SyntheticGenomeSpec(seed=7, chrom_sizes=(900_000, 600_000))
# sha256[:16] of SPEC's outputs as written before genes.gtf existed: file
# bytes (targets.txt with the output directory as '{out}'); for bigWigs the
# decoded values (compressed bytes may differ between zlib builds).
GOLDEN_FILES = {
    'spec.json': '13063b8ea2a43b1b',
    'human/elements.bed': 'ee4ae3d9a923dd39',
    'human/genome.fa': '1f056e49cbfbe3d9',
    'human/genome.fa.fai': '455cc30381609e89',
    'human/targets.txt': 'b37c0aef14bb3ac3',
    'mouse/elements.bed': '6eb9dbd0073c0f2b',
    'mouse/genome.fa': '0fe298e87339284c',
    'mouse/genome.fa.fai': '455cc30381609e89',
    'mouse/targets.txt': '0fa20f19bafb9322',
}
GOLDEN_BIGWIG_VALUES = {
    'human/tracks/cage_distal.bw': '694ff629c03f056a',
    'human/tracks/cage_promoter.bw': '79709dbbc7efddcc',
    'human/tracks/dnase.bw': '72c1194f70131ca4',
    'human/tracks/gc.bw': '0164636ab511d457',
    'mouse/tracks/cage_distal.bw': 'bb1505a440a99cf8',
    'mouse/tracks/dnase.bw': '8c5463d4c1ec2097',
    'mouse/tracks/h3k27ac.bw': '608ce9ae72a675ea',
}


@pytest.fixture(scope='module')
def genome(tmp_path_factory):
  out = tmp_path_factory.mktemp('synthetic_genes') / 'genome'
  paths = synthetic.make_synthetic_genome(str(out), SPEC)
  return str(out), paths


def _gtf_rows(path):
  with open(path) as f:
    return [line.rstrip('\n').split('\t') for line in f
            if not line.startswith('#')]


def _bigwig_values_hash(path):
  digest = hashlib.sha256()
  with pyBigWig.open(path) as bw:
    for chrom, size in sorted(bw.chroms().items()):
      digest.update(f'{chrom}:{size}'.encode())
      digest.update(np.asarray(bw.values(chrom, 0, size, numpy=True),
                               '<f8').tobytes())
  return digest.hexdigest()[:16]


@pytest.mark.parametrize('organism', ['human', 'mouse'])
def test_one_gene_per_promoter_with_its_tss_and_strand(genome, organism):
  _, paths = genome
  promoters = {e.name: e for e in synthetic.read_elements(
      paths[organism]['elements']) if e.kind == 'promoter'}
  genes = annotation.read_genes(paths[organism]['genes'])  # protein_coding.
  assert sorted(g.gene_id for g in genes) == sorted(
      'G' + name[1:] for name in promoters)
  for gene in genes:
    promoter = promoters['P' + gene.gene_id[1:]]
    assert gene.name == 'GENE' + gene.gene_id[1:]
    assert gene.gene_type == 'protein_coding'
    assert (gene.chrom, gene.strand) == (promoter.chrom, promoter.strand)
    main = gene.tss_of_transcript[gene.transcripts.index(gene.gene_id + '.1')]
    assert main == promoter.start + len(promoter.motif) // 2
    assert main == promoter.center
    assert len(gene.transcripts) in (1, 2)


@pytest.mark.parametrize('organism', ['human', 'mouse'])
def test_gtf_coordinates_are_one_based_closed(genome, organism):
  """TSS = start - 1 on +, end - 1 on - (0-based); genes 2-20 kb."""
  _, paths = genome
  sizes = paths[organism]['chrom_sizes']
  tss = {(g.gene_id, t): s for g in annotation.read_genes(
      paths[organism]['genes']) for t, s in zip(g.transcripts,
                                                g.tss_of_transcript)}
  rows = _gtf_rows(paths[organism]['genes'])
  assert all(len(row) == 9 for row in rows)
  transcripts = 0
  for chrom, _, feature, start, end, _, strand, _, attributes in rows:
    start, end = int(start), int(end)
    assert 1 <= start <= end <= sizes[chrom]
    if feature == 'gene':
      assert 1 <= end - start + 1 <= genes_lib.GENE_LENGTH[1]
      at_chrom_end = start == 1 or end == sizes[chrom]
      assert at_chrom_end or end - start + 1 >= genes_lib.GENE_LENGTH[0]
    if feature != 'transcript':
      continue
    transcripts += 1
    gid = attributes.split('"')[1]
    tid = attributes.split('"')[3]
    expected = start - 1 if strand == '+' else end - 1
    assert tss[gid, tid] == expected
  assert transcripts == len(tss)


def test_second_tss_downstream_in_same_and_next_bins(genome):
  _, paths = genome
  bins = []
  for organism in ('human', 'mouse'):
    genes = annotation.read_genes(paths[organism]['genes'])
    two = [g for g in genes if len(g.transcripts) == 2]
    # About a third of the genes (binomial; ~30 genes per organism).
    assert 0.1 * len(genes) <= len(two) <= 0.6 * len(genes)
    for gene in two:
      main, second = (dict(zip(gene.transcripts, gene.tss_of_transcript))[
          f'{gene.gene_id}.{i}'] for i in (1, 2))
      downstream = second - main if gene.strand == '+' else main - second
      assert 50 <= downstream <= 400
      bins.append(abs(second // BIN_SIZE - main // BIN_SIZE))
  assert bins.count(0) >= 2 and bins.count(1) >= 2, bins


def test_gene_truth_joins_the_promoters(genome):
  _, paths = genome
  for organism in ('human', 'mouse'):
    truth = synthetic.gene_truth(paths[organism]['dir'])
    promoters = [e for e in synthetic.read_elements(
        paths[organism]['elements']) if e.kind == 'promoter']
    assert len(truth) == len(promoters)
    strengths = SPEC.organisms[organism].promoter_strengths
    for promoter in promoters:
      strength, paired, tss = truth['G' + promoter.name[1:]]
      assert strength == strengths[promoter.variant]
      assert paired == (promoter.partner is not None)
      assert tss[0] == promoter.center
    assert {True, False} == {t.paired for t in truth.values()}
    assert {1, 2} == {len(t.tss) for t in truth.values()}


def test_other_outputs_are_those_written_before_genes(genome):
  out, _ = genome
  for relative, expected in GOLDEN_FILES.items():
    with open(os.path.join(out, relative), 'rb') as f:
      data = f.read()
    if relative.endswith('targets.txt'):
      data = data.replace(out.encode(), b'{out}')
    assert hashlib.sha256(data).hexdigest()[:16] == expected, relative
  for relative, expected in GOLDEN_BIGWIG_VALUES.items():
    assert _bigwig_values_hash(os.path.join(out, relative)) == expected


def test_writing_genes_changes_no_other_byte(tmp_path, monkeypatch):
  spec = synthetic.SyntheticGenomeSpec(seed=3, chrom_sizes=(300_000,))
  synthetic.make_synthetic_genome(str(tmp_path / 'with'), spec)
  monkeypatch.setattr(generate_lib.genes_lib, 'write_genes',
                      lambda *args, **kwargs: None)
  synthetic.make_synthetic_genome(str(tmp_path / 'without'), spec)

  def files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, names in os.walk(root) for f in names)

  with_genes, without = files(tmp_path / 'with'), files(tmp_path / 'without')
  assert sorted(set(with_genes) - set(without)) == [
      'human/genes.gtf', 'mouse/genes.gtf']
  for relative in without:
    a = (tmp_path / 'with' / relative).read_bytes()
    b = (tmp_path / 'without' / relative).read_bytes()
    if relative.endswith('targets.txt'):
      a = a.replace(str(tmp_path / 'with').encode(), b'{out}')
      b = b.replace(str(tmp_path / 'without').encode(), b'{out}')
    assert a == b, relative


def test_genes_are_deterministic(tmp_path):
  spec = synthetic.SyntheticGenomeSpec(seed=3, chrom_sizes=(300_000,))
  a = synthetic.make_synthetic_genome(str(tmp_path / 'a'), spec)
  b = synthetic.make_synthetic_genome(str(tmp_path / 'b'), spec)
  for organism in ('human', 'mouse'):
    with open(a[organism]['genes'], 'rb') as f, open(
        b[organism]['genes'], 'rb') as g:
      assert f.read() == g.read()
