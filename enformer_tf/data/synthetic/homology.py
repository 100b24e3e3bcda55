"""Synthetic homology: syntenic segments of one organism copied into the
other, and the alignment that describes them (`SyntheticGenomeSpec.homology`,
off by default).

With `homology=HomologySpec()` the generator first builds the `source`
organism (human), then, chromosome by chromosome of the `copy` organism
(mouse), overwrites the copy's background DNA with segments of the source's
final sequence before the copy's own elements are laid out and planted:

  segments   `segment_length` bp (50-250 kb) of N-free source sequence,
             disjoint in the source, taken at random over all chromosomes
             and placed in a random order along the copy's chromosomes
             (so syntenic order is rearranged, also across chromosomes),
             separated by copy-only sequence so that about `coverage` of
             the copy's chromosomes is covered, never over an N run;
  inversions a segment is copied reverse-complemented with probability
             `inversion_probability`;
  mutation   a segment is copied in gapless pieces (`piece_length`), each
             base substituted with probability `substitution_rate`, and
             between pieces an indel (`gap_length` bp: a deletion, an
             insertion of random bases, or both);
  the grammar afterwards the copy's elements are planted as usual and every
             chance motif (the source's promoters and enhancers included)
             is mutated away, so copies hold a few more mismatches and the
             copy's planted grammar stays exact.

Written beside spec.json (paths in the copy organism's entry of
`make_synthetic_genome`'s result, under `homology`):

  {source}.{copy}.chain  UCSC chain, target = source, query = copy; one
                         chain per segment, its pieces the blocks (`-`
                         chains in query strand coordinates);
  {source}.{copy}.net    UCSC net over the source: one fill per segment
                         with `ali`, a gap for every indel that deletes
                         source bases (insertion-only indels are not
                         listed, as in chainNet's nets), query coordinates
                         on `+`;
  homology.tsv           the truth, one line per segment: source and copy
                         spans, strand, aligned bases, and the pieces as
                         PSL-style lists (sizes, source starts, copy starts
                         on `+`; on `-` source base `s + k` of a piece is
                         copy base `c + size - 1 - k`).

`read_homology_truth` reads homology.tsv back.
"""
import os
import zlib
from typing import List, NamedTuple, Sequence, Tuple

import numpy as np

from enformer_tf.data import encoding
from enformer_tf.data.synthetic.spec import N_MARGIN, SyntheticGenomeSpec

TRUTH_COLUMNS = ('segment', 'source_chrom', 'source_start', 'source_end',
                 'copy_chrom', 'copy_start', 'copy_end', 'strand',
                 'aligned_bp', 'piece_count', 'piece_sizes', 'source_starts',
                 'copy_starts')
_BASES = np.frombuffer(b'ACGT', np.uint8)


class Piece(NamedTuple):
  """A gapless aligned piece: source `[source_start, +size)`, copy
  `[copy_start, +size)` (`+` strand; reversed on a `-` segment)."""
  source_start: int
  copy_start: int
  size: int


class Segment(NamedTuple):
  """One copied syntenic segment and its pieces, in source order."""
  number: int
  source_chrom: str
  source_start: int
  source_end: int
  copy_chrom: str
  copy_start: int
  copy_end: int
  strand: str
  pieces: Tuple[Piece, ...]

  @property
  def aligned_bp(self) -> int:
    return sum(p.size for p in self.pieces)


class _Copy(NamedTuple):
  """A segment's copied DNA and its pieces relative to the copy's start."""
  source_chrom: str
  source_start: int
  source_end: int
  strand: str
  dna: np.ndarray
  pieces: Tuple[Piece, ...]  # copy_start relative, + strand.


class HomologyPlan:
  """Chooses the source segments, then copies them into the copy organism.

  Args:
    spec: the genome spec (its `homology` set).
    source_chromosomes: the source's final `(name, uint8 ASCII sequence)`.
    rng: the homology's own random stream.
  """

  def __init__(self, spec: SyntheticGenomeSpec,
               source_chromosomes: Sequence[Tuple[str, np.ndarray]],
               rng: np.random.Generator):
    self.spec = spec
    self.homology = spec.homology
    self.rng = rng
    self.source = dict(source_chromosomes)
    self.source_sizes = {name: len(seq) for name, seq in source_chromosomes}
    self.segments: List[Segment] = []
    self._pending = self._choose_segments()
    mean_length = float(np.mean(self.homology.segment_length))
    coverage = self.homology.coverage
    self._mean_spacer = mean_length * (1 - coverage) / coverage

  def _choose_segments(self) -> List[Tuple[str, int, int]]:
    """Disjoint N-free source spans, a bit more than the coverage needs."""
    spec, homology, rng = self.spec, self.homology, self.rng
    names = list(self.source)
    sizes = np.array([len(self.source[n]) for n in names], dtype=np.float64)
    n_counts = {n: np.concatenate([[0], np.cumsum(s == ord('N'))])
                for n, s in self.source.items()}
    wanted = 1.2 * homology.coverage * sum(
        s - 2 * spec.telomere_n for s in spec.chrom_sizes)
    chosen: List[Tuple[str, int, int]] = []
    total = 0
    for _ in range(2000):
      if total >= wanted:
        break
      name = names[rng.choice(len(names), p=sizes / sizes.sum())]
      length = int(rng.integers(homology.segment_length[0],
                                homology.segment_length[1] + 1))
      high = len(self.source[name]) - length
      if high <= 0:
        continue
      start = int(rng.integers(0, high + 1))
      end = start + length
      if n_counts[name][end] != n_counts[name][start] or any(
          c == name and s < end and start < e for c, s, e in chosen):
        continue
      chosen.append((name, start, end))
      total += length
    order = rng.permutation(len(chosen))
    return [chosen[i] for i in order]

  def _copy(self, name: str, start: int, end: int) -> _Copy:
    """The mutated, maybe inverted copy of source `[start, end)`."""
    homology, rng = self.homology, self.rng
    source = self.source[name]
    parts, pieces = [], []
    position, q = start, 0
    while True:
      size = min(int(rng.integers(homology.piece_length[0],
                                  homology.piece_length[1] + 1)),
                 end - position)
      piece = source[position:position + size].copy()
      changed = np.flatnonzero(rng.random(size) < homology.substitution_rate)
      if changed.size:
        index = np.searchsorted(_BASES, piece[changed])  # ACGT only.
        piece[changed] = _BASES[(index + rng.integers(1, 4, changed.size))
                                % 4]
      parts.append(piece)
      pieces.append(Piece(position, q, size))
      position, q = position + size, q + size
      kind = int(rng.integers(3))  # Deletion, insertion, or both.
      low, high = homology.gap_length
      dt = int(rng.integers(low, high + 1)) if kind in (0, 2) else 0
      dq = int(rng.integers(low, high + 1)) if kind in (1, 2) else 0
      if position + dt >= end:
        break  # The segment ends with its last piece.
      position += dt
      if dq:
        parts.append(_BASES[rng.integers(0, 4, dq)])
        q += dq
    dna = np.concatenate(parts)
    strand = '-' if rng.random() < homology.inversion_probability else '+'
    if strand == '-':
      dna = np.frombuffer(encoding.reverse_complement(
          dna.tobytes().decode('ascii')).encode('ascii'), np.uint8).copy()
      pieces = [Piece(p.source_start, len(dna) - p.copy_start - p.size,
                      p.size) for p in pieces]
    return _Copy(name, start, pieces[-1].source_start + pieces[-1].size,
                 strand, dna, tuple(pieces))

  def copy_into(self, chrom: str, seq: np.ndarray) -> None:
    """Writes the next pending segments into the copy's chromosome `seq`.

    Called once per chromosome of the copy, in order, on its background
    DNA (before its elements are placed).
    """
    limit = len(seq) - self.spec.telomere_n - N_MARGIN
    cursor = self.spec.telomere_n + N_MARGIN
    n_count = np.concatenate([[0], np.cumsum(seq == ord('N'))])
    while self._pending:
      start = cursor + int(self.rng.exponential(self._mean_spacer))
      # The first pending segment that fits before the chromosome's end;
      # the others wait for the next chromosome.
      for i, pending in enumerate(self._pending):
        if not isinstance(pending, _Copy):
          pending = self._pending[i] = self._copy(*pending)
        if start + len(pending.dna) <= limit:
          break
      else:
        return
      end = start + len(pending.dna)
      if n_count[end] != n_count[start]:
        # Past the N run, then draw the spacer again.
        cursor = start + int(np.flatnonzero(seq[start:end] == ord('N'))[-1]) \
            + 1 + N_MARGIN
        continue
      seq[start:end] = pending.dna
      self.segments.append(Segment(
          len(self.segments), pending.source_chrom, pending.source_start,
          pending.source_end, chrom, start, end, pending.strand,
          tuple(p._replace(copy_start=start + p.copy_start)
                for p in pending.pieces)))
      self._pending.pop(i)
      cursor = end


def write_chain(path: str, segments: Sequence[Segment],
                source_sizes, copy_sizes) -> None:
  """One UCSC chain per segment (target = source, query = copy)."""
  lines = []
  for segment in sorted(segments, key=lambda s: -s.aligned_bp):
    q_size = copy_sizes[segment.copy_chrom]

    def q_strand_start(piece):
      if segment.strand == '+':
        return piece.copy_start
      return q_size - piece.copy_start - piece.size

    pieces = segment.pieces
    first, last = pieces[0], pieces[-1]
    lines.append(
        f'chain {segment.aligned_bp} {segment.source_chrom} '
        f'{source_sizes[segment.source_chrom]} + {first.source_start} '
        f'{last.source_start + last.size} {segment.copy_chrom} {q_size} '
        f'{segment.strand} {q_strand_start(first)} '
        f'{q_strand_start(last) + last.size} {segment.number + 1}')
    for a, b in zip(pieces, pieces[1:]):
      lines.append(f'{a.size}\t{b.source_start - a.source_start - a.size}\t'
                   f'{q_strand_start(b) - q_strand_start(a) - a.size}')
    lines.append(f'{last.size}')
    lines.append('')
  with open(path, 'w', encoding='ascii') as f:
    f.write('\n'.join(lines) + '\n')


def write_net(path: str, segments: Sequence[Segment], source_sizes) -> None:
  """A UCSC net over the source: a fill per segment, gaps that delete
  source bases, query coordinates on `+`."""
  lines = []
  for chrom, size in source_sizes.items():
    fills = sorted((s for s in segments if s.source_chrom == chrom),
                   key=lambda s: s.source_start)
    if not fills:
      continue
    lines.append(f'net {chrom} {size}')
    for segment in fills:
      pieces = segment.pieces
      q_start = min(p.copy_start for p in pieces)
      q_end = max(p.copy_start + p.size for p in pieces)
      t_start = pieces[0].source_start
      t_size = pieces[-1].source_start + pieces[-1].size - t_start
      lines.append(
          f' fill {t_start} {t_size} {segment.copy_chrom} {segment.strand} '
          f'{q_start} {q_end - q_start} id {segment.number + 1} score '
          f'{segment.aligned_bp} ali {segment.aligned_bp} type top')
      for a, b in zip(pieces, pieces[1:]):
        gap_t = a.source_start + a.size
        if b.source_start == gap_t:
          continue  # Insertion in the copy only: no source bases.
        if segment.strand == '+':
          gap_q, gap_q_end = a.copy_start + a.size, b.copy_start
        else:
          gap_q, gap_q_end = b.copy_start + b.size, a.copy_start
        lines.append(f'  gap {gap_t} {b.source_start - gap_t} '
                     f'{segment.copy_chrom} {segment.strand} {gap_q} '
                     f'{gap_q_end - gap_q}')
  with open(path, 'w', encoding='ascii') as f:
    f.write('\n'.join(lines) + '\n')


def write_truth(path: str, segments: Sequence[Segment]) -> None:
  """homology.tsv: one line per segment (`TRUTH_COLUMNS`)."""
  with open(path, 'w', encoding='ascii') as f:
    f.write('#' + '\t'.join(TRUTH_COLUMNS) + '\n')
    for s in segments:
      row = (s.number, s.source_chrom, s.source_start, s.source_end,
             s.copy_chrom, s.copy_start, s.copy_end, s.strand, s.aligned_bp,
             len(s.pieces), ','.join(str(p.size) for p in s.pieces),
             ','.join(str(p.source_start) for p in s.pieces),
             ','.join(str(p.copy_start) for p in s.pieces))
      f.write('\t'.join(str(v) for v in row) + '\n')


def read_homology_truth(path: str) -> List[Segment]:
  """The segments of a homology.tsv written by `make_synthetic_genome`."""
  segments = []
  with open(path, encoding='ascii') as f:
    for line in f:
      if line.startswith('#') or not line.strip():
        continue
      row = dict(zip(TRUTH_COLUMNS, line.rstrip('\n').split('\t')))
      pieces = tuple(Piece(int(s), int(c), int(n)) for n, s, c in zip(
          row['piece_sizes'].split(','), row['source_starts'].split(','),
          row['copy_starts'].split(',')))
      segments.append(Segment(
          int(row['segment']), row['source_chrom'], int(row['source_start']),
          int(row['source_end']), row['copy_chrom'], int(row['copy_start']),
          int(row['copy_end']), row['strand'], pieces))
  return segments


def homology_rng(seed: int) -> np.random.Generator:
  """The homology's own random stream."""
  return np.random.default_rng(np.random.SeedSequence(
      [seed, zlib.crc32(b'homology')]))


def write_homology(out_dir: str, plan: HomologyPlan, copy_sizes) -> dict:
  """Writes the chain, net and truth files; returns their names."""
  homology = plan.homology
  files = {'chain': f'{homology.source}.{homology.copy}.chain',
           'net': f'{homology.source}.{homology.copy}.net',
           'truth': 'homology.tsv'}
  write_chain(os.path.join(out_dir, files['chain']), plan.segments,
              plan.source_sizes, copy_sizes)
  write_net(os.path.join(out_dir, files['net']), plan.segments,
            plan.source_sizes)
  write_truth(os.path.join(out_dir, files['truth']), plan.segments)
  return files
