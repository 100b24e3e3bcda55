"""The files of one organism besides the ground truth: the FASTA (with its
index), the bigWig tracks and targets.txt.
"""
from typing import Sequence, Tuple

import numpy as np
import pyBigWig
import pyfaidx

from enformer_tf.data.synthetic.spec import TrackSpec

FASTA_LINE_WIDTH = 60
TARGET_COLUMNS = ('index', 'identifier', 'file', 'clip', 'scale', 'sum_stat',
                  'description')


def write_fasta(path: str,
                chromosomes: Sequence[Tuple[str, np.ndarray]]) -> None:
  """A FASTA of `(name, uint8 ASCII sequence)` and its `.fai` index."""
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


def write_bigwig(path: str, chromosomes: Sequence[Tuple[str, np.ndarray]],
                 values_per_chrom: Sequence[np.ndarray], step: int) -> None:
  """A bigWig of per-`step` values (the last step of a chromosome shorter)."""
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


def write_targets(path: str, tracks: Sequence[TrackSpec],
                  bigwig_paths: Sequence[str]) -> None:
  """targets.txt: one row per track, `file` the bigWig's (final) path."""
  with open(path, 'w', encoding='ascii') as f:
    f.write('\t'.join(TARGET_COLUMNS) + '\n')
    for i, (track, bigwig) in enumerate(zip(tracks, bigwig_paths)):
      f.write(f'{i}\t{track.name}\t{bigwig}\t{track.clip:g}\t'
              f'{track.scale:g}\t{track.sum_stat}\t{track.description}\n')
