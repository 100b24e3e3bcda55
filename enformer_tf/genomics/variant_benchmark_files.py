"""The variant benchmarks from files (the work of
`enformer-variant-benchmark`).

  classify_from_files('scores.tsv', 'labels.tsv', stats=['SAD'],
                      groups={'cage': ['cage_promoter', 'cage_distal']})
  lasso_from_files('scores.h5', 'effects.tsv', stats=['SAD', 'logD2'])

Scores are those of `enformer-score-variants` (its TSV, or its HDF5 file);
labels and effects a TSV with a header holding `chrom`, `pos`, `ref`, `alt`
(as in the VCF) and the value column (`label`: 0/1, or `effect`: a number).
Variants are matched on `(chrom, pos, ref, alt)`; a labelled variant
without scores is an error, scored variants without a label are left out.
"""
import os
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from enformer_tf.genomics import variant_benchmarks

Key = Tuple[str, int, str, str]


def read_scores(path: str, stats: Sequence[str]
                ) -> Tuple[List[Key], np.ndarray, List[str]]:
  """`(keys, features [N, F], feature names)` of the chosen statistics.

  Feature names are `<STAT>_<track>` as in the TSV's columns.

  Raises:
    FileNotFoundError: no file. ValueError: a statistic it does not have.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f'--scores {path} not found.')
  if path.endswith(('.h5', '.hdf5')):
    import h5py
    with h5py.File(path, 'r') as f:
      text = lambda d: [v.decode() if isinstance(v, bytes) else str(v)
                        for v in f[d][:]]
      tracks = text('track_names')
      keys = list(zip(text('chrom'), f['pos'][:].tolist(), text('ref'),
                      text('alt')))
      blocks, names = [], []
      for stat in stats:
        if stat.lower() not in f:
          raise ValueError(f'--scores {path} has no {stat} scores.')
        blocks.append(np.asarray(f[stat.lower()][:], np.float64))
        names += [f'{stat}_{t}' for t in tracks]
    return keys, np.concatenate(blocks, axis=1), names
  with open(path, encoding='utf-8') as f:
    header = f.readline().rstrip('\n').split('\t')
    rows = [line.rstrip('\n').split('\t') for line in f if line.strip()]
  if header[:6] != ['chrom', 'pos', 'id', 'ref', 'alt', 'vcf_line']:
    raise ValueError(f'--scores {path} is not a TSV of enformer-score-'
                     'variants (chrom pos id ref alt vcf_line ...).')
  columns = [i for i, name in enumerate(header)
             if any(name.startswith(f'{stat}_') for stat in stats)]
  for stat in stats:
    if not any(header[i].startswith(f'{stat}_') for i in columns):
      raise ValueError(f'--scores {path} has no {stat}_<track> columns.')
  keys = [(r[0], int(r[1]), r[3], r[4]) for r in rows]
  features = np.array([[float(r[i]) for i in columns] for r in rows],
                      np.float64).reshape(len(rows), len(columns))
  return keys, features, [header[i] for i in columns]


def read_values(path: str, column: str) -> Dict[Key, float]:
  """`{(chrom, pos, ref, alt): value}` of a labels/effects TSV.

  Raises:
    FileNotFoundError, ValueError: no file, missing columns, a value that
      is not a number, a variant listed twice.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{path} not found.')
  with open(path, encoding='utf-8') as f:
    header = f.readline().rstrip('\n').split('\t')
    needed = ['chrom', 'pos', 'ref', 'alt', column]
    missing = [c for c in needed if c not in header]
    if missing:
      raise ValueError(f'{path}: the header lacks {", ".join(missing)} '
                       f'(expected tab-separated {" ".join(needed)}).')
    index = [header.index(c) for c in needed]
    values = {}
    for line_number, line in enumerate(f, start=2):
      if not line.strip():
        continue
      fields = line.rstrip('\n').split('\t')
      try:
        chrom, pos, ref, alt, value = (fields[i] for i in index)
        key = (chrom, int(pos), ref, alt)
        number = float(value)
      except (IndexError, ValueError):
        raise ValueError(f'{path} line {line_number}: expected {column} and '
                         'an integer pos.') from None
      if key in values:
        raise ValueError(f'{path} line {line_number}: {key} listed twice.')
      values[key] = number
  if not values:
    raise ValueError(f'{path} lists no variant.')
  return values


def _joined(scores: str, values_path: str, column: str,
            stats: Sequence[str]):
  keys, features, names = read_scores(scores, stats)
  values = read_values(values_path, column)
  row = {key: i for i, key in enumerate(keys)}
  missing = [k for k in values if k not in row]
  if missing:
    example = ':'.join(map(str, missing[0]))
    raise ValueError(f'{len(missing)} variants of {values_path} have no '
                     f'scores in {scores}, e.g. {example}.')
  order = [row[k] for k in values]
  return features[order], np.array(list(values.values())), names


def classify_from_files(scores: str, labels: str,
                        stats: Sequence[str] = ('SAD',),
                        groups: Optional[Dict[str, Sequence[str]]] = None,
                        column: str = 'label', **kwargs) -> Dict:
  """`{group: Classification.summary()}` of the labelled variants.

  Args:
    scores: TSV or HDF5 of `enformer-score-variants`.
    labels: TSV with `chrom pos ref alt label` (0/1).
    stats: statistics whose columns are the features.
    groups: `{name: track names}`; default one group `all` of every column.
    column: the label column.
    **kwargs: for `variant_benchmarks.classify_variants`.
  """
  features, labels_, names = _joined(scores, labels, column, stats)
  chosen = {'all': list(range(len(names)))}
  if groups:
    chosen = {}
    for group, tracks in groups.items():
      columns = [i for i, n in enumerate(names)
                 if any(n == f'{s}_{t}' for s in stats for t in tracks)]
      if not columns:
        raise ValueError(f'--group {group}: none of {list(tracks)} is a '
                         f'scored track.')
      chosen[group] = columns
  results = variant_benchmarks.classify_groups(features, labels_, chosen,
                                               **kwargs)
  return {group: dict(result.summary(), features=[names[i] for i in
                                                  chosen[group]])
          for group, result in results.items()}


def lasso_from_files(scores: str, effects: str,
                     stats: Sequence[str] = ('SAD',),
                     column: str = 'effect', **kwargs) -> Dict:
  """`LassoResult.summary()` of the measured effects from the scores."""
  features, values, names = _joined(scores, effects, column, stats)
  result = variant_benchmarks.lasso_effects(features, values, **kwargs)
  return dict(result.summary(names), num_variants=len(values))
