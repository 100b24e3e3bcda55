"""A synthetic two-organism genome with a planted long-range regulatory grammar.

The project's embedded default dataset: `make_synthetic_genome` (CLI
`enformer-synthetic`) writes, deterministically from a seed, per organism

  {out_dir}/{organism}/genome.fa, genome.fa.fai   chromosomes chr1..chrK
  {out_dir}/{organism}/tracks/{track}.bw          one bigWig per track
  {out_dir}/{organism}/targets.txt                Basenji track table
  {out_dir}/{organism}/elements.bed               ground truth (BED6+)
  {out_dir}/spec.json                             the generating spec

`targets.txt` is tab-separated with the header `index identifier file clip
scale sum_stat description`; `file` is the ABSOLUTE path of the bigWig (the
directory is written next to its final place and renamed into it, so the paths
are valid once it exists; regenerate rather than move it).

Sequence. Random DNA whose GC fraction changes from segment to segment
(`gc_range`, "isochores" ~100 kb long), `N` runs at both chromosome ends and a
few internal gaps (`telomere_n`, `n_gaps_per_mb`). Exact copies of the motifs
below occur ONLY where an element is planted: chance occurrences (either
strand, of every motif of every organism) are mutated away, so the grammar is
exact.

Elements (motif centre = `start + len // 2`, i.e. `start + 7` for these
14-bp motifs; distances are between centres):
  promoter  one of three TATA-like variants (strong / medium / weak, 14 bp),
            either orientation; `promoters_per_mb` of them.
  enhancer  the organism's enhancer motif (AP-1+ETS-like in human,
            E-box+CCAAT-like in mouse) paired with one promoter, at a distance
            in `enhancer_distance` (default 10-40 kb), either side.
  decoy     the same enhancer motif paired with nothing: `near` decoys closer
            to a promoter than the range (`near_decoy_probability` per
            promoter), `far` decoys farther than the range from every promoter
            (`far_decoys_per_mb`).
The densities are targets: an element that cannot be placed under the rules
below is left out, so `elements.bed` is the truth. At the default distances
about 30 promoters per Mb saturate the rules (a warning says so); the default
20 per Mb are all placed, with ~0.12 near decoys per promoter.

The distal rule, exactly true in the written data: a promoter is ACTIVE iff an
enhancer motif lies at a distance within `enhancer_distance` of it. The
placement makes this unambiguous: with `distance_margin` M, no enhancer motif
lies within [dmin - M, dmax + M] of any promoter except its own partner, so
promoters never share enhancers, unpaired promoters have no enhancer motif in
range and the boundaries are not knife-edge. About `paired_probability` (1/2)
of the promoters are paired, chosen independently of their variant, strand and
local sequence. Therefore the distal tracks cannot be predicted from local
sequence: a promoter motif and its few hundred flanking bp look the same
whether or not the promoter is active, and the nearest enhancer-like motif
(a near decoy) may be a few kb away and still not count. The enhancer is
10-40 kb (80-310 bins) away, far beyond a conv tower's receptive field
(~650 bp for Enformer's), so only attention (or a model spanning the window)
can use it. A window shows a promoter's partner only if it holds both:
windows longer than 2 * dmax centred on promoters always do; tiled windows
do not near their edges (crop those bins, as Enformer's `crop_bp` does). On
the default genome a per-128-bp-bin predictor that knows every promoter and
its variant but not its enhancer reaches Pearson R ~0.74 on `cage_distal`;
one that also knows the pairing reaches ~0.998: the gap a long-range model
can close.

Tracks (per-base signal stored at `track_step`-bp resolution; Gaussian peaks
at motif centres, multiplicative log-normal noise `noise_sd` plus an
exponential background of mean `background` per bp; zero over `N`s):
  cage          every promoter, height 5 * strength(variant), sigma 120 bp
  cage_distal   every promoter, height 5 * strength * (distal_base +
                (1 - distal_base) * active): the DISTAL EFFECT
  dnase         every promoter (2.0) and every enhancer motif incl. decoys
                (3.0), sigma 200 bp: local
  h3k27ac       broad, sigma 600 bp: promoters 1.2 * strength, enhancer
                motifs 1.0: local
  gc            10 x the GC fraction of the surrounding 1,001 bp (`mean`
                sum_stat): broad, local, sequence composition
  human (4 tracks): cage_promoter (cage), cage_distal, dnase, gc;
    promoter strengths strong 1.0, medium 0.6, weak 0.3.
  mouse (3 tracks): cage_distal, dnase, h3k27ac, with its own enhancer motif
    and strengths strong 0.8, medium 1.0, weak 0.45, so the mouse head is a
    different task that also needs the distal rule.
Peak 128-bp bin sums are at most ~700 (`sum` tracks), within `clip` 1024.

Ground truth `elements.bed` (header line starts with `#`, read it with
`read_elements`): chrom, start, end (0-based, half-open motif), name
(P*/E*/D*; enhancer `E12` pairs with promoter `P12`), score (1000 *
strength), strand, kind, variant (promoter variant, `paired`, or decoy
`near`/`far`), strength, partner (`.` if none), distance (signed offset from
this element's centre to its partner's, or for decoys to the nearest
promoter's; `.` for unpaired promoters), motif (the planted sequence as read
on the + strand), local_tracks (tracks with a peak at the element) and
target_tracks (tracks an enhancer raises at its partner promoter).
"""
import argparse
import dataclasses
import json
import math
import os
import shutil
import sys
import time
import uuid
import warnings
import zlib
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import pyBigWig
import pyfaidx

from enformer_tf import atomic
from enformer_tf.data import encoding

PROMOTER_MOTIFS = {
    'strong': 'CGTATAAAAGGCAC',
    'medium': 'CGTATATAAGGCAC',
    'weak': 'CGTAAATAAGGCAC',
}
HUMAN_ENHANCER_MOTIF = 'ATGACTCAGGAAGT'
MOUSE_ENHANCER_MOTIF = 'TCACGTGGCCAATC'
TRACK_KINDS = ('cage', 'cage_distal', 'dnase', 'h3k27ac', 'gc')
ELEMENT_KINDS = ('promoter', 'enhancer', 'decoy')
# kind -> (sigma bp, promoter height per bp, enhancer-motif height per bp).
_PEAKS = {
    'cage': (120.0, 5.0, 0.0),
    'cage_distal': (120.0, 5.0, 0.0),
    'dnase': (200.0, 2.0, 3.0),
    'h3k27ac': (600.0, 1.2, 1.0),
}
# Kinds whose promoter peak height is multiplied by the variant's strength.
_STRENGTH_SCALED = ('cage', 'cage_distal', 'h3k27ac')
GC_WINDOW = 1001
GC_SCALE = 10.0
FASTA_LINE_WIDTH = 60
_N_MARGIN = 1000  # Elements stay this far from N runs and chromosome ends.
_ELEMENT_COLUMNS = ('chrom', 'start', 'end', 'name', 'score', 'strand', 'kind',
                    'variant', 'strength', 'partner', 'distance', 'motif',
                    'local_tracks', 'target_tracks')
_TARGET_COLUMNS = ('index', 'identifier', 'file', 'clip', 'scale', 'sum_stat',
                   'description')


# -- Specification ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TrackSpec:
  """One output track: `name` (identifier and file stem) of a `kind`."""
  name: str
  kind: str
  description: str
  sum_stat: str = 'sum'
  clip: float = 1024.0
  scale: float = 1.0


@dataclasses.dataclass(frozen=True)
class OrganismSpec:
  """What differs between organisms: enhancer motif, strengths, tracks."""
  enhancer_motif: str
  promoter_strengths: Mapping[str, float]
  tracks: Tuple[TrackSpec, ...]


def _default_organisms() -> Dict[str, OrganismSpec]:
  return {
      'human': OrganismSpec(
          enhancer_motif=HUMAN_ENHANCER_MOTIF,
          promoter_strengths={'strong': 1.0, 'medium': 0.6, 'weak': 0.3},
          tracks=(
              TrackSpec('cage_promoter', 'cage', 'CAGE:promoter motif'),
              TrackSpec('cage_distal', 'cage_distal',
                        'CAGE:promoter x distal enhancer'),
              TrackSpec('dnase', 'dnase', 'DNASE:promoters and enhancers'),
              TrackSpec('gc', 'gc', 'GC:1 kb GC content', sum_stat='mean',
                        clip=64.0))),
      'mouse': OrganismSpec(
          enhancer_motif=MOUSE_ENHANCER_MOTIF,
          promoter_strengths={'strong': 0.8, 'medium': 1.0, 'weak': 0.45},
          tracks=(
              TrackSpec('cage_distal', 'cage_distal',
                        'CAGE:promoter x distal enhancer'),
              TrackSpec('dnase', 'dnase', 'DNASE:promoters and enhancers'),
              TrackSpec('h3k27ac', 'h3k27ac',
                        'CHIP:H3K27ac promoters and enhancers'))),
  }


@dataclasses.dataclass(frozen=True)
class SyntheticGenomeSpec:
  """Everything that determines the synthetic genome (see the module doc).

  Args:
    seed: non-negative integer; equal specs give byte-identical FASTAs.
    chrom_sizes: bp per chromosome, named chr1..chrK (shared by organisms).
    promoters_per_mb: promoter density over non-N sequence.
    enhancer_distance: `(dmin, dmax)`, the range of promoter-enhancer
      distances (bp, between motif centres) that activates a promoter.
    paired_probability: fraction of promoters with an enhancer.
    distance_margin: no enhancer motif lies within this many bp outside the
      range of any promoter (near decoys stay below `dmin - margin`).
    near_decoy_probability: per promoter, chance of an unpaired enhancer motif
      closer than the range.
    far_decoys_per_mb: unpaired enhancer motifs out of every promoter's range.
    min_element_spacing: minimum distance between any two element centres.
    gc_range: range of the segment-wise background GC fraction.
    gc_segment_mean: mean length of a constant-GC segment.
    telomere_n: `N` run at each chromosome end.
    n_gaps_per_mb: internal `N` gaps per Mb (rounded per chromosome).
    n_gap_length: `(min, max)` length of an internal gap.
    track_step: resolution of the bigWig values (bp per stored value).
    noise_sd: sigma of the multiplicative log-normal noise on peaks.
    background: mean per-bp exponential background of peak tracks.
    distal_base: `cage_distal` of an inactive promoter relative to an active
      one.
    organisms: organism name -> `OrganismSpec`.
  """
  seed: int = 0
  chrom_sizes: Tuple[int, ...] = (1_500_000, 1_000_000, 500_000)
  promoters_per_mb: float = 20.0
  enhancer_distance: Tuple[int, int] = (10_000, 40_000)
  paired_probability: float = 0.5
  distance_margin: int = 2_000
  near_decoy_probability: float = 0.25
  far_decoys_per_mb: float = 10.0
  min_element_spacing: int = 3_000
  gc_range: Tuple[float, float] = (0.35, 0.55)
  gc_segment_mean: int = 100_000
  telomere_n: int = 10_000
  n_gaps_per_mb: float = 1.0
  n_gap_length: Tuple[int, int] = (1_000, 5_000)
  track_step: int = 16
  noise_sd: float = 0.1
  background: float = 0.02
  distal_base: float = 0.05
  organisms: Mapping[str, OrganismSpec] = dataclasses.field(
      default_factory=_default_organisms)

  def __post_init__(self):
    for field in ('chrom_sizes', 'enhancer_distance', 'gc_range',
                  'n_gap_length'):
      object.__setattr__(self, field, tuple(getattr(self, field)))
    _validate_spec(self)

  @property
  def chrom_names(self) -> Tuple[str, ...]:
    return tuple(f'chr{i + 1}' for i in range(len(self.chrom_sizes)))


def chrom_sizes_from_total(genome_size: int,
                           num_chromosomes: int = 3) -> Tuple[int, ...]:
  """Splits `genome_size` bp into chromosomes sized K : K-1 : ... : 1."""
  if int(num_chromosomes) != num_chromosomes or num_chromosomes < 1:
    raise ValueError('num_chromosomes must be a positive integer, got '
                     f'{num_chromosomes!r}.')
  weights = np.arange(num_chromosomes, 0, -1, dtype=np.float64)
  sizes = np.floor(genome_size * weights / weights.sum()).astype(int)
  sizes[0] += int(genome_size) - sizes.sum()
  return tuple(int(s) for s in sizes)


def _check(condition, message):
  if not condition:
    raise ValueError(message)


def _validate_spec(spec: SyntheticGenomeSpec):
  """Argument checks with messages that name the field and the value."""
  _check(isinstance(spec.seed, (int, np.integer)) and spec.seed >= 0,
         f'seed must be a non-negative integer, got {spec.seed!r}.')
  min_size = 2 * spec.telomere_n + 4 * _N_MARGIN
  _check(spec.chrom_sizes and all(
      int(s) == s and s >= min_size for s in spec.chrom_sizes),
         f'chrom_sizes must be a non-empty list of integers >= {min_size} '
         f'(2 * telomere_n + {4 * _N_MARGIN}), got {spec.chrom_sizes!r}.')
  for field in ('promoters_per_mb', 'far_decoys_per_mb', 'n_gaps_per_mb',
                'noise_sd', 'background'):
    value = getattr(spec, field)
    # math.isfinite: an infinite density would overflow int() later on.
    _check(math.isfinite(value) and value >= 0,
           f'{field} must be a finite number >= 0, got {value!r}.')
  for field in ('paired_probability', 'near_decoy_probability'):
    value = getattr(spec, field)
    _check(0 <= value <= 1, f'{field} must be in [0, 1], got {value!r}.')
  _check(0 <= spec.distal_base < 1,
         f'distal_base must be in [0, 1), got {spec.distal_base!r}.')
  dmin, dmax = spec.enhancer_distance if len(
      spec.enhancer_distance) == 2 else (0, -1)
  _check(0 <= spec.distance_margin < dmin <= dmax,
         'enhancer_distance must be (dmin, dmax) with distance_margin < dmin '
         f'<= dmax, got enhancer_distance={spec.enhancer_distance!r}, '
         f'distance_margin={spec.distance_margin!r}.')
  _check(100 <= spec.min_element_spacing <= dmin,
         'min_element_spacing must be at least 100 bp (room for the peaks) '
         f'and at most dmin={dmin}, got {spec.min_element_spacing!r}.')
  lo, hi = spec.gc_range if len(spec.gc_range) == 2 else (0, -1)
  _check(0 < lo <= hi < 1,
         f'gc_range must be (lo, hi) with 0 < lo <= hi < 1, got '
         f'{spec.gc_range!r}.')
  _check(spec.gc_segment_mean >= 1,
         f'gc_segment_mean must be >= 1, got {spec.gc_segment_mean!r}.')
  _check(spec.telomere_n >= 0,
         f'telomere_n must be >= 0, got {spec.telomere_n!r}.')
  gap_lo, gap_hi = spec.n_gap_length if len(spec.n_gap_length) == 2 else (0, -1)
  _check(1 <= gap_lo <= gap_hi,
         f'n_gap_length must be (min, max) with 1 <= min <= max, got '
         f'{spec.n_gap_length!r}.')
  _check(int(spec.track_step) == spec.track_step and spec.track_step >= 1,
         f'track_step must be a positive integer, got {spec.track_step!r}.')
  _check(spec.organisms, 'organisms must name at least one organism.')
  for name, organism in spec.organisms.items():
    _check(isinstance(name, str) and name.isidentifier(),
           f'organism names must be identifiers, got {name!r}.')
    motif = organism.enhancer_motif
    _check(isinstance(motif, str) and 6 <= len(motif) <= 30 and
           set(motif) <= set('ACGT'),
           f'organisms[{name!r}].enhancer_motif must be 6-30 letters of ACGT, '
           f'got {motif!r}.')
    _check(set(organism.promoter_strengths) == set(PROMOTER_MOTIFS) and all(
        s > 0 for s in organism.promoter_strengths.values()),
           f'organisms[{name!r}].promoter_strengths must give a positive '
           f'strength to each of {sorted(PROMOTER_MOTIFS)}, got '
           f'{dict(organism.promoter_strengths)!r}.')
    track_names = [t.name for t in organism.tracks]
    _check(track_names and len(set(track_names)) == len(track_names),
           f'organisms[{name!r}].tracks must be non-empty with unique names, '
           f'got {track_names!r}.')
    for track in organism.tracks:
      _check(track.name.replace('-', '_').isidentifier(),
             f'track names must be identifiers (they name files), got '
             f'{track.name!r}.')
      _check(track.kind in TRACK_KINDS,
             f'track {track.name!r} has kind {track.kind!r}; expected one of '
             f'{TRACK_KINDS}.')
      _check(track.sum_stat in ('sum', 'mean'),
             f"track {track.name!r} has sum_stat {track.sum_stat!r}; expected "
             "'sum' or 'mean'.")


# -- Ground truth -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Element:
  """One planted motif; see the module docstring for the fields."""
  chrom: str
  start: int
  end: int
  name: str
  kind: str
  strand: str
  variant: str
  strength: float
  partner: Optional[str]
  distance: Optional[int]
  motif: str
  local_tracks: Tuple[str, ...]
  target_tracks: Tuple[str, ...]

  @property
  def center(self) -> int:
    return self.start + (self.end - self.start) // 2


def read_elements(path: str) -> List[Element]:
  """Reads an `elements.bed` written by `make_synthetic_genome`."""
  def _opt(value, cast):
    return None if value == '.' else cast(value)

  def _tracks(value):
    return () if value == '.' else tuple(value.split(','))

  elements = []
  with open(path, encoding='ascii') as f:
    for line in f:
      if line.startswith('#') or not line.strip():
        continue
      row = dict(zip(_ELEMENT_COLUMNS, line.rstrip('\n').split('\t')))
      elements.append(Element(
          chrom=row['chrom'], start=int(row['start']), end=int(row['end']),
          name=row['name'], kind=row['kind'], strand=row['strand'],
          variant=row['variant'], strength=float(row['strength']),
          partner=_opt(row['partner'], str),
          distance=_opt(row['distance'], int), motif=row['motif'],
          local_tracks=_tracks(row['local_tracks']),
          target_tracks=_tracks(row['target_tracks'])))
  return elements


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


# -- Generation ---------------------------------------------------------------


def _background(rng, length, spec):
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
    if inner > gap + 2 * _N_MARGIN:
      start = spec.telomere_n + int(rng.integers(0, inner - gap))
      seq[start:start + gap] = ord('N')
  return seq


class _Layout:
  """Element centres on one chromosome, placed under the grammar's rules.

  `promoters` holds `[center, variant, enhancer center or None]` sorted by
  centre, `decoys` holds `[center, 'near' | 'far']`.
  """

  def __init__(self, rng, seq, spec):
    self.rng = rng
    self.spec = spec
    n_count = np.concatenate([[0], np.cumsum(seq == ord('N'))])
    pos = np.arange(_N_MARGIN, len(seq) - _N_MARGIN)
    clear = n_count[pos + _N_MARGIN + 1] == n_count[pos - _N_MARGIN]
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


def _chromosome_elements(layout, chrom, organism, spec, names):
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


def _plant_and_scrub(rng, seq, elements, motifs):
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


def _track_values(track, elements, seq, spec, rng):
  """Per-step values (`[ceil(L / track_step)]` float32) of one track."""
  step = spec.track_step
  length = len(seq)
  num_steps = -(-length // step)
  centers = (np.arange(num_steps) + 0.5) * step  # [S]
  is_n = np.ones(num_steps * step, dtype=bool)
  is_n[:length] = seq == ord('N')
  any_n = is_n.reshape(num_steps, step).any(axis=1)  # [S]
  if track.kind == 'gc':
    gc = np.concatenate([[0], np.cumsum((seq == ord('G')) | (seq == ord('C')))])
    acgt = np.concatenate([[0], np.cumsum(~is_n[:length])])
    mid = np.minimum(centers.astype(np.int64), length - 1)
    lo = np.clip(mid - GC_WINDOW // 2, 0, length)
    hi = np.clip(mid + GC_WINDOW // 2 + 1, 0, length)
    values = GC_SCALE * (gc[hi] - gc[lo]) / np.maximum(acgt[hi] - acgt[lo], 1)
  else:
    sigma, promoter_height, enhancer_height = _PEAKS[track.kind]
    values = np.zeros(num_steps)
    for element in elements:
      if element.kind == 'promoter':
        height = promoter_height
        if track.kind in _STRENGTH_SCALED:
          height *= element.strength
        if track.kind == 'cage_distal' and element.partner is None:
          height *= spec.distal_base
      else:
        height = enhancer_height
      if height:
        lo = max(int((element.center - 4 * sigma) // step), 0)
        hi = min(int((element.center + 4 * sigma) // step) + 1, num_steps)
        values[lo:hi] += height * np.exp(
            -0.5 * ((centers[lo:hi] - element.center) / sigma)**2)
    values *= np.exp(spec.noise_sd * rng.standard_normal(num_steps) -
                     spec.noise_sd**2 / 2)
    values += rng.exponential(spec.background, num_steps)
  values[any_n] = 0.0
  return values.astype(np.float32)


# -- Writers ------------------------------------------------------------------


def _write_fasta(path, chromosomes):
  with open(path, 'wb') as f:
    for name, seq in chromosomes:
      f.write(b'>' + name.encode('ascii') + b'\n')
      rows = len(seq) // FASTA_LINE_WIDTH
      body = seq[:rows * FASTA_LINE_WIDTH].reshape(rows, FASTA_LINE_WIDTH)
      newline = np.full((rows, 1), ord('\n'), dtype=np.uint8)
      f.write(np.concatenate([body, newline], axis=1).tobytes())
      if len(seq) % FASTA_LINE_WIDTH:
        f.write(seq[rows * FASTA_LINE_WIDTH:].tobytes() + b'\n')
  pyfaidx.Faidx(path).close()  # Writes `path.fai`.


def _write_elements(path, elements):
  def _field(value):
    if value is None or value == ():
      return '.'
    if isinstance(value, tuple):
      return ','.join(value)
    if isinstance(value, float):
      return f'{value:g}'
    return str(value)

  with open(path, 'w', encoding='ascii') as f:
    f.write('#' + '\t'.join(_ELEMENT_COLUMNS) + '\n')
    for e in elements:
      row = (e.chrom, e.start, e.end, e.name, int(round(1000 * e.strength))
             if e.kind == 'promoter' else 0, e.strand, e.kind, e.variant,
             e.strength, e.partner, e.distance, e.motif, e.local_tracks,
             e.target_tracks)
      f.write('\t'.join(_field(v) for v in row) + '\n')


def _write_bigwig(path, chromosomes, values_per_chrom, step):
  bw = pyBigWig.open(path, 'w')
  try:
    bw.addHeader([(name, len(seq)) for name, seq in chromosomes])
    for (name, seq), values in zip(chromosomes, values_per_chrom):
      full = len(seq) // step
      if full:
        bw.addEntries(name, 0, values=values[:full].astype(np.float64),
                      span=step, step=step)
      rest = len(seq) - full * step
      if rest:
        bw.addEntries(name, full * step,
                      values=values[full:].astype(np.float64), span=rest,
                      step=rest)
  finally:
    bw.close()


def _write_targets(path, tracks, bigwig_paths):
  with open(path, 'w', encoding='ascii') as f:
    f.write('\t'.join(_TARGET_COLUMNS) + '\n')
    for i, (track, bigwig) in enumerate(zip(tracks, bigwig_paths)):
      f.write(f'{i}\t{track.name}\t{bigwig}\t{track.clip:g}\t'
              f'{track.scale:g}\t{track.sum_stat}\t{track.description}\n')


def _write_organism(work_dir, final_dir, organism, spec, motifs):
  """Writes one organism under `work_dir`; returns paths under `final_dir`."""
  os.makedirs(os.path.join(work_dir, 'tracks'))
  streams = np.random.SeedSequence(
      [spec.seed, zlib.crc32(organism.encode('utf-8'))]).spawn(3)
  seq_rng, layout_rng, noise_rng = (np.random.default_rng(s) for s in streams)
  chromosomes, elements = [], []
  names = {'P': 0, 'D': 0}
  target_promoters = 0.0
  for chrom, size in zip(spec.chrom_names, spec.chrom_sizes):
    seq = _background(seq_rng, int(size), spec)
    layout = _Layout(layout_rng, seq, spec)
    non_n_mb = np.count_nonzero(seq != ord('N')) / 1e6
    layout.place(int(round(spec.promoters_per_mb * non_n_mb)),
                 int(round(spec.far_decoys_per_mb * non_n_mb)))
    target_promoters += spec.promoters_per_mb * non_n_mb
    chrom_elements = _chromosome_elements(layout, chrom, organism, spec, names)
    _plant_and_scrub(seq_rng, seq, chrom_elements, motifs)
    chromosomes.append((chrom, seq))
    elements.extend(chrom_elements)
  if target_promoters >= 10 and names['P'] < 0.8 * target_promoters:
    warnings.warn(
        f'{organism}: placed {names["P"]} of {target_promoters:.0f} promoters; '
        f'promoters_per_mb={spec.promoters_per_mb} is too dense for '
        f'enhancer_distance={spec.enhancer_distance} under the pairing rules.',
        stacklevel=3)

  _write_fasta(os.path.join(work_dir, 'genome.fa'), chromosomes)
  _write_elements(os.path.join(work_dir, 'elements.bed'), elements)
  tracks = spec.organisms[organism].tracks
  by_chrom = {chrom: [e for e in elements if e.chrom == chrom]
              for chrom, _ in chromosomes}
  final_bigwigs = []
  for track in tracks:
    values = [_track_values(track, by_chrom[chrom], seq, spec, noise_rng)
              for chrom, seq in chromosomes]
    relative = os.path.join('tracks', f'{track.name}.bw')
    _write_bigwig(os.path.join(work_dir, relative), chromosomes, values,
                  spec.track_step)
    final_bigwigs.append(os.path.join(final_dir, relative))
  _write_targets(os.path.join(work_dir, 'targets.txt'), tracks, final_bigwigs)
  return {
      'dir': final_dir,
      'fasta': os.path.join(final_dir, 'genome.fa'),
      'targets': os.path.join(final_dir, 'targets.txt'),
      'elements': os.path.join(final_dir, 'elements.bed'),
      'tracks': final_bigwigs,
      'track_names': [t.name for t in tracks],
      'chrom_sizes': {chrom: len(seq) for chrom, seq in chromosomes},
  }


# -- Public API ---------------------------------------------------------------


def make_synthetic_genome(out_dir: str,
                          spec: Optional[SyntheticGenomeSpec] = None,
                          organisms: Sequence[str] = ('human', 'mouse'),
                          overwrite: bool = False) -> Dict[str, Dict]:
  """Writes the synthetic genome of each organism under `out_dir`.

  Everything is written into a temporary sibling directory that is renamed to
  `out_dir` at the end, so `out_dir` is either complete or untouched.

  Args:
    out_dir: output directory; must not exist or be empty unless `overwrite`.
    spec: `SyntheticGenomeSpec`; `None` is the default spec.
    organisms: names from `spec.organisms` to write. Each organism's data
      depends only on the spec and its name, not on the others requested.
    overwrite: replace a non-empty `out_dir`.

  Returns:
    organism -> dict with `dir`, `fasta`, `targets`, `elements` (absolute
    paths), `tracks` (bigWig paths in targets.txt order), `track_names` and
    `chrom_sizes`.

  Raises:
    ValueError: for unknown or repeated organisms.
    FileExistsError: if `out_dir` is a file, or non-empty without
      `overwrite`.
  """
  spec = SyntheticGenomeSpec() if spec is None else spec
  if isinstance(organisms, str):
    organisms = (organisms,)
  organisms = tuple(organisms)
  if not organisms or len(set(organisms)) != len(organisms):
    raise ValueError(f'organisms must be distinct names, at least one, got '
                     f'{organisms!r}.')
  unknown = [o for o in organisms if o not in spec.organisms]
  if unknown:
    raise ValueError(f'organisms {unknown!r} are not in the spec; expected '
                     f'names from {sorted(spec.organisms)}.')
  final = os.path.abspath(out_dir)
  if os.path.lexists(final):
    if not os.path.isdir(final):
      raise FileExistsError(f'out_dir {out_dir!r} exists and is not a '
                            'directory.')
    if os.listdir(final) and not overwrite:
      raise FileExistsError(f'out_dir {out_dir!r} exists and is not empty; '
                            'pass overwrite=True (--overwrite) to replace it.')
  parent, base = os.path.split(final)
  os.makedirs(parent, exist_ok=True)
  # os.mkdir (unlike tempfile.mkdtemp) honours the umask.
  work = os.path.join(parent, f'.{base}.tmp-{uuid.uuid4().hex[:12]}')
  os.mkdir(work)
  motifs = list(PROMOTER_MOTIFS.values()) + sorted(
      {o.enhancer_motif for o in spec.organisms.values()})
  try:
    paths = {}
    for organism in organisms:
      paths[organism] = _write_organism(
          os.path.join(work, organism), os.path.join(final, organism),
          organism, spec, motifs)
    with open(os.path.join(work, 'spec.json'), 'w', encoding='utf-8') as f:
      json.dump(dict(dataclasses.asdict(spec), organisms_written=organisms),
                f, indent=2, sort_keys=True)
      f.write('\n')
    atomic.swap_into_place(work, final)
  except BaseException:
    shutil.rmtree(work, ignore_errors=True)
    raise
  return paths


# -- Command line -------------------------------------------------------------


class _UsageError(Exception):
  pass


class _ArgumentParser(argparse.ArgumentParser):

  def error(self, message):
    raise _UsageError(message)


def _int_pair(text):
  try:
    values = tuple(int(v) for v in text.split(','))
  except ValueError:
    values = ()
  if len(values) != 2:
    raise argparse.ArgumentTypeError(f'expected two integers "MIN,MAX", got '
                                     f'{text!r}')
  return values


def _int_list(text):
  try:
    return tuple(int(v) for v in text.split(','))
  except ValueError:
    raise argparse.ArgumentTypeError(
        f'expected comma-separated integers, got {text!r}') from None


def _parser():
  defaults = SyntheticGenomeSpec()
  parser = _ArgumentParser(
      prog='enformer-synthetic',
      description='Write the synthetic two-organism genome: FASTA, bigWig '
      'tracks, Basenji targets.txt and the planted elements (ground truth).')
  parser.add_argument('--out_dir', required=True,
                      help='output directory (must not exist or be empty)')
  parser.add_argument('--seed', type=int, default=0)
  size = parser.add_mutually_exclusive_group()
  size.add_argument('--chrom_sizes', type=_int_list,
                    help='bp per chromosome (default '
                    f'{",".join(map(str, defaults.chrom_sizes))})')
  size.add_argument('--genome_size_mb', type=float,
                    help='total Mb per organism, split K:K-1:..:1 over '
                    '--num_chromosomes')
  parser.add_argument('--num_chromosomes', type=int, default=3)
  parser.add_argument('--organisms', default='human,mouse',
                      help='comma-separated (default human,mouse)')
  parser.add_argument('--promoters_per_mb', type=float,
                      help=f'default {defaults.promoters_per_mb:g}')
  parser.add_argument('--enhancer_distance', type=_int_pair,
                      help='MIN,MAX promoter-enhancer distance in bp '
                      f'(default {defaults.enhancer_distance[0]},'
                      f'{defaults.enhancer_distance[1]})')
  parser.add_argument('--distance_margin', type=int,
                      help='bp around the range kept free of other enhancer '
                      f'motifs (default {defaults.distance_margin})')
  parser.add_argument('--min_element_spacing', type=int,
                      help=f'default {defaults.min_element_spacing}')
  parser.add_argument('--paired_probability', type=float,
                      help=f'default {defaults.paired_probability:g}')
  parser.add_argument('--near_decoy_probability', type=float,
                      help=f'default {defaults.near_decoy_probability:g}')
  parser.add_argument('--far_decoys_per_mb', type=float,
                      help=f'default {defaults.far_decoys_per_mb:g}')
  parser.add_argument('--track_step', type=int,
                      help=f'bp per bigWig value (default '
                      f'{defaults.track_step})')
  parser.add_argument('--overwrite', action='store_true',
                      help='replace a non-empty --out_dir')
  return parser


def _summary(paths):
  parts = []
  for organism, info in paths.items():
    elements = read_elements(info['elements'])
    promoters = [e for e in elements if e.kind == 'promoter']
    paired = sum(e.partner is not None for e in promoters)
    decoys = sum(e.kind == 'decoy' for e in elements)
    parts.append(f'{organism} {len(info["tracks"])} tracks, '
                 f'{len(promoters)} promoters ({paired} with enhancer), '
                 f'{decoys} decoys')
  return '; '.join(parts)


def main(argv: Optional[Sequence[str]] = None) -> int:
  """`enformer-synthetic`: writes the dataset, prints a one-line summary."""
  started = time.time()
  try:
    args = _parser().parse_args(argv)
    overrides = {k: getattr(args, k) for k in (
        'promoters_per_mb', 'enhancer_distance', 'distance_margin',
        'min_element_spacing', 'paired_probability', 'near_decoy_probability',
        'far_decoys_per_mb', 'track_step')
                 if getattr(args, k) is not None}
    if args.chrom_sizes is not None:
      overrides['chrom_sizes'] = args.chrom_sizes
    elif args.genome_size_mb is not None:
      if not (math.isfinite(args.genome_size_mb) and
              args.genome_size_mb > 0):
        raise ValueError('--genome_size_mb must be a positive number, got '
                         f'{args.genome_size_mb}.')
      overrides['chrom_sizes'] = chrom_sizes_from_total(
          int(round(args.genome_size_mb * 1e6)), args.num_chromosomes)
    spec = SyntheticGenomeSpec(seed=args.seed, **overrides)
    organisms = tuple(o for o in args.organisms.split(',') if o)
    with warnings.catch_warnings(record=True) as caught:
      warnings.simplefilter('always')
      paths = make_synthetic_genome(args.out_dir, spec, organisms,
                                    overwrite=args.overwrite)
  except (_UsageError, ValueError, OSError) as e:
    message = ' '.join(str(e).split()) or type(e).__name__
    print(f'enformer-synthetic: error: {message}', file=sys.stderr)
    return 2 if isinstance(e, _UsageError) else 1
  for warning in caught:
    print(f'enformer-synthetic: warning: {warning.message}', file=sys.stderr)
  print(f'enformer-synthetic: wrote {os.path.abspath(args.out_dir)} (seed '
        f'{spec.seed}, {len(spec.chrom_sizes)} chromosomes, '
        f'{sum(spec.chrom_sizes) / 1e6:.2f} Mb per organism): '
        f'{_summary(paths)} in {time.time() - started:.1f} s')
  return 0


if __name__ == '__main__':
  sys.exit(main())
