"""Statistics of a variant's effect: reference vs alternative predictions.

Bin-level statistics compare the predicted profiles `ref` and `alt`
(`[..., bins, tracks]`, after any shift and strand averaging) per track,
over the `B` output bins `b` of the window; `l(x) = log2(1 + x)`:

    SAD   = (1/B) sum_b (alt_b - ref_b)
    SAR   = (1/B) sum_b (l(alt_b) - l(ref_b))
    D1    = sum_b |alt_b - ref_b|                    (L1 distance)
    D2    = sqrt(sum_b (alt_b - ref_b)^2)            (L2 distance)
    logD1 = sum_b |l(alt_b) - l(ref_b)|
    logD2 = sqrt(sum_b (l(alt_b) - l(ref_b))^2)
    MAX   = max_b |alt_b - ref_b|                    (maximum absolute
                                                      difference)
    JS    = JSD(p, q), p = ref / sum_b ref, q = alt / sum_b alt
    logJS = JSD(p, q) of l(ref) and l(alt) normalised the same way

with the Jensen-Shannon divergence in bits (so 0 <= JS <= 1)

    JSD(p, q) = 1/2 sum_b p_b log2(p_b / m_b) + 1/2 sum_b q_b log2(q_b / m_b),
    m = (p + q) / 2, 0 log 0 = 0.

For JS, negative predictions are clipped to 0 and a profile summing to 0 is
taken as uniform (1/B per bin). SAD and SAR are those `enformer-score-
variants` has always written (`variant_effects.sad_sar`). calico/
baskerville's `snps.py` names the same family; its `JS` is the symmetrised
Kullback-Leibler divergence (KL(p||q) + KL(q||p)) / 2, not the JSD above.

Gene-level statistics (`variant_genes`) sum each profile over the bins
holding a gene's TSSs, `s = sum_{b in G} x_b`:

    SED    = s_alt - s_ref
    logSED = log2(1 + s_alt) - log2(1 + s_ref)
"""
from typing import Dict, Sequence, Tuple

import numpy as np

BIN_STATS = ('SAD', 'SAR', 'D1', 'D2', 'logD1', 'logD2', 'MAX', 'JS', 'logJS')
GENE_STATS = ('SED', 'logSED')
DEFAULT_STATS = ('SAD', 'SAR')
DEFINITIONS = {
    'SAD': 'SAD = mean over bins of alt - ref',
    'SAR': 'SAR = mean over bins of log2(1 + alt) - log2(1 + ref)',
    'D1': 'D1 = sum over bins of |alt - ref|',
    'D2': 'D2 = sqrt(sum over bins of (alt - ref)^2)',
    'logD1': 'logD1 = sum over bins of |log2(1 + alt) - log2(1 + ref)|',
    'logD2': 'logD2 = sqrt(sum over bins of (log2(1 + alt) - '
             'log2(1 + ref))^2)',
    'MAX': 'MAX = max over bins of |alt - ref|',
    'JS': 'JS = Jensen-Shannon divergence (bits) of ref / sum(ref) and '
          'alt / sum(alt) over bins',
    'logJS': 'logJS = JS of log2(1 + ref) and log2(1 + alt)',
    'SED': 'SED = sum at the gene\'s TSS bins of alt - sum of ref',
    'logSED': 'logSED = log2(1 + sum at TSS bins of alt) - '
              'log2(1 + sum of ref)',
}


def parse_stats(text_or_names) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
  """`'SAD,logD2,logSED'` -> `(('SAD', 'logD2'), ('logSED',))`.

  Names are matched case-insensitively and returned in their canonical
  spelling, bin-level and gene-level apart, in the order given.

  Raises:
    ValueError: an unknown or repeated name, or none at all.
  """
  if isinstance(text_or_names, str):
    names = [n.strip() for n in text_or_names.split(',') if n.strip()]
  else:
    names = [str(n).strip() for n in text_or_names]
  canonical = {n.lower(): n for n in BIN_STATS + GENE_STATS}
  known = ', '.join(BIN_STATS + GENE_STATS)
  if not names:
    raise ValueError(f'--stats is empty; expected some of {known}.')
  chosen = []
  for name in names:
    if name.lower() not in canonical:
      raise ValueError(f'--stats: unknown statistic {name!r}; expected some '
                       f'of {known}.')
    if canonical[name.lower()] in chosen:
      raise ValueError(f'--stats names {canonical[name.lower()]} twice.')
    chosen.append(canonical[name.lower()])
  return (tuple(n for n in chosen if n in BIN_STATS),
          tuple(n for n in chosen if n in GENE_STATS))


def _log2p(x: np.ndarray) -> np.ndarray:
  return np.log1p(x) / np.log(2.0)


def _normalised(x: np.ndarray) -> np.ndarray:
  """Profiles `[..., bins, tracks]` divided by their sums over bins."""
  x = np.clip(x, 0.0, None)
  total = x.sum(axis=-2, keepdims=True)  # [..., 1, tracks]
  uniform = np.full_like(x, 1.0 / x.shape[-2])
  return np.where(total > 0, x / np.where(total > 0, total, 1.0), uniform)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
  """JSD in bits of distributions over axis -2: `[..., bins, T]` -> `[..., T]`.
  """
  m = (p + q) / 2

  def kl(a):  # sum a log2(a / m), 0 log 0 = 0 (m > 0 wherever a > 0).
    ratio = np.where(a > 0, a / np.where(m > 0, m, 1.0), 1.0)
    return np.sum(a * np.log2(ratio), axis=-2)

  return np.clip((kl(p) + kl(q)) / 2, 0.0, 1.0)  # Rounding may cross 0.


def _check(ref, alt) -> Tuple[np.ndarray, np.ndarray]:
  ref = np.asarray(ref, np.float64)
  alt = np.asarray(alt, np.float64)
  if ref.shape != alt.shape or ref.ndim < 2:
    raise ValueError(f'ref and alt predictions must have one shape [..., '
                     f'bins, tracks]; got {ref.shape} and {alt.shape}.')
  return ref, alt


def bin_stats(ref, alt, stats: Sequence[str] = DEFAULT_STATS
              ) -> Dict[str, np.ndarray]:
  """Bin-level statistics (module doc) of predictions `[..., bins, tracks]`.

  Returns:
    `{name: float32 [..., tracks]}` in the order of `stats`; computed in
    float64.

  Raises:
    ValueError: an unknown statistic or mismatched shapes.
  """
  ref, alt = _check(ref, alt)
  unknown = [s for s in stats if s not in BIN_STATS]
  if unknown:
    raise ValueError(f'Unknown bin statistics {unknown}; expected some of '
                     f'{", ".join(BIN_STATS)}.')
  diff = alt - ref  # [..., bins, tracks]
  log_diff = _log2p(alt) - _log2p(ref) if any(
      s in ('SAR', 'logD1', 'logD2') for s in stats) else None
  out = {}
  for name in stats:
    if name == 'SAD':
      value = diff.mean(axis=-2)
    elif name == 'SAR':
      value = log_diff.mean(axis=-2)
    elif name == 'D1':
      value = np.abs(diff).sum(axis=-2)
    elif name == 'D2':
      value = np.sqrt(np.square(diff).sum(axis=-2))
    elif name == 'logD1':
      value = np.abs(log_diff).sum(axis=-2)
    elif name == 'logD2':
      value = np.sqrt(np.square(log_diff).sum(axis=-2))
    elif name == 'MAX':
      value = np.abs(diff).max(axis=-2)
    elif name == 'JS':
      value = jensen_shannon(_normalised(ref), _normalised(alt))
    else:  # logJS
      value = jensen_shannon(_normalised(_log2p(np.clip(ref, 0, None))),
                             _normalised(_log2p(np.clip(alt, 0, None))))
    out[name] = value.astype(np.float32)
  return out


def gene_stats(ref_sum, alt_sum, stats: Sequence[str] = GENE_STATS
               ) -> Dict[str, np.ndarray]:
  """SED and logSED from profiles summed at a gene's TSS bins (`[..., T]`).
  """
  ref_sum = np.asarray(ref_sum, np.float64)
  alt_sum = np.asarray(alt_sum, np.float64)
  out = {}
  for name in stats:
    if name == 'SED':
      out[name] = (alt_sum - ref_sum).astype(np.float32)
    elif name == 'logSED':
      out[name] = (_log2p(alt_sum) - _log2p(ref_sum)).astype(np.float32)
    else:
      raise ValueError(f'Unknown gene statistic {name!r}; expected '
                       f'{" or ".join(GENE_STATS)}.')
  return out


def definition(stats: Sequence[str]) -> str:
  """The formulas of `stats`, `'; '`-joined (an HDF5 attribute)."""
  return '; '.join(DEFINITIONS[s] for s in stats)
