"""196,608-bp records from 131,072-bp ones: the Basenji2 regions extended
by flanks from the genome (`extend_records`, `enformer-extend-records`).

The paper trained its 196,608-bp model on the Basenji2 regions extended by
32,768 bp on each side from the genome FASTA (REFERENCE.md section 4): the
targets stay those of the central 114,688 bp (896 bins of 128 bp), only the
input sequence grows. This reads a Basenji2 directory (`sequences.bed`,
`statistics.json`, `targets.txt`, `tfrecords/`) and writes a new one:

  sequence     FASTA `[start - extend_bp, end + extend_bp)` of each
               sequences.bed region (`N` beyond chromosome ends)
  target       the record's, unchanged
  statistics   `seq_length + 2 * extend_bp`, `crop_bp + extend_bp` (so
               `target_length` stays), the rest as they were
  sequences.bed  the extended coordinates, same splits and order
  targets.txt  copied

Each record is checked: the FASTA's central `seq_length` bases must equal
the record's sequence exactly (every non-ACGT base reads as N on both
sides); a mismatch is an error naming the record and the first differing
base, because it means the FASTA is not the genome the records were made
from (hg38 for the published human data, mm10 for mouse). The output
directory appears only when complete (`atomic.atomic_directory`).
"""
import collections
import json
import os
import shutil
from typing import Dict, Iterator, List, Set, Tuple

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from enformer_tf import atomic
from enformer_tf.constants import SPLITS
from enformer_tf.data import basenji
from enformer_tf.data import encoding
from enformer_tf.data import genome

DEFAULT_EXTEND_BP = (196_608 - 131_072) // 2  # 32,768
_BASE_LETTERS = 'ACGTN'


def _regions_by_split(data_dir: str, seq_length: int
                      ) -> Dict[str, List[genome.BedRecord]]:
  """sequences.bed's regions per split, in record order, checked."""
  path = os.path.join(data_dir, 'sequences.bed')
  by_split = collections.defaultdict(list)
  for record in genome.read_bed_records(path):
    split = record.extra[0] if record.extra else None
    where = f'{path} line {record.line}'
    if split not in SPLITS:
      raise ValueError(f'{where}: column 4 must name the split, one of '
                       f'{list(SPLITS)}, got {split!r}.')
    if record.end - record.start != seq_length:
      raise ValueError(f'{where}: the region is {record.end - record.start:,}'
                       f' bp; statistics.json says seq_length={seq_length:,}.')
    by_split[split].append(record)
  return by_split


def _records(data_dir: str, split: str) -> Iterator[Tuple[np.ndarray,
                                                          np.ndarray]]:
  """(base indices [L], target float32 [T, N]) of a split, in file order."""
  dataset = basenji.load_dataset(data_dir, split, num_parallel_reads=None)
  for example in dataset.as_numpy_iterator():
    yield (encoding.one_hot_to_indices(example['sequence']),  # [L]
           example['target'])  # [T, N]


def _check_center(indices: np.ndarray, fasta_center: str, where: str,
                  record: genome.BedRecord, fasta_file: str) -> None:
  expected = encoding.sequence_to_indices(fasta_center)  # [L]
  differs = np.flatnonzero(expected != indices)
  if differs.size:
    i = int(differs[0])
    raise ValueError(
        f'{where} ({record.chrom}:{record.start}-{record.end}): base {i} '
        f'({record.chrom}:{record.start + i}, 0-based) is '
        f'{_BASE_LETTERS[indices[i]]} in the record but '
        f'{fasta_center[i]!r} in FASTA {fasta_file!r} ({differs.size:,} '
        'bases differ); is the FASTA the genome the records were made from?')


def extend_records(data_dir: str, fasta: str, out_dir: str, *,
                   extend_bp: int = DEFAULT_EXTEND_BP,
                   seqs_per_file: int = 256, overwrite: bool = False,
                   progress: bool = False) -> Dict:
  """Writes `data_dir`'s records with `extend_bp` more bp on each side.

  Args:
    data_dir: a Basenji2 data directory (one organism).
    fasta: the genome the records were made from.
    out_dir: the directory to create.
    extend_bp: bp added on each side (default 32,768: 131,072 -> 196,608).
    seqs_per_file: records per TFRecord file written.
    overwrite: replace an existing `out_dir`.
    progress: show a progress bar (tqdm, on stderr).

  Returns:
    The new statistics.

  Raises:
    FileNotFoundError: a missing input.
    FileExistsError: `out_dir` exists and `overwrite` is False.
    ValueError: bad arguments, a malformed sequences.bed, a count of
      regions that differs from the records', or a record whose sequence
      differs from the FASTA (naming the record and the first differing
      base).
  """
  if int(extend_bp) != extend_bp or extend_bp < 0:
    raise ValueError(f'extend_bp must be an integer >= 0, got '
                     f'{extend_bp!r}.')
  extend_bp = int(extend_bp)
  out_dir = os.path.abspath(os.fspath(out_dir))
  if os.path.abspath(os.fspath(data_dir)) == out_dir:
    raise ValueError('out_dir must differ from data_dir.')
  if os.path.lexists(out_dir) and not overwrite and (
      not os.path.isdir(out_dir) or os.listdir(out_dir)):
    raise FileExistsError(f'Output directory {out_dir!r} already exists; '
                          'pass --overwrite (overwrite=True) to replace it.')
  statistics = basenji.read_statistics(data_dir)
  seq_length = statistics['seq_length']
  by_split = _regions_by_split(data_dir, seq_length)
  for split in SPLITS:
    if len(by_split[split]) != statistics[f'{split}_seqs']:
      raise ValueError(
          f'{data_dir}: sequences.bed has {len(by_split[split])} {split} '
          f'regions, statistics.json {statistics[f"{split}_seqs"]} '
          f'{split}_seqs.')
  new_statistics = dict(statistics, seq_length=seq_length + 2 * extend_bp,
                        crop_bp=statistics['crop_bp'] + extend_bp)
  total = sum(len(v) for v in by_split.values())
  with genome.FastaExtractor(fasta) as extractor, atomic.atomic_directory(
      out_dir) as work, tqdm(total=total, disable=not progress,
                             unit='record', desc='enformer-extend-records'
                             ) as bar, open(os.path.join(
                                 work, 'sequences.bed'), 'w',
                                            encoding='utf-8') as bed_out:
    for split in SPLITS:
      regions = by_split[split]
      if not regions:
        continue

      def examples(split=split, regions=regions):
        records = _records(data_dir, split)
        for number, region in enumerate(regions):
          where = f'{split} record {number} (sequences.bed line {region.line})'
          try:
            indices, target = next(records)
          except StopIteration:
            raise ValueError(f'{data_dir}: {split} has {number} records, '
                             f'sequences.bed {len(regions)} regions.') from None
          extractor.check_chromosome(region.chrom, f'{where}: ')
          sequence = extractor.extract(region.chrom,
                                       region.start - extend_bp,
                                       region.end + extend_bp)
          _check_center(indices, sequence[extend_bp:extend_bp + seq_length],
                        where, region, extractor.fasta_file)
          bed_out.write('\t'.join(
              (region.chrom, str(region.start - extend_bp),
               str(region.end + extend_bp)) + region.extra) + '\n')
          bar.update(1)
          yield sequence, target
        if next(records, None) is not None:
          raise ValueError(f'{data_dir}: {split} has more records than '
                           f'sequences.bed\'s {len(regions)} regions.')

      basenji.write_tfrecords(work, split, examples(),
                              seqs_per_file=seqs_per_file,
                              seq_1hot=statistics['seq_1hot'])
    shutil.copyfile(os.path.join(data_dir, 'targets.txt'),
                    os.path.join(work, 'targets.txt'))
    if not statistics.get('seq_1hot') and 'seq_1hot' not in _raw_keys(
        data_dir):
      new_statistics.pop('seq_1hot')  # Keep the original's keys.
    basenji.write_statistics(work, **new_statistics)
  return new_statistics


def _raw_keys(data_dir: str) -> Set[str]:
  """The keys statistics.json holds as written (read_statistics adds
  `seq_1hot`)."""
  with tf.io.gfile.GFile(os.path.join(data_dir, basenji.STATISTICS_FILE),
                         'rb') as f:
    return set(json.loads(f.read().decode('utf-8')))


__all__ = ['DEFAULT_EXTEND_BP', 'extend_records']
