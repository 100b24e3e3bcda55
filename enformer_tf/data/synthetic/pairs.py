"""The synthetic CRISPRi benchmark: `crispri_pairs.tsv`, candidate
element-gene pairs labelled from the planted truth.

`write_pairs(path, elements, ...)` writes, for every gene (one per promoter,
`genes.py`: gene `G0012` of promoter `P0012`, main TSS = the promoter's
centre), one row per candidate element whose centre lies within
`distance_range` bp of that TSS on the same chromosome, in the layout of the
ENCODE `EPCrisprBenchmark` tables (`crispri_pairs.PRESETS['encode']`):

  chrom chromStart chromEnd name   the element (0-based half-open motif)
  EffectSize        planted fractional change of the gene's `cage_distal`
                    when the element is removed: `distal_base - 1` for the
                    partner enhancer (and -1 for the own promoter), else 0
  measuredGeneSymbol measuredEnsemblID  GENE0012, G0012
  chrTSS startTSS endTSS   the main TSS (0-based, one base)
  Significant Regulated    TRUE for the gene's partner enhancer (and own
                           promoter), FALSE otherwise
  distance          element centre - TSS (bp, signed)
  element_kind      partner_enhancer, other_enhancer (another promoter's
                    partner), near_decoy, far_decoy, own_promoter,
                    background

Candidates are the enhancer motifs (partners and not) and decoys; with
`own_promoter=True` also the gene's own promoter (as screens that tile the
TSS include it), and with `background_per_gene=k` also `k` stretches of
plain background sequence per gene (motif-long, at random distances in the
range, clear of every element by `BACKGROUND_CLEARANCE` bp and of `N`s),
drawn from the pairs' own random stream (`pairs_rng`), so writing the pairs
changes no other output of the generator. The default table of
`make_synthetic_genome` has neither, and a distance range of 0-100 kb
(the distance bins of the paper's analysis).
"""
import bisect
import os
import zlib
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np

from enformer_tf.data.synthetic.elements import Element, read_elements
from enformer_tf.data.synthetic.genes import gene_id

COLUMNS = ('chrom', 'chromStart', 'chromEnd', 'name', 'EffectSize',
           'measuredGeneSymbol', 'measuredEnsemblID', 'chrTSS', 'startTSS',
           'endTSS', 'Significant', 'Regulated', 'distance', 'element_kind')
DEFAULT_DISTANCE_RANGE = (0, 100_000)
BACKGROUND_CLEARANCE = 100  # bp between a background stretch and any element.
FILE_NAME = 'crispri_pairs.tsv'


def pairs_rng(seed: int, organism: str) -> np.random.Generator:
  """The pairs' own random stream (only background stretches draw from it)."""
  return np.random.default_rng(np.random.SeedSequence(
      [seed, zlib.crc32(organism.encode('utf-8')),
       zlib.crc32(b'crispri_pairs')]))


def _check_range(distance_range: Tuple[int, int]) -> Tuple[int, int]:
  try:
    low, high = (int(d) for d in distance_range)
  except (TypeError, ValueError):
    raise ValueError(f'distance_range must be (min, max) bp, got '
                     f'{distance_range!r}.') from None
  if not 0 <= low <= high:
    raise ValueError(f'distance_range must have 0 <= min <= max, got '
                     f'{distance_range!r}.')
  return low, high


def _kind(element: Element, promoter: Element) -> str:
  if element.kind == 'enhancer':
    return ('partner_enhancer' if element.partner == promoter.name else
            'other_enhancer')
  return f'{element.variant}_decoy'


def _background(rng, promoter: Element, elements: Sequence[Element],
                sequence, length: int, low: int, high: int, count: int
                ) -> List[Tuple[int, int]]:
  """`count` background stretches `(start, end)` near `promoter`."""
  stretches, tries = [], 0
  while len(stretches) < count and tries < 1000 * count:
    tries += 1
    offset = int(rng.integers(low, high + 1)) * int(rng.choice((-1, 1)))
    start = promoter.center + offset - length // 2
    end = start + length
    if start < 0 or (sequence is not None and end > len(sequence)):
      continue
    if any(e.start - BACKGROUND_CLEARANCE < end and
           start < e.end + BACKGROUND_CLEARANCE for e in elements):
      continue
    if any(s - BACKGROUND_CLEARANCE < end and start < e + BACKGROUND_CLEARANCE
           for s, e in stretches):
      continue
    if sequence is not None and np.any(
        np.asarray(sequence[start:end]) == ord('N')):
      continue
    stretches.append((start, end))
  return sorted(stretches)


def write_pairs(path: str, elements: Sequence[Element], distal_base: float,
                *, distance_range: Tuple[int, int] = DEFAULT_DISTANCE_RANGE,
                own_promoter: bool = False, background_per_gene: int = 0,
                sequences: Optional[Mapping[str, np.ndarray]] = None,
                rng: Optional[np.random.Generator] = None) -> int:
  """Writes the pairs table of one organism; returns the number of rows.

  Args:
    path: the TSV to write.
    elements: the organism's elements (elements.bed order).
    distal_base: `spec.distal_base` (the partner's planted effect).
    distance_range: `(min, max)` bp between an element's centre and the TSS.
    own_promoter: also pair each gene with its own promoter (significant).
    background_per_gene: plain-sequence stretches per gene (not
      significant).
    sequences: chromosome -> sequence as uint8 codes (to keep background
      off `N`s); needed with `background_per_gene`.
    rng: the stream for background stretches (`pairs_rng`).
  """
  low, high = _check_range(distance_range)
  if int(background_per_gene) != background_per_gene or (
      background_per_gene < 0):
    raise ValueError(f'background_per_gene must be an integer >= 0, got '
                     f'{background_per_gene!r}.')
  if background_per_gene and (rng is None or sequences is None):
    raise ValueError('background_per_gene needs rng and sequences.')
  by_chrom = {}  # chrom -> (sorted centres, elements in that order)
  for e in sorted((e for e in elements if e.kind in ('enhancer', 'decoy')),
                  key=lambda e: (e.chrom, e.center)):
    by_chrom.setdefault(e.chrom, ([], []))
    by_chrom[e.chrom][0].append(e.center)
    by_chrom[e.chrom][1].append(e)
  lines = ['\t'.join(COLUMNS) + '\n']
  for promoter in elements:
    if promoter.kind != 'promoter':
      continue
    gid, tss = gene_id(promoter.name), promoter.center
    rows = []  # (start, end, name, effect, significant, kind)
    if own_promoter and low == 0:
      rows.append((promoter.start, promoter.end, promoter.name, -1.0, True,
                   'own_promoter'))
    centres, near_elements = by_chrom.get(promoter.chrom, ([], []))
    for element in near_elements[bisect.bisect_left(centres, tss - high):
                                 bisect.bisect_right(centres, tss + high)]:
      if low <= abs(element.center - tss):
        partner = element.partner == promoter.name
        rows.append((element.start, element.end, element.name,
                     distal_base - 1.0 if partner else 0.0, partner,
                     _kind(element, promoter)))
    if background_per_gene:
      near = [e for e in elements if e.chrom == promoter.chrom and
              abs(e.center - tss) <= high + 1000]
      length = promoter.end - promoter.start
      for k, (start, end) in enumerate(_background(
          rng, promoter, near, sequences[promoter.chrom], length, low, high,
          background_per_gene)):
        rows.append((start, end, f'B{gid[1:]}_{k}', 0.0, False,
                     'background'))
    for start, end, name, effect, significant, kind in sorted(rows):
      label = 'TRUE' if significant else 'FALSE'
      center = start + (end - start) // 2
      lines.append('\t'.join(str(v) for v in (
          promoter.chrom, start, end, name, f'{effect:g}',
          f'GENE{gid[1:]}', gid, promoter.chrom, tss, tss + 1, label, label,
          center - tss, kind)) + '\n')
  with open(path, 'w', encoding='ascii') as f:
    f.writelines(lines)
  return len(lines) - 1


def write_pairs_for(organism_dir: str, path: str, distal_base: float = 0.05,
                    *, seed: int = 0, **kwargs) -> int:
  """`write_pairs` for a written organism directory (elements.bed and, for
  background stretches, genome.fa), e.g. with a distance range that fits a
  small model's window."""
  elements = read_elements(os.path.join(organism_dir, 'elements.bed'))
  sequences = None
  if kwargs.get('background_per_gene'):
    from enformer_tf.data import genome  # pylint: disable=g-import-not-at-top
    with genome.FastaExtractor(os.path.join(organism_dir,
                                            'genome.fa')) as fasta:
      sequences = {
          chrom: np.frombuffer(fasta.extract(chrom, 0, size).upper().encode(
              'ascii'), np.uint8)
          for chrom, size in fasta.chromosome_sizes.items()}
  organism = os.path.basename(os.path.normpath(organism_dir))
  return write_pairs(path, elements, distal_base, sequences=sequences,
                     rng=pairs_rng(seed, organism), **kwargs)
