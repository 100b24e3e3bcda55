"""bigWig coverage: reading the bigWigs of a targets.txt and binning per-base
coverage into training targets the way calico does (`bin_coverage`).

`make_data` builds TFRecords from these; `genomics` reads bigWigs the same
way to plot measured tracks beside predictions.
"""
import logging
import os
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import pyBigWig

from enformer_tf.data import genome
from enformer_tf.data import targets as targets_lib

SUM_STATS = ('sum', 'mean', 'avg', 'max', 'sum_sqrt', 'mean_sqrt',
             'avg_sqrt')
_FLOAT16_MAX = float(np.finfo(np.float16).max)
_BIGWIG_MAGIC = 0x888FFC26  # First 4 bytes, in the file's byte order.

_log = logging.getLogger(__name__)


def bin_coverage(coverage: np.ndarray, pool_width: int, sum_stat: str = 'sum',
                 scale: float = 1.0, clip: Optional[float] = None,
                 clip_soft: Optional[float] = None) -> np.ndarray:
  """Per-base coverage -> one track's binned targets, as calico computes them.

  In order (baskerville `hound_data_read.py` default transform, which is
  also basenji's `basenji_data_read.py`):

  1. missing values (NaN, bigWig gaps) are 0;
  2. `x = scale * coverage`, per base;
  3. each `pool_width` bin is reduced by `sum_stat`: `sum`; `mean` (or
     `avg`); `max`; `sum_sqrt` / `mean_sqrt` (or `avg_sqrt`) are the sum /
     mean followed by `-1 + sqrt(1 + x)`;
  4. soft clip: where `x > clip_soft`, `x = clip_soft - 1 + sqrt(x -
     clip_soft + 1)` (continuous at the threshold, slope 1/2 there);
  5. hard clip: `x = clip(x, -clip, clip)`;
  6. clip to float16's finite range (the TFRecords store float16).

  Differences from calico, both deliberate: calico rounds per-base coverage
  to float16 before summing, here it is summed in float64; and calico
  finally clips each track at its 99.99999th percentile over the whole data
  set, which needs all regions at once and is not done here. calico fills
  NaN with the region's median, but `np.percentile` of an array holding a
  NaN is NaN, which it then turns into 0, so NaN becomes 0 there as well.

  Args:
    coverage: per-base values `[W]`, `W` a multiple of `pool_width`.
    pool_width: bases per bin.
    sum_stat: the bin statistic, one of `SUM_STATS`.
    scale: per-base multiplier.
    clip: hard clip (`None` = none).
    clip_soft: soft clip threshold (`None` = none).

  Returns:
    float32 `[W // pool_width]`.
  """
  coverage = np.asarray(coverage, dtype=np.float64)
  if coverage.ndim != 1 or coverage.shape[0] % pool_width:
    raise ValueError(f'bin_coverage expects a 1-D array whose length is a '
                     f'multiple of pool_width={pool_width}, got shape '
                     f'{coverage.shape}.')
  x = scale * np.nan_to_num(coverage, nan=0.0, posinf=0.0, neginf=0.0)
  x = x.reshape(-1, pool_width)  # [bins, pool_width]
  if sum_stat in ('sum', 'sum_sqrt'):
    x = x.sum(axis=1)
  elif sum_stat in ('mean', 'avg', 'mean_sqrt', 'avg_sqrt'):
    x = x.mean(axis=1)
  elif sum_stat == 'max':
    x = x.max(axis=1)
  else:
    raise ValueError(f'sum_stat must be one of {list(SUM_STATS)}, got '
                     f'{sum_stat!r}.')
  if sum_stat.endswith('_sqrt'):
    x = -1 + np.sqrt(1 + x)
  if clip_soft is not None:
    over = x > clip_soft
    x[over] = clip_soft - 1 + np.sqrt(x[over] - clip_soft + 1)
  if clip is not None:
    x = np.clip(x, -clip, clip)
  return np.clip(x, -_FLOAT16_MAX, _FLOAT16_MAX).astype(np.float32)


def is_bigwig_file(path: str) -> bool:
  """Whether `path` starts with the bigWig magic number (not opening it).

  libBigWig (pyBigWig) prints errors of its own to stderr when it opens a
  file that is not a bigWig; asking this first keeps them out of sight.
  """
  with open(path, 'rb') as f:
    head = f.read(4)
  return len(head) == 4 and _BIGWIG_MAGIC in (
      int.from_bytes(head, 'little'), int.from_bytes(head, 'big'))


def open_bigwig(path: str, where: str):
  """An open pyBigWig reader of `path`; `where` names it in the message.

  Raises:
    ValueError: `path` is not a readable bigWig file.
  """
  bigwig = None
  # Checked first: libBigWig prints to stderr on a file that is no bigWig.
  if is_bigwig_file(path):
    try:
      bigwig = pyBigWig.open(path)
    except RuntimeError:
      pass
  if bigwig is None or not bigwig.isBigWig():
    raise ValueError(f'{where} is not a readable bigWig file.')
  return bigwig


class BigWigTracks:
  """The bigWigs of targets.txt (each file opened once), missing data = NaN.

  Each distinct file is opened once however many targets name it; `read`
  returns one per-base array per target, in targets.txt order. Close it
  (`close`) when done.
  """

  def __init__(self, targets: Sequence[targets_lib.Target],
               targets_file: str):
    self.targets = targets
    self._bigwigs = {}  # path -> open bigWig.
    self._warned = set()
    try:
      for target in targets:
        path = target.path
        if path in self._bigwigs:
          continue
        where = (f'{targets_file}: target {target.identifier!r}: bigWig '
                 f'{target.file!r}')
        if not os.path.isfile(path):
          raise FileNotFoundError(f'{where} not found (looked for {path!r}).')
        self._bigwigs[path] = open_bigwig(path, where)
    except BaseException:
      self.close()
      raise

  def check_chromosomes(self, chromosome_sizes: Dict[str, int],
                        used_chroms: Iterable[str]) -> None:
    """Raises if a bigWig names or sizes chromosomes unlike the FASTA."""
    used_chroms = list(dict.fromkeys(used_chroms))
    for path, bigwig in self._bigwigs.items():
      sizes = bigwig.chroms()
      for chrom in used_chroms:
        alternative = genome.alternative_chromosome_name(chrom)
        if chrom not in sizes and alternative in sizes:
          raise ValueError(
              f'bigWig {path!r} names chromosomes differently from the '
              f'FASTA: it has {alternative!r} where the FASTA has '
              f'{chrom!r}. Rename the chromosomes of one of them.')
        if chrom in sizes and sizes[chrom] != chromosome_sizes[chrom]:
          raise ValueError(
              f'bigWig {path!r} has {chrom} of {sizes[chrom]:,} bp but the '
              f'FASTA has {chromosome_sizes[chrom]:,} bp; are they the same '
              'genome assembly?')
      if not set(sizes) & set(chromosome_sizes):
        shown = ', '.join(repr(c) for c in list(sizes)[:5])
        raise ValueError(f'bigWig {path!r} shares no chromosome name with '
                         f'the FASTA (it has {shown}).')

  def read(self, chrom: str, start: int, end: int) -> List[np.ndarray]:
    """Per-base values `[end - start]` of each target; NaN = no data."""
    by_path = {path: self._read(path, bigwig, chrom, start, end)
               for path, bigwig in self._bigwigs.items()}
    return [by_path[target.path] for target in self.targets]

  def binned(self, chrom: str, start: int, end: int,
             pool_width: int) -> np.ndarray:
    """Targets `[bins, targets]` of `[start, end)`, binned as training
    targets are (`bin_coverage` with each target's `sum_stat`, `scale`,
    `clip_soft` and `clip`); `end - start` must be a multiple of
    `pool_width`."""
    coverage = self.read(chrom, start, end)
    return np.stack([
        bin_coverage(values, pool_width, t.sum_stat, t.scale, t.clip,
                     t.clip_soft)
        for values, t in zip(coverage, self.targets)], axis=-1)  # [N, T]

  def _read(self, path, bigwig, chrom, start, end) -> np.ndarray:
    coverage = np.full(end - start, np.nan, dtype=np.float32)
    size = bigwig.chroms(chrom)
    if size is None:
      if (path, chrom) not in self._warned:
        self._warned.add((path, chrom))
        _log.warning('bigWig %s has no %s; its targets there are 0.', path,
                     chrom)
      return coverage
    left, right = max(start, 0), min(end, size)
    if left < right:
      coverage[left - start:right - start] = bigwig.values(
          chrom, left, right, numpy=True)
    return coverage

  def close(self) -> None:
    for bigwig in self._bigwigs.values():
      bigwig.close()
    self._bigwigs = {}
