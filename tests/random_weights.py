"""Random weights for test models.

Zero-initialised layers (the attention output projection) and unit BatchNorm
statistics would hide wiring bugs, so tests that compare numbers give every
weight a random value; moving variances stay positive.
"""
import numpy as np


def randomise_weights(model, seed: int = 0, scale: float = 0.1) -> None:
  rng = np.random.RandomState(seed)
  for v in model.weights:
    if 'moving_variance' in v.name:
      v.assign(rng.uniform(0.5, 1.5, v.shape).astype('float32'))
    else:
      v.assign((rng.randn(*v.shape) * scale).astype('float32'))
