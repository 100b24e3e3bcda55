"""`PairScoreWriter`: the crash-safe, resumable output of
`enhancers.score_pairs`.

Three TSVs, each first written to `<path>.partial` and renamed into place
by `finish()`:

  scores     one row per scored pair: `SCORE_COLUMNS`, then the input
             table's other columns (prefixed `input_` where a name clashes)
  main_tss   one row per gene: `MAIN_TSS_COLUMNS`
  problems   `row gene reason` for every pair not scored (malformed rows,
             genes missing from the annotation, elements outside the
             window), sorted by row

After each gene its score rows and window problems are flushed, then its
main-TSS row, which marks the gene done. With `resume=True` the partial
files of a failed run are continued: `done_genes` lists the genes whose
main-TSS row was written (rows of a gene cut short are dropped), and a
rerun skips them.
"""
import math
import os
from typing import Dict, List, Optional, Sequence

from enformer_tf import atomic
from enformer_tf.data.crispri_pairs import PairColumns, RowProblem

PARTIAL_SUFFIX = '.partial'
SCORE_COLUMNS = ('row', 'chrom', 'start', 'end', 'name', 'gene', 'gene_id',
                 'significant', 'effect_size', 'main_tss', 'distance',
                 'inside_output', 'reference', 'gradient', 'attention',
                 'attention_layers', 'perturbation', 'perturbation_delta')
MAIN_TSS_COLUMNS = ('gene', 'gene_id', 'chrom', 'strand', 'main_tss', 'rule',
                    'tss', 'cage')
PROBLEM_COLUMNS = ('row', 'gene', 'reason')


def _number(value) -> str:
  if value is None:
    return ''
  return 'nan' if isinstance(value, float) and math.isnan(value) else \
      f'{value:.9g}'


class _PartialTable:
  """A TSV written row by row to `<path>.partial`; `keep` filters the
  rows of an earlier partial on resume."""

  def __init__(self, path: str, columns: Sequence[str], resume: bool,
               keep=None):
    self.path = os.path.abspath(os.fspath(path))
    self.partial = self.path + PARTIAL_SUFFIX
    self.columns = list(columns)
    self.kept: List[List[str]] = []
    if not os.path.isdir(os.path.dirname(self.path)):
      raise ValueError(f'The directory of {self.path} does not exist.')
    if resume and os.path.exists(self.partial):
      with open(self.partial, encoding='utf-8') as f:
        header = f.readline().rstrip('\n').split('\t')
        if header != self.columns:
          raise ValueError(f'{self.partial} has other columns than this run '
                           f'({header[:6]}...); remove it to start afresh.')
        rows = [line.rstrip('\n').split('\t') for line in f
                if line.endswith('\n')]  # A cut last line is dropped.
      self.kept = [r for r in rows if keep is None or keep(r)]
    with atomic.atomic_path(self.partial) as temporary:
      with open(temporary, 'w', encoding='utf-8') as f:
        f.write('\t'.join(self.columns) + '\n')
        f.writelines('\t'.join(r) + '\n' for r in self.kept)
    self._file = open(self.partial, 'a', encoding='utf-8')

  def write(self, rows: Sequence[Sequence[str]]) -> None:
    self._file.writelines('\t'.join(r) + '\n' for r in rows)
    self._file.flush()

  def close(self) -> None:
    self._file.close()

  def finish(self) -> str:
    self._file.close()
    os.replace(self.partial, self.path)
    return self.path


class PairScoreWriter:
  """See the module doc.

  Args:
    scores_path, main_tss_path, problems_path: the TSVs to write.
    header: the input table's header; columns: its `PairColumns` (the
      columns not mapped are copied to the scores).
    resume: continue the partial files of a failed run.
  """

  def __init__(self, scores_path: str, main_tss_path: str,
               problems_path: str, header: Sequence[str],
               columns: PairColumns, resume: bool = False):
    used = set(columns.used())
    self.extra = [c for c in header if c not in used]
    names = [f'input_{c}' if c in SCORE_COLUMNS else c for c in self.extra]
    self.main_tss = _PartialTable(main_tss_path, MAIN_TSS_COLUMNS, resume)
    self.done_genes = [r[0] for r in self.main_tss.kept]
    done = set(self.done_genes)
    self.scores = _PartialTable(scores_path, list(SCORE_COLUMNS) + names,
                                resume, keep=lambda r: r[5] in done)
    self.problems_path = problems_path
    self.window_problems = _PartialTable(
        problems_path + '.window', PROBLEM_COLUMNS, resume,
        keep=lambda r: r[1] in done)

  def write_gene(self, gene_pairs, main, scores, problems) -> None:
    """One gene's score rows and window problems, then its main TSS."""
    rows = []
    for s in scores:
      pair, fields = s.pair, dict(s.pair.fields)
      rows.append([
          str(pair.row), pair.chrom, str(pair.start), str(pair.end),
          pair.label, gene_pairs.key, s.gene_id,
          'TRUE' if pair.significant else 'FALSE',
          _number(pair.effect_size), str(s.main_tss), str(s.distance),
          'TRUE' if s.inside_output else 'FALSE', _number(s.reference),
          _number(s.gradient), _number(s.attention),
          ','.join(_number(v) for v in s.attention_layers),
          _number(s.perturbation), _number(s.perturbation_delta)] +
                  [fields.get(c, '').replace('\t', ' ') for c in self.extra])
    self.scores.write(rows)
    self.window_problems.write([[str(p.row), gene_pairs.key, p.reason]
                                for p in problems])
    gene = gene_pairs.gene
    self.main_tss.write([[
        gene_pairs.key, gene.gene_id, gene.chrom, gene.strand,
        str(main.tss), main.rule, ','.join(str(t) for t in main.candidates),
        ','.join(_number(v) for v in main.cage)]])

  def finish(self, problems: Sequence[RowProblem] = ()) -> Dict[str, str]:
    """Renames the scores and main-TSS tables into place and writes the
    problems (`problems` and the window problems of every run)."""
    merged = {(int(r[0]), r[2]): r[1] for r in self.window_problems.kept}
    self.window_problems.close()
    with open(self.window_problems.partial, encoding='utf-8') as f:
      next(f)
      for line in f:
        if line.endswith('\n'):
          row, gene, reason = line.rstrip('\n').split('\t')
          merged[(int(row), reason)] = gene
    for p in problems:
      merged.setdefault((p.row, p.reason), '')
    with atomic.atomic_path(self.problems_path) as temporary:
      with open(temporary, 'w', encoding='utf-8') as f:
        f.write('\t'.join(PROBLEM_COLUMNS) + '\n')
        for (row, reason), gene in sorted(merged.items()):
          f.write(f'{row}\t{gene}\t{reason}\n')
    os.remove(self.window_problems.partial)
    return {'scores': self.scores.finish(),
            'main_tss': self.main_tss.finish(),
            'problems': self.problems_path}

  def abandon(self) -> Optional[str]:
    for table in (self.scores, self.main_tss, self.window_problems):
      table.close()
    return self.scores.partial
