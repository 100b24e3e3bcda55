"""The signal tracks: per-step values of each track kind over one
chromosome, from its sequence and elements (`track_values`).
"""
from typing import Sequence

import numpy as np

from enformer_tf.data.synthetic.elements import Element
from enformer_tf.data.synthetic.spec import SyntheticGenomeSpec, TrackSpec

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


def track_values(track: TrackSpec, elements: Sequence[Element],
                 seq: np.ndarray, spec: SyntheticGenomeSpec,
                 rng: np.random.Generator) -> np.ndarray:
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
