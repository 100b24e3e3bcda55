"""Where the elements go on one chromosome: promoters with their enhancers,
near and far decoys, placed so the distal rule holds exactly (`Layout`),
then named and given their tracks as `Element`s (`chromosome_elements`).
"""
from typing import Dict, List

import numpy as np

from enformer_tf.data import encoding
from enformer_tf.data.synthetic.elements import Element
from enformer_tf.data.synthetic.spec import (N_MARGIN, PROMOTER_MOTIFS,
                                             SyntheticGenomeSpec)


class Layout:
  """Element centres on one chromosome, placed under the grammar's rules.

  `promoters` holds `[center, variant, enhancer center or None]` sorted by
  centre, `decoys` holds `[center, 'near' | 'far']`.
  """

  def __init__(self, rng: np.random.Generator, seq: np.ndarray,
               spec: SyntheticGenomeSpec):
    self.rng = rng
    self.spec = spec
    n_count = np.concatenate([[0], np.cumsum(seq == ord('N'))])
    pos = np.arange(N_MARGIN, len(seq) - N_MARGIN)
    clear = n_count[pos + N_MARGIN + 1] == n_count[pos - N_MARGIN]
    self.candidates = pos[clear]  # Centres far enough from Ns and ends.
    self.promoters = []
    self.decoys = []

  def place(self, num_promoters, num_far_decoys):
    if len(self.candidates):
      self._place_promoters(num_promoters)
      self._place_near_decoys()
      self._place_far_decoys(num_far_decoys)

  def promoter_centers(self):
    return np.array([p[0] for p in self.promoters], dtype=np.int64)

  def _enhancer_like_centers(self):
    return np.array([p[2] for p in self.promoters if p[2] is not None] +
                    [d[0] for d in self.decoys], dtype=np.int64)

  def _random_candidate(self):
    return int(self.candidates[self.rng.integers(len(self.candidates))])

  def _random_offset(self, low, high):
    return int(self.rng.integers(low, high + 1)) * int(
        self.rng.choice((-1, 1)))

  def _in_zone(self, centers, center):
    """Whether any of `centers` is within [dmin - margin, dmax + margin]."""
    dmin, dmax = self.spec.enhancer_distance
    distance = np.abs(centers - center)
    margin = self.spec.distance_margin
    return bool(((distance >= dmin - margin) &
                 (distance <= dmax + margin)).any())

  def _allowed(self, center, enhancer_like=True):
    """Whether an element may go at `center`.

    It must be a candidate, `min_element_spacing` from every element and, for
    enhancer motifs, in the zone of no placed promoter.
    """
    i = np.searchsorted(self.candidates, center)
    if i == len(self.candidates) or self.candidates[i] != center:
      return False
    centers = np.concatenate([self.promoter_centers(),
                              self._enhancer_like_centers()])
    if centers.size and np.abs(centers - center).min() < (
        self.spec.min_element_spacing):
      return False
    return not (enhancer_like and
                self._in_zone(self.promoter_centers(), center))

  def _place_promoters(self, count):
    """Places promoters with their enhancers, each pair at once.

    A new promoter needs an enhancer-free zone, its enhancer must fall in no
    other promoter's zone; a failed attempt retries elsewhere.
    """
    spec = self.spec
    paired = self.rng.permutation(count) < int(
        round(spec.paired_probability * count))
    for is_paired in paired:
      for _ in range(100):
        center = self._random_candidate()
        if (not self._allowed(center, enhancer_like=False) or
            self._in_zone(self._enhancer_like_centers(), center)):
          continue
        enhancer = None
        if is_paired:
          enhancer = center + self._random_offset(*spec.enhancer_distance)
          if not self._allowed(enhancer):
            continue
        self.promoters.append([center, None, enhancer])
        break
    self._balance()
    self.promoters.sort(key=lambda p: p[0])
    variants = list(PROMOTER_MOTIFS)
    for promoter in self.promoters:
      promoter[1] = variants[self.rng.integers(len(variants))]

  def _balance(self):
    """Drops promoters until the paired fraction is the nearest to target.

    Dropping a promoter, with its enhancer, never breaks a rule.
    """
    p = self.spec.paired_probability
    paired = [i for i, x in enumerate(self.promoters) if x[2] is not None]
    unpaired = [i for i, x in enumerate(self.promoters) if x[2] is None]
    if p <= 0 or p >= 1:  # Every promoter has the one status asked for.
      keep = len(paired), len(unpaired)
    elif len(paired) < p * len(self.promoters):
      keep = len(paired), int(round(len(paired) * (1 - p) / p))
    else:
      keep = int(round(len(unpaired) * p / (1 - p))), len(unpaired)
    drop = set()
    for group, num in zip((paired, unpaired), keep):
      drop.update(int(i) for i in self.rng.permutation(group)[num:])
    self.promoters = [x for i, x in enumerate(self.promoters) if i not in drop]

  def _place_near_decoys(self):
    spec = self.spec
    near_max = spec.enhancer_distance[0] - spec.distance_margin - 1
    if near_max < spec.min_element_spacing:
      return
    for center, _, _ in list(self.promoters):
      if self.rng.random() >= spec.near_decoy_probability:
        continue
      for _ in range(50):
        decoy = center + self._random_offset(spec.min_element_spacing,
                                             near_max)
        if self._allowed(decoy):
          self.decoys.append([decoy, 'near'])
          break

  def _place_far_decoys(self, count):
    far = self.spec.enhancer_distance[1] + self.spec.distance_margin
    placed = 0
    for _ in range(100 * count):
      if placed >= count:
        break
      center = self._random_candidate()
      promoters = self.promoter_centers()
      if promoters.size and np.abs(promoters - center).min() <= far:
        continue
      if self._allowed(center):
        self.decoys.append([center, 'far'])
        placed += 1


def chromosome_elements(layout: Layout, chrom: str, organism: str,
                        spec: SyntheticGenomeSpec,
                        names: Dict[str, int]) -> List[Element]:
  """`Element`s of one laid-out chromosome; `names` holds running counters."""
  organism_spec = spec.organisms[organism]
  kinds = {t.name: t.kind for t in organism_spec.tracks}
  promoter_tracks = tuple(n for n, k in kinds.items()
                          if k in ('cage', 'dnase', 'h3k27ac'))
  enhancer_tracks = tuple(n for n, k in kinds.items()
                          if k in ('dnase', 'h3k27ac'))
  distal_tracks = tuple(n for n, k in kinds.items() if k == 'cage_distal')
  rng = layout.rng

  def _element(center, name, kind, variant, strength, partner, distance,
               motif, local_tracks, target_tracks):
    strand = '+' if rng.random() < 0.5 else '-'
    planted = motif if strand == '+' else encoding.reverse_complement(motif)
    start = center - len(motif) // 2
    return Element(chrom, int(start), int(start + len(motif)), name, kind,
                   strand, variant, float(strength), partner,
                   None if distance is None else int(distance), planted,
                   tuple(local_tracks), tuple(target_tracks))

  elements = []
  for center, variant, enhancer in layout.promoters:
    number = f'{names["P"]:04d}'
    names['P'] += 1
    paired = enhancer is not None
    elements.append(_element(
        center, f'P{number}', 'promoter', variant,
        organism_spec.promoter_strengths[variant],
        f'E{number}' if paired else None,
        enhancer - center if paired else None, PROMOTER_MOTIFS[variant],
        promoter_tracks + (distal_tracks if paired else ()), ()))
    if paired:
      elements.append(_element(
          enhancer, f'E{number}', 'enhancer', 'paired', 1.0, f'P{number}',
          center - enhancer, organism_spec.enhancer_motif, enhancer_tracks,
          distal_tracks))
  promoter_centers = layout.promoter_centers()
  for center, variant in sorted(layout.decoys):
    distance = None
    if promoter_centers.size:
      nearest = promoter_centers[np.argmin(np.abs(promoter_centers - center))]
      distance = nearest - center
    elements.append(_element(
        center, f'D{names["D"]:04d}', 'decoy', variant, 1.0, None, distance,
        organism_spec.enhancer_motif, enhancer_tracks, ()))
    names['D'] += 1
  return sorted(elements, key=lambda e: e.start)
