"""The chromosomes' DNA: the isochore background with its `N` runs, and the
planted motifs with every chance copy of a motif mutated away.

Sequences are uint8 ASCII arrays (`b'ACGTN'`), changed in place.
"""
from typing import List, Sequence, Tuple

import numpy as np

from enformer_tf.data import encoding
from enformer_tf.data.synthetic.elements import Element
from enformer_tf.data.synthetic.spec import N_MARGIN, SyntheticGenomeSpec


def motif_occurrences(sequence, motif: str) -> List[Tuple[int, str]]:
  """Sorted `(start, strand)` of exact matches of `motif` on either strand."""
  if isinstance(sequence, str):
    sequence = sequence.encode('ascii')
  hits = set()
  for pattern, strand in ((motif, '+'),
                          (encoding.reverse_complement(motif), '-')):
    pattern = pattern.encode('ascii')
    start = sequence.find(pattern)
    while start >= 0:
      hits.add((start, strand))
      start = sequence.find(pattern, start + 1)
  return sorted(hits)


def background(rng: np.random.Generator, length: int,
               spec: SyntheticGenomeSpec) -> np.ndarray:
  """Uppercase random DNA as uint8 ASCII, GC fraction piecewise constant."""
  bounds = [0]
  while bounds[-1] < length:
    bounds.append(bounds[-1] + 1 + int(rng.exponential(spec.gc_segment_mean)))
  gc_values = rng.uniform(*spec.gc_range, size=len(bounds) - 1)
  gc = np.repeat(gc_values, np.diff(bounds))[:length]
  u = rng.random(length)
  index = (u >= gc / 2).astype(np.uint8) + (u >= gc) + (u >= (1 + gc) / 2)
  seq = np.frombuffer(b'GCAT', np.uint8)[index]
  seq[:spec.telomere_n] = ord('N')
  seq[length - spec.telomere_n:] = ord('N')
  inner = length - 2 * spec.telomere_n
  for _ in range(int(round(spec.n_gaps_per_mb * length / 1e6))):
    gap = int(rng.integers(spec.n_gap_length[0], spec.n_gap_length[1] + 1))
    if inner > gap + 2 * N_MARGIN:
      start = spec.telomere_n + int(rng.integers(0, inner - gap))
      seq[start:start + gap] = ord('N')
  return seq


def plant_and_scrub(rng: np.random.Generator, seq: np.ndarray,
                    elements: Sequence[Element],
                    motifs: Sequence[str]) -> None:
  """Writes the motifs into `seq` and mutates away every other occurrence."""
  planted = {}
  protected = np.zeros(len(seq), dtype=bool)
  for element in elements:
    seq[element.start:element.end] = np.frombuffer(
        element.motif.encode('ascii'), np.uint8)
    protected[element.start:element.end] = True
    planted[element.start] = element.motif
  for _ in range(100):
    data = seq.tobytes()
    stray = [(start, len(motif)) for motif in motifs
             for start, strand in motif_occurrences(data, motif)
             if planted.get(start) != (motif if strand == '+' else
                                       encoding.reverse_complement(motif))]
    if not stray:
      return
    for start, length in stray:
      free = start + np.flatnonzero(~protected[start:start + length])
      position = free[rng.integers(len(free))]
      choices = [b for b in b'ACGT' if b != seq[position]]
      seq[position] = choices[rng.integers(len(choices))]
  raise RuntimeError('could not remove chance motif occurrences')
