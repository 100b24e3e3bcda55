"""Gene-level variant scores: the change at the TSS bins of nearby genes.

For a variant and each gene with a TSS in the output bins of the variant's
window (the window the scorer already predicted: no extra forward pass),
the reference and alternative predictions are summed over the gene's TSS
bins `G` (as `genes.gene_bins` does on the genome's grid, here on the
window's own 128-bp output bins, which start `crop_bp` after the window
start; each bin once, +- `flank_bins`, only bins inside the window), and

    SED    = sum_{b in G} alt_b - sum_{b in G} ref_b
    logSED = log2(1 + sum_{b in G} alt_b) - log2(1 + sum_{b in G} ref_b)

per track (`variant_stats.gene_stats`). Each row names the gene (id, name,
strand), the distance from the variant to the gene's nearest TSS in the
window (`variant - TSS`, bp, on the genome's + strand: positive when the
variant lies right of the TSS) and the number of TSS bins summed. A variant
with no gene in range gets one row with gene `.` and empty scores, so no
variant is dropped silently.

With `shifts`, the bins of the averaged prediction are those of the
unshifted window (shifted windows move them by under one bin).
"""
import bisect
import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from enformer_tf.data import annotation
from enformer_tf.genomics import genes as genes_lib
from enformer_tf.genomics import intervals
from enformer_tf.genomics import variant_stats
from enformer_tf.genomics import vcf


@dataclasses.dataclass(frozen=True)
class GeneScore:
  """One variant x gene row.

  Attributes:
    record: the variant.
    gene: the gene, or `None` for a variant with no gene in range.
    tss_distance: variant start - the gene's nearest TSS in the window (bp).
    num_bins: TSS bins summed.
    scores: `{stat: float32 [tracks]}` (empty when `gene` is `None`).
  """
  record: vcf.VcfRecord
  gene: Optional[annotation.Gene]
  tss_distance: int = 0
  num_bins: int = 0
  scores: Dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


class GeneIndex:
  """Genes by chromosome, found by TSS position.

  Args:
    genes: the genes (`annotation.read_genes`), chromosome names as in the
      FASTA.
    flank_bins: bins on either side of each TSS bin to sum too.
  """

  def __init__(self, genes: Sequence[annotation.Gene], flank_bins: int = 0):
    if int(flank_bins) != flank_bins or flank_bins < 0:
      raise ValueError(f'flank_bins must be an integer >= 0, got '
                       f'{flank_bins!r}.')
    self.genes = list(genes)
    self.flank_bins = int(flank_bins)
    self._tss: Dict[str, List[Tuple[int, int]]] = {}
    for g, gene in enumerate(self.genes):
      for tss in gene.tss:
        self._tss.setdefault(gene.chrom, []).append((tss, g))
    for points in self._tss.values():
      points.sort()
    self._positions = {c: [p for p, _ in points]
                       for c, points in self._tss.items()}

  def genes_in(self, chrom: str, start: int, end: int) -> List[int]:
    """Indices of genes with a TSS in `[start, end)`, in TSS order."""
    positions = self._positions.get(chrom, [])
    points = self._tss.get(chrom, [])
    found = []
    for i in range(bisect.bisect_left(positions, start),
                   bisect.bisect_left(positions, end)):
      if points[i][1] not in found:
        found.append(points[i][1])
    return found

  def window_bins(self, gene: annotation.Gene, bins_start: int,
                  num_bins: int) -> Tuple[int, ...]:
    """Output bins (0-based in the window) of `gene`'s TSSs, +- flanks.

    `genes.gene_bins` of the gene moved so that the window's first output
    bin (at genome position `bins_start`) is bin 0; bins outside dropped.
    """
    moved = dataclasses.replace(gene, tss=tuple(t - bins_start
                                                for t in gene.tss))
    return tuple(b for b in genes_lib.gene_bins(moved, self.flank_bins)
                 if 0 <= b < num_bins)


def score_genes(index: GeneIndex, record: vcf.VcfRecord, window_start: int,
                layout: intervals.OutputLayout, ref: np.ndarray,
                alt: np.ndarray, stats: Sequence[str] = variant_stats.
                GENE_STATS) -> List[GeneScore]:
  """Gene rows of one variant from its window's predictions.

  Args:
    index: the genes.
    record: the variant.
    window_start: the (unshifted) start of the window `ref`, `alt` predict.
    layout: the model's output layout.
    ref, alt: predictions `[bins, tracks]`.
    stats: gene statistics to compute.

  Returns:
    One `GeneScore` per gene with a TSS in the output bins, by TSS position;
    one with `gene=None` if there is none.
  """
  bins_start = window_start + layout.crop_bp
  rows = []
  for g in index.genes_in(record.chrom, bins_start,
                          bins_start + layout.span):
    gene = index.genes[g]
    bins = list(index.window_bins(gene, bins_start, layout.num_bins))
    inside = [t for t in gene.tss
              if bins_start <= t < bins_start + layout.span]
    nearest = min(inside, key=lambda t: (abs(record.start - t), t))
    scores = variant_stats.gene_stats(ref[bins].sum(axis=0),
                                      alt[bins].sum(axis=0), stats)
    rows.append(GeneScore(record, gene, record.start - nearest, len(bins),
                          scores))
  return rows or [GeneScore(record, None)]

