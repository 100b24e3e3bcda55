"""UCSC chain and net reading, and aligned bases per region pair, against a
brute-force per-base count of hand-made alignments."""
import collections
import gzip

import numpy as np
import pytest

from enformer_tf.data import alignments

SIZES = {'t1': 230, 't2': 120, 'q1': 260, 'q2': 90}


def _random_chain(rng, chain_id):
  """A chain as text and its per-base alignment (t, q on +) pairs."""
  while True:
    t_name = rng.choice(['t1', 't2'])
    q_name = rng.choice(['q1', 'q2'])
    strand = rng.choice(['+', '-'])
    t_size, q_size = SIZES[t_name], SIZES[q_name]
    t = t_start = int(rng.integers(0, 40))
    q = q_start = int(rng.integers(0, 30))  # On `strand`.
    lines, bases = [], []
    for i in range(int(rng.integers(1, 6))):
      size = int(rng.integers(1, 30))
      bases += [(t + k, q + k) for k in range(size)]
      t, q = t + size, q + size
      if i < 4 and rng.random() < 0.8:
        dt, dq = int(rng.integers(0, 12)), int(rng.integers(0, 12))
        lines.append(f'{size} {dt} {dq}')
        t, q = t + dt, q + dq
      else:
        lines.append(f'{size}')
        break
    else:
      continue
    if len(lines[-1].split()) != 1 or t > t_size or q > q_size:
      continue
    header = (f'chain {len(bases)} {t_name} {t_size} + {t_start} {t} '
              f'{q_name} {q_size} {strand} {q_start} {q} {chain_id}')
    plus = [(tb, qb if strand == '+' else q_size - 1 - qb) for tb, qb in bases]
    return '\n'.join([header] + lines) + '\n\n', [
        (t_name, tb, q_name, qb) for tb, qb in plus]


def _brute_force(aligned, region_size):
  counts = collections.Counter()
  for t_name, t, q_name, q in aligned:
    counts[t_name, t // region_size, q_name, q // region_size] += 1
  return dict(counts)


@pytest.mark.parametrize('seed', range(6))
@pytest.mark.parametrize('region_size', [1, 7, 10, 25, 1000])
def test_chain_counts_equal_brute_force(tmp_path, seed, region_size):
  rng = np.random.default_rng(seed)
  texts, aligned = [], []
  for i in range(8):
    text, bases = _random_chain(rng, i + 1)
    texts.append(text)
    aligned += bases
  path = tmp_path / 'random.chain'
  path.write_text(''.join(texts))
  counts = alignments.count_aligned_bases(
      alignments.read_alignment_blocks(str(path)), region_size)
  assert counts == _brute_force(aligned, region_size)
  # Both strands and blocks straddling boundaries on both genomes occur.
  strands = {c.q_strand for c in alignments.read_chains(str(path))}
  if seed == 0:
    assert strands == {'+', '-'}


def test_hand_made_minus_chain(tmp_path):
  """qStrand -: query position p counts from the end (qSize - 1 - p)."""
  path = tmp_path / 'minus.chain'
  # Target [5, 15) and [18, 23); query (- strand) [0, 10) and [12, 17) of a
  # 40-bp chromosome, i.e. + strand [30, 40) and [23, 28), reversed.
  path.write_text('chain 15 chrA 50 + 5 23 chrB 40 - 0 17 7\n'
                  '10 3 2\n5\n')
  chain, = alignments.read_chains(str(path))
  assert chain.blocks == (
      alignments.AlignedBlock('chrA', 5, 'chrB', 30, 10, '-'),
      alignments.AlignedBlock('chrA', 18, 'chrB', 23, 5, '-'))
  counts = alignments.count_aligned_bases(chain.blocks, 10)
  # chrA 5-9 -> chrB 39..35 (region 3); chrA 10-14 -> chrB 34..30 (3);
  # chrA 18-19 -> chrB 27, 26 (2); chrA 20-22 -> chrB 25..23 (2).
  assert counts == {('chrA', 0, 'chrB', 3): 5, ('chrA', 1, 'chrB', 3): 5,
                    ('chrA', 1, 'chrB', 2): 2, ('chrA', 2, 'chrB', 2): 3}


def test_split_block_straddles_both_genomes():
  block = alignments.AlignedBlock('t', 95, 'q', 290, 20, '+')
  assert list(alignments.split_block(block, 100)) == [
      (0, 2, 5), (1, 2, 5), (1, 3, 10)]
  minus = block._replace(q_start=208, strand='-')  # t 95 -> q 227, ...
  assert sorted(alignments.split_block(minus, 10)) == sorted([
      (9, 22, 5), (10, 22, 3), (10, 21, 7), (11, 21, 3), (11, 20, 2)])


def test_gzipped_chain_reads_the_same(tmp_path):
  rng = np.random.default_rng(3)
  text = ''.join(_random_chain(rng, i)[0] for i in range(5))
  (tmp_path / 'a.chain').write_text(text)
  with gzip.open(tmp_path / 'a.chain.gz', 'wt') as f:
    f.write(text)
  plain = list(alignments.read_alignment_blocks(str(tmp_path / 'a.chain')))
  zipped = list(alignments.read_alignment_blocks(
      str(tmp_path / 'a.chain.gz')))
  assert plain == zipped and plain


# One alignment written both ways: a + chain with a deletion in the query
# (a net gap with query size 0) and a gap in both, and a - chain; the net
# lists every gap that covers target bases.
CHAIN = """chain 60 chr1 300 + 10 90 chrB 200 + 20 92 1
20 10 0
30 10 12
10

chain 40 chr1 300 + 150 195 chrC 100 - 5 50 2
25 5 5
15
"""
NET = """net chr1 300
 fill 10 80 chrB + 20 72 id 1 score 60 ali 60
  gap 30 10 chrB + 40 0
  gap 70 10 chrB + 70 12
 fill 150 45 chrC - 50 45 id 2 score 40 ali 40
  gap 175 5 chrC - 65 5
"""


@pytest.mark.parametrize('region_size', [1, 10, 32, 100])
def test_net_and_chain_give_the_same_counts(tmp_path, region_size):
  (tmp_path / 'x.chain').write_text(CHAIN)
  (tmp_path / 'x.net').write_text(NET)
  from_chain = alignments.count_aligned_bases(
      alignments.read_alignment_blocks(str(tmp_path / 'x.chain')),
      region_size)
  from_net = alignments.count_aligned_bases(
      alignments.read_alignment_blocks(str(tmp_path / 'x.net')), region_size)
  assert from_net == from_chain
  fills = list(alignments.read_net(str(tmp_path / 'x.net')))
  assert [f.ali for f in fills] == [60, 40]
  assert sum(b.size for f in fills for b in f.blocks) == 100


def test_nested_net_fills_count_as_their_own_blocks(tmp_path):
  path = tmp_path / 'nested.net'
  path.write_text('net chr1 1000\n'
                  ' fill 100 500 chr2 + 1000 520 id 1 score 9 ali 400\n'
                  '  gap 200 100 chr2 + 1100 120\n'
                  '   fill 220 50 chr5 - 300 50 id 7 score 3 ali 50\n'
                  '  gap 400 50 chr2 + 1420 50\n'
                  'net chr9 500\n'
                  ' fill 0 10 chr2 + 0 10 id 2 score 1\n')
  blocks = sorted(alignments.read_alignment_blocks(str(path)))
  assert blocks == sorted([
      alignments.AlignedBlock('chr1', 100, 'chr2', 1000, 100, '+'),
      alignments.AlignedBlock('chr1', 300, 'chr2', 1220, 100, '+'),
      alignments.AlignedBlock('chr1', 450, 'chr2', 1470, 50, '+'),
      alignments.AlignedBlock('chr1', 220, 'chr5', 300, 50, '-'),
      alignments.AlignedBlock('chr9', 0, 'chr2', 0, 10, '+')])


GOOD_HEADER = 'chain 1 t 100 + 0 10 q 100 + 0 10 1'
BAD_CHAINS = [
    ('chain 1 t 100 + 0 10 q 100 + 0 10 1 2\n10\n', 1, '12 or 13 fields'),
    ('chain x t 100 + 0 10 q 100 + 0 10 1\n10\n', 1, 'score'),
    ('chain 1 t 100 + a 10 q 100 + 0 10 1\n10\n', 1, 'tStart'),
    ('chain 1 t 100 + 0 10 q 100 * 0 10 1\n10\n', 1, 'qStrand'),
    ('chain 1 t 100 - 0 10 q 100 + 0 10 1\n10\n', 1, 'tStrand'),
    ('chain 1 t 100 + 20 10 q 100 + 0 10 1\n10\n', 1, 'tStart <= tEnd'),
    ('chain 1 t 100 + 0 10 q 100 + 0 200 1\n10\n', 1, 'qEnd <= qSize'),
    (f'{GOOD_HEADER}\n5 2\n5\n', 2, '`size dt dq`'),
    (f'{GOOD_HEADER}\nx 0 0\n5\n', 2, 'size'),
    (f'{GOOD_HEADER}\n5 -1 0\n5\n', 2, 'dt'),
    (f'{GOOD_HEADER}\n5\n', 2, 'ends at 5, 5'),
    (f'{GOOD_HEADER}\n8 5 0\n2\n', 2, 'run past'),
    ('10 0 0\n', 1, 'not a UCSC chain or net file'),
    ('chain 1 t 100 + 0 10 q 100 + 0 10 1\n10\n7 0 0\n', 3,
     'expected a `chain` header'),
    (f'{GOOD_HEADER}\n5 0 0\n', 2, 'ends inside the chain of line 1'),
    (f'{GOOD_HEADER}\n5 0 0\n{GOOD_HEADER}\n10\n', 3,
     'before the chain of line 1 ended'),
]


@pytest.mark.parametrize('text, line, fragment', BAD_CHAINS)
def test_malformed_chain_names_file_and_line(tmp_path, text, line, fragment):
  path = tmp_path / 'bad.chain'
  path.write_text(text)
  with pytest.raises(ValueError) as info:
    list(alignments.read_alignment_blocks(str(path)))
  assert f'{path}, line {line}:' in str(info.value)
  assert fragment in str(info.value)


BAD_NETS = [
    ('net chr1\n', 1, '`net tName tSize`'),
    (' fill 0 10 q + 0 10\n', 1, 'before any `net` line'),
    ('net chr1 100\n foo 0 10 q + 0 10\n', 2, 'net, fill or gap'),
    ('net chr1 100\n gap 0 10 q + 0 10\n', 2, 'nested (indented) in a fill'),
    ('net chr1 100\n fill 0 10 q + 0\n', 2, 'key-value pairs'),
    ('net chr1 100\n fill 0 10 q + 0 10 id\n', 2, 'key-value pairs'),
    ('net chr1 100\n fill 95 10 q + 0 10\n', 2, 'not inside'),
    ('net chr1 100\n fill 0 10 q x 0 10\n', 2, 'qStrand'),
    ('net chr1 100\n fill 0 10 q + 0 10 ali many\n', 2, 'ali'),
    ('net chr1 100\n fill 0 10 q + 0 10\n  gap 5 10 q + 5 10\n', 3,
     'not inside its parent'),
    ('net chr1 100\n fill 0 10 q + 0 10\n  gap 2 2 q + 2 2\n'
     '   gap 3 1 q + 3 1\n', 4, 'nested (indented) in a fill'),
    ('net chr1 100\n fill 0 10 q + 0 10\n  gap 2 2 q + 2 2\n'
     '   fill 2 2 q + 50 2\n    fill 2 1 q + 60 1\n', 5,
     'nested in a gap'),
]


@pytest.mark.parametrize('text, line, fragment', BAD_NETS)
def test_malformed_net_names_file_and_line(tmp_path, text, line, fragment):
  path = tmp_path / 'bad.net'
  path.write_text(text)
  with pytest.raises(ValueError) as info:
    list(alignments.read_net(str(path)))
  assert f'{path}, line {line}:' in str(info.value)
  assert fragment in str(info.value)


def test_unknown_format_and_missing_file(tmp_path):
  path = tmp_path / 'x.txt'
  path.write_text('#comment\nhello world\n')
  with pytest.raises(ValueError, match='not a UCSC chain or net file'):
    list(alignments.read_alignment_blocks(str(path)))
  with pytest.raises(FileNotFoundError, match='not found'):
    list(alignments.read_alignment_blocks(str(tmp_path / 'none.chain')))
  (tmp_path / 'bin.chain').write_bytes(b'chain \xff\n')
  with pytest.raises(ValueError, match='line 1: unreadable'):
    list(alignments.read_alignment_blocks(str(tmp_path / 'bin.chain')))
