"""Synthetic genes: one gene per planted promoter, written as a GTF.

`write_genes(path, elements, chrom_sizes, rng)` writes `genes.gtf` beside
`elements.bed` (GENCODE style: 9 tab-separated columns, 1-based closed
coordinates, attributes `gene_id "G0012"; transcript_id "G0012.1";
gene_name "GENE0012"; gene_type "protein_coding";`):

  gene        G0012 of promoter P0012 (same number, so genes join
              elements.bed on it), on the promoter's strand.
  transcript  G0012.1, the main transcript: its TSS is the promoter motif's
              centre (`start + len // 2`, 0-based, `Element.center`).
              About a third of the genes (`SECOND_TSS_FRACTION`) also have
              G0012.2, whose TSS lies 50-400 bp downstream of the first
              along the strand. Its distance is drawn so that the second TSS
              falls in the first one's 128-bp bin (bins counted from base 0
              of the chromosome) with probability 1/2, else in the next bin
              or farther, 1/4 each (the same bin is out of reach when the
              first TSS is within 50 bp of its bin's downstream edge: then
              the next bin), so about 30% same bin, 45% next, 25% farther.
  exon        one per transcript, the whole transcript (single-exon genes).

Each gene runs 2-20 kb downstream of its main TSS, clipped to the
chromosome (every transcript ends where the gene ends). On `+` a
transcript's TSS is its GTF `start - 1` (0-based), on `-` its GTF `end - 1`.

Planted expression. The genes add no signal: a gene's expression is the
peak its promoter plants in the tracks, centred on the main TSS (the second
TSS, 50-400 bp away, sits on the flank of the same peak). From elements.bed
(`read_elements`), with `P` the promoter `P<number>` of gene `G<number>`:

  strength = P.strength   (the organism's strength of the promoter variant)
  paired   = P.partner is not None   (an enhancer `E<number>` in range)
  cage         peak height 5 * strength
  cage_distal  peak height 5 * strength * (distal_base +
               (1 - distal_base) * paired)   (`spec.distal_base`, 0.05)

so a gene's activity is its promoter's strength times the distal factor
(1 if paired, `distal_base` if not) for the distal tracks, and its strength
alone for the local `cage` track. `gene_truth(organism_dir)` returns
`(strength, paired, tss)` per gene id from the written files.

Randomness comes from its own stream (`genes_rng`), so writing the genes
changes no other output of the generator.
"""
import os
import zlib
from typing import Dict, Mapping, NamedTuple, Sequence, Tuple

import numpy as np

from enformer_tf.constants import BIN_SIZE
from enformer_tf.data.synthetic.elements import Element, read_elements

SECOND_TSS_FRACTION = 1 / 3
SECOND_TSS_DISTANCE = (50, 400)  # bp downstream of the main TSS.
GENE_LENGTH = (2_000, 20_000)  # bp downstream of the main TSS.
GENE_TYPE = 'protein_coding'
SOURCE = 'synthetic'


class GeneTruth(NamedTuple):
  """What was planted for one gene (see the module docstring)."""
  strength: float
  paired: bool
  tss: Tuple[int, ...]  # 0-based, main TSS first.


def genes_rng(seed: int, organism: str) -> np.random.Generator:
  """The genes' own random stream (the other outputs do not draw from it)."""
  return np.random.default_rng(np.random.SeedSequence(
      [seed, zlib.crc32(organism.encode('utf-8')),
       zlib.crc32(b'genes')]))


def gene_id(promoter_name: str) -> str:
  """`P0012` -> `G0012`."""
  return 'G' + promoter_name[1:]


def _second_tss_distance(rng: np.random.Generator, tss: int,
                         strand: str) -> int:
  """A distance in SECOND_TSS_DISTANCE: same bin, next bin or farther."""
  low, high = SECOND_TSS_DISTANCE
  # Offset of the TSS in its bin along the strand's direction.
  offset = tss % BIN_SIZE if strand == '+' else BIN_SIZE - 1 - tss % BIN_SIZE
  to_next = BIN_SIZE - offset  # Smallest distance that leaves the bin.
  ranges = {'same': (low, to_next - 1),
            'next': (max(low, to_next), to_next + BIN_SIZE - 1),
            'farther': (to_next + BIN_SIZE, high)}
  # Same bin at 1/2: about 40% of TSSs have no room for it.
  kind = ('same', 'same', 'next', 'farther')[rng.integers(4)]
  lo, hi = ranges[kind]
  if lo > hi:  # The same bin has no room 50 bp downstream: the next one.
    lo, hi = ranges['next']
  return int(rng.integers(lo, hi + 1))


def _attributes(gid: str, transcript: str = '', exon: bool = False) -> str:
  parts = [f'gene_id "{gid}";']
  if transcript:
    parts.append(f'transcript_id "{transcript}";')
  parts += [f'gene_name "GENE{gid[1:]}";', f'gene_type "{GENE_TYPE}";']
  if exon:
    parts.append('exon_number 1;')
  return ' '.join(parts)


def write_genes(path: str, elements: Sequence[Element],
                chrom_sizes: Mapping[str, int],
                rng: np.random.Generator) -> None:
  """Writes the genes of the promoters among `elements` to a GTF at `path`.

  Args:
    path: the GTF to write.
    elements: an organism's elements (promoters are picked out), in
      elements.bed order.
    chrom_sizes: chromosome -> length, to clip the genes.
    rng: the genes' stream (`genes_rng`).
  """
  lines = []
  for element in elements:
    if element.kind != 'promoter':
      continue
    gid = gene_id(element.name)
    tss = element.center
    plus = element.strand == '+'
    size = int(chrom_sizes[element.chrom])
    length = int(rng.integers(GENE_LENGTH[0], GENE_LENGTH[1] + 1))
    # 0-based closed [first, last] of the gene, clipped to the chromosome.
    last_downstream = min(size - 1, tss + length - 1) if plus else max(
        0, tss - length + 1)
    starts = [tss]
    if rng.random() < SECOND_TSS_FRACTION:
      distance = _second_tss_distance(rng, tss, element.strand)
      starts.append(tss + distance if plus else tss - distance)

    def span(start0):
      first, last = sorted((start0, last_downstream))
      return first + 1, last + 1  # 1-based closed.

    def line(feature, start0, attributes):
      first, last = span(start0)
      return '\t'.join((element.chrom, SOURCE, feature, str(first), str(last),
                        '.', element.strand, '.', attributes))

    lines.append(line('gene', tss, _attributes(gid)))
    for number, start0 in enumerate(starts, 1):
      transcript = f'{gid}.{number}'
      lines.append(line('transcript', start0, _attributes(gid, transcript)))
      lines.append(line('exon', start0, _attributes(gid, transcript, True)))
  with open(path, 'w', encoding='ascii') as f:
    f.write('##description: synthetic genes, one per planted promoter\n')
    f.write('##format: gtf\n')
    f.write(''.join(l + '\n' for l in lines))


def gene_truth(organism_dir: str) -> Dict[str, GeneTruth]:
  """Per gene id, `(strength, paired, tss)` read from the written files.

  Args:
    organism_dir: a synthetic organism directory (with `genes.gtf` and
      `elements.bed`).

  Returns:
    gene id -> `GeneTruth`: the promoter's strength, whether it has an
    enhancer in range, and the 0-based TSSs, main TSS first.
  """
  # Function-level import: pyranges brings pandas, slow to import, and only
  # readers of the genes need it.
  from enformer_tf.data import annotation  # pylint: disable=g-import-not-at-top

  promoters = {e.name: e for e in read_elements(
      os.path.join(organism_dir, 'elements.bed')) if e.kind == 'promoter'}
  truth = {}
  for gene in annotation.read_genes(os.path.join(organism_dir, 'genes.gtf'),
                                    gene_types=None):
    promoter = promoters['P' + gene.gene_id[1:]]
    order = sorted(zip(gene.transcripts, gene.tss_of_transcript))
    truth[gene.gene_id] = GeneTruth(
        strength=promoter.strength, paired=promoter.partner is not None,
        tss=tuple(tss for _, tss in order))
  return truth
