"""What the synthetic genome is made of: the motifs, the track kinds and
`SyntheticGenomeSpec`, every number that determines the data, with its
checks (see the package docstring for what they mean).
"""
import dataclasses
import math
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

PROMOTER_MOTIFS = {
    'strong': 'CGTATAAAAGGCAC',
    'medium': 'CGTATATAAGGCAC',
    'weak': 'CGTAAATAAGGCAC',
}
HUMAN_ENHANCER_MOTIF = 'ATGACTCAGGAAGT'
MOUSE_ENHANCER_MOTIF = 'TCACGTGGCCAATC'
TRACK_KINDS = ('cage', 'cage_distal', 'dnase', 'h3k27ac', 'gc')
ELEMENT_KINDS = ('promoter', 'enhancer', 'decoy')
N_MARGIN = 1000  # Elements stay this far from N runs and chromosome ends.


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
class HomologySpec:
  """Syntenic segments of `source` copied into `copy` (see homology.py).

  Args:
    source: the organism whose sequence is copied (the alignment's target).
    copy: the organism that receives the copies (the alignment's query).
    coverage: about this fraction of the copy's chromosomes is covered.
    segment_length: `(min, max)` bp of a syntenic segment of the source.
    piece_length: `(min, max)` bp of a gapless aligned piece of a segment.
    gap_length: `(min, max)` bp of an indel between pieces.
    substitution_rate: chance that a copied base is substituted.
    inversion_probability: chance that a segment is copied inverted
      (reverse complemented).
  """
  source: str = 'human'
  copy: str = 'mouse'
  coverage: float = 0.5
  segment_length: Tuple[int, int] = (50_000, 250_000)
  piece_length: Tuple[int, int] = (500, 5_000)
  gap_length: Tuple[int, int] = (1, 200)
  substitution_rate: float = 0.05
  inversion_probability: float = 0.3

  def __post_init__(self):
    for field in ('segment_length', 'piece_length', 'gap_length'):
      object.__setattr__(self, field, tuple(getattr(self, field)))


@dataclasses.dataclass(frozen=True)
class SyntheticGenomeSpec:
  """Everything that determines the synthetic genome (see the package doc).

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
    homology: `HomologySpec` to make one organism share syntenic segments
      with another and write their alignment (chain, net, truth table);
      `None` (default) makes the organisms independent.
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
  homology: Optional[HomologySpec] = None

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
  min_size = 2 * spec.telomere_n + 4 * N_MARGIN
  _check(spec.chrom_sizes and all(
      int(s) == s and s >= min_size for s in spec.chrom_sizes),
         f'chrom_sizes must be a non-empty list of integers >= {min_size} '
         f'(2 * telomere_n + {4 * N_MARGIN}), got {spec.chrom_sizes!r}.')
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
  if spec.homology is not None:
    _validate_homology(spec)
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


def _validate_homology(spec: SyntheticGenomeSpec):
  homology = spec.homology
  _check(isinstance(homology, HomologySpec),
         f'homology must be a HomologySpec or None, got {homology!r}.')
  _check(homology.source in spec.organisms and
         homology.copy in spec.organisms and homology.source != homology.copy,
         f'homology.source and homology.copy must be two organisms of the '
         f'spec ({sorted(spec.organisms)}), got {homology.source!r} and '
         f'{homology.copy!r}.')
  _check(0 < homology.coverage < 1,
         f'homology.coverage must be in (0, 1), got {homology.coverage!r}.')
  for field in ('segment_length', 'piece_length', 'gap_length'):
    value = getattr(homology, field)
    _check(len(value) == 2 and all(int(v) == v for v in value) and
           1 <= value[0] <= value[1],
           f'homology.{field} must be (min, max) integers with 1 <= min <= '
           f'max, got {value!r}.')
  _check(homology.piece_length[1] <= homology.segment_length[0],
         'homology.piece_length must be at most homology.segment_length, '
         f'got {homology.piece_length!r} and {homology.segment_length!r}.')
  _check(homology.segment_length[1] <= min(spec.chrom_sizes) -
         2 * spec.telomere_n - 2 * N_MARGIN,
         f'homology.segment_length {homology.segment_length!r} must fit in '
         'the shortest chromosome (less telomeres and margins).')
  for field in ('substitution_rate', 'inversion_probability'):
    value = getattr(homology, field)
    _check(0 <= value <= 1, f'homology.{field} must be in [0, 1], got '
           f'{value!r}.')
