"""The committed long-range model and its regenerated synthetic genome.

`tests/assets/long_range/transformer.keras` learnt the synthetic distal rule
(`provenance.json`: how it was trained and what it reached). Its genome is
not committed: the generator is deterministic, so `prepare(work_dir)`
writes it again from the recorded spec (human only, about 7 s) and checks
its sha256 against the one recorded beside the model: a generator change
that moves the genome fails here by name, not as a weaker test result.
"""
import hashlib
import json
import os
from typing import NamedTuple

ASSETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'assets',
                      'long_range')
MODEL = os.path.join(ASSETS, 'transformer.keras')
PROVENANCE = os.path.join(ASSETS, 'provenance.json')


class LongRange(NamedTuple):
  model_path: str
  organism_dir: str  # genome.fa, genes.gtf, elements.bed, targets.txt, ...
  held_out: str  # the chromosome the model never saw in training.
  provenance: dict


def prepare(work_dir: str) -> LongRange:
  """The model's path and its genome under `work_dir` (written once)."""
  from enformer_tf.data import synthetic
  with open(PROVENANCE, encoding='utf-8') as f:
    provenance = json.load(f)
  spec = dict(provenance['genome_spec'])
  for key in ('chrom_sizes', 'enhancer_distance'):
    spec[key] = tuple(spec[key])
  organism_dir = os.path.join(work_dir, 'human')
  if not os.path.exists(os.path.join(work_dir, 'spec.json')):
    synthetic.make_synthetic_genome(
        work_dir, synthetic.SyntheticGenomeSpec(**spec), ('human',),
        overwrite=True)
  for relative, expected in provenance['sha256'].items():
    with open(os.path.join(work_dir, relative), 'rb') as f:
      got = hashlib.sha256(f.read()).hexdigest()
    if got != expected:
      raise AssertionError(
          f'The regenerated synthetic genome differs from the one the '
          f'long-range model was trained on ({relative}: sha256 {got}, '
          f'expected {expected}): the generator changed; retrain the model '
          f'({provenance["command"]}) and update {PROVENANCE}.')
  return LongRange(MODEL, organism_dir, provenance['held_out_chromosome'],
                   provenance)
