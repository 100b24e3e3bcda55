"""`make_synthetic_genome`: the generator, organism by organism, chromosome
by chromosome (sequence -> layout -> elements planted -> tracks), written
into a temporary directory that replaces `out_dir` only when complete.
"""
import dataclasses
import json
import os
import warnings
import zlib
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from enformer_tf import atomic
from enformer_tf.data.synthetic import elements as elements_lib
from enformer_tf.data.synthetic import genes as genes_lib
from enformer_tf.data.synthetic import homology as homology_lib
from enformer_tf.data.synthetic import layout as layout_lib
from enformer_tf.data.synthetic import pairs as pairs_lib
from enformer_tf.data.synthetic import sequence as sequence_lib
from enformer_tf.data.synthetic import tracks as tracks_lib
from enformer_tf.data.synthetic import writers
from enformer_tf.data.synthetic.spec import (PROMOTER_MOTIFS,
                                             SyntheticGenomeSpec)


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
    organism -> dict with `dir`, `fasta`, `targets`, `elements`, `genes`,
    `crispri_pairs` (absolute paths), `tracks` (bigWig paths in targets.txt
    order), `track_names` and `chrom_sizes`; with `spec.homology`, the copy
    organism's dict also has `homology`: paths of the `chain`, `net` and
    `truth` files (written beside spec.json, see homology.py).

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
  motifs = list(PROMOTER_MOTIFS.values()) + sorted(
      {o.enhancer_motif for o in spec.organisms.values()})
  homology = spec.homology
  plan, source = None, None
  if homology is not None and homology.copy in organisms:
    # The copy needs the source's sequence, whether or not it is written.
    source = _build_organism(homology.source, spec, motifs)
    plan = homology_lib.HomologyPlan(spec, source.chromosomes,
                                     homology_lib.homology_rng(spec.seed))
  with atomic.atomic_directory(final) as work:
    paths = {}
    for organism in organisms:
      if source is not None and organism == homology.source:
        built = source
      else:
        built = _build_organism(
            organism, spec, motifs,
            plan if plan is not None and organism == homology.copy else None)
      paths[organism] = _write_organism(
          os.path.join(work, organism), os.path.join(final, organism),
          organism, spec, built)
    if plan is not None:
      files = homology_lib.write_homology(work, plan,
                                          paths[homology.copy]['chrom_sizes'])
      paths[homology.copy]['homology'] = {
          kind: os.path.join(final, name) for kind, name in files.items()}
    recorded = dataclasses.asdict(spec)
    if recorded['homology'] is None:
      del recorded['homology']  # spec.json as before the option existed.
    with open(os.path.join(work, 'spec.json'), 'w', encoding='utf-8') as f:
      json.dump(dict(recorded, organisms_written=organisms),
                f, indent=2, sort_keys=True)
      f.write('\n')
  return paths


class _Organism(NamedTuple):
  """One organism built in memory: sequences, elements, the noise stream."""
  chromosomes: List[Tuple[str, np.ndarray]]
  elements: List[elements_lib.Element]
  noise_rng: np.random.Generator


def _build_organism(organism: str, spec: SyntheticGenomeSpec,
                    motifs: Sequence[str],
                    homology_plan: Optional[homology_lib.HomologyPlan] = None
                    ) -> _Organism:
  """Sequences and elements of one organism, chromosome by chromosome.

  With `homology_plan` (the copy organism of `spec.homology`), each
  chromosome's background receives its syntenic segments before the
  elements are laid out.
  """
  streams = np.random.SeedSequence(
      [spec.seed, zlib.crc32(organism.encode('utf-8'))]).spawn(3)
  seq_rng, layout_rng, noise_rng = (np.random.default_rng(s) for s in streams)
  chromosomes, elements = [], []
  names = {'P': 0, 'D': 0}
  target_promoters = 0.0
  for chrom, size in zip(spec.chrom_names, spec.chrom_sizes):
    seq = sequence_lib.background(seq_rng, int(size), spec)
    if homology_plan is not None:
      homology_plan.copy_into(chrom, seq)
    layout = layout_lib.Layout(layout_rng, seq, spec)
    non_n_mb = np.count_nonzero(seq != ord('N')) / 1e6
    layout.place(int(round(spec.promoters_per_mb * non_n_mb)),
                 int(round(spec.far_decoys_per_mb * non_n_mb)))
    target_promoters += spec.promoters_per_mb * non_n_mb
    chrom_elements = layout_lib.chromosome_elements(
        layout, chrom, organism, spec, names)
    sequence_lib.plant_and_scrub(seq_rng, seq, chrom_elements, motifs)
    chromosomes.append((chrom, seq))
    elements.extend(chrom_elements)
  if target_promoters >= 10 and names['P'] < 0.8 * target_promoters:
    warnings.warn(
        f'{organism}: placed {names["P"]} of {target_promoters:.0f} promoters; '
        f'promoters_per_mb={spec.promoters_per_mb} is too dense for '
        f'enhancer_distance={spec.enhancer_distance} under the pairing rules.',
        stacklevel=3)
  return _Organism(chromosomes, elements, noise_rng)


def _write_organism(work_dir: str, final_dir: str, organism: str,
                    spec: SyntheticGenomeSpec, built: _Organism) -> Dict:
  """Writes one organism under `work_dir`; returns paths under `final_dir`.

  A new per-organism output (a file derived from `elements` or the
  sequences) is written here, beside elements.bed, by a module of its own,
  and its path added to the returned dict.
  """
  os.makedirs(os.path.join(work_dir, 'tracks'))
  chromosomes, elements, noise_rng = built
  writers.write_fasta(os.path.join(work_dir, 'genome.fa'), chromosomes)
  elements_lib.write_elements(os.path.join(work_dir, 'elements.bed'), elements)
  genes_lib.write_genes(os.path.join(work_dir, 'genes.gtf'), elements,
                        {chrom: len(seq) for chrom, seq in chromosomes},
                        genes_lib.genes_rng(spec.seed, organism))
  pairs_lib.write_pairs(os.path.join(work_dir, pairs_lib.FILE_NAME), elements,
                        spec.distal_base)
  tracks = spec.organisms[organism].tracks
  by_chrom = {chrom: [e for e in elements if e.chrom == chrom]
              for chrom, _ in chromosomes}
  final_bigwigs = []
  for track in tracks:
    values = [tracks_lib.track_values(track, by_chrom[chrom], seq, spec,
                                      noise_rng)
              for chrom, seq in chromosomes]
    relative = os.path.join('tracks', f'{track.name}.bw')
    writers.write_bigwig(os.path.join(work_dir, relative), chromosomes,
                         values, spec.track_step)
    final_bigwigs.append(os.path.join(final_dir, relative))
  writers.write_targets(os.path.join(work_dir, 'targets.txt'), tracks,
                        final_bigwigs)
  return {
      'dir': final_dir,
      'fasta': os.path.join(final_dir, 'genome.fa'),
      'targets': os.path.join(final_dir, 'targets.txt'),
      'elements': os.path.join(final_dir, 'elements.bed'),
      'genes': os.path.join(final_dir, 'genes.gtf'),
      'crispri_pairs': os.path.join(final_dir, pairs_lib.FILE_NAME),
      'tracks': final_bigwigs,
      'track_names': [t.name for t in tracks],
      'chrom_sizes': {chrom: len(seq) for chrom, seq in chromosomes},
  }
