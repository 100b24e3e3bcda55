"""Enhancer-gene prioritisation into files, from paths (the work of
`enformer-prioritize-enhancers`).

  prioritize_enhancers_to_files(
      'model.keras', 'hg38.fa', 'gencode.gtf.gz', 'fulco2019.tsv', 'human',
      'enhancers/', columns='fulco2019', targets='targets.txt',
      tracks='CNhs12336')

writes into `out_dir`:

  pair_scores.tsv   every scored pair with its three scores and distance
                    (`enhancer_writer.SCORE_COLUMNS`, then the input's other
                    columns)
  main_tss.tsv      each gene's main TSS, the rule that chose it, the CAGE
                    predicted at each candidate TSS
  problems.tsv      every pair not scored, with its row and reason
  evaluation.tsv    auPRC / auROC per score, overall and by distance, with
                    the positive fraction and bootstrap intervals
  pr_curves.png     precision-recall curves

Genes are written as they finish (`*.partial`); `resume=True` continues a
failed run without recomputing the genes it finished. See `enhancers` for
the scores and `enhancer_evaluation` for the statistics.
"""
import os
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from enformer_tf import io as models
from enformer_tf.data import annotation, crispri_pairs, genome
from enformer_tf.genomics import enhancer_evaluation, enhancer_writer
from enformer_tf.genomics import enhancers
from enformer_tf.genomics import tracks as tracks_lib

FILES = {'scores': 'pair_scores.tsv', 'main_tss': 'main_tss.tsv',
         'problems': 'problems.tsv'}


def read_genes_matched(fasta: str, annotation_path: str,
                       gene_types: Optional[Sequence[str]] = None):
  """The annotation's genes, chromosome names matched to the FASTA."""
  genes = annotation.read_genes(annotation_path, gene_types=gene_types)
  with genome.FastaExtractor(fasta) as extractor:
    sizes = dict(extractor.chromosome_sizes)
  return annotation.match_chromosome_names(genes, sizes)


def scored_tracks(model, head: str, targets: Optional[str],
                  tracks: Optional[str]):
  """The head's track indices to explain (`--tracks`, required)."""
  indices = tracks_lib.choose_tracks(tracks_lib.head_num_tracks(model, head),
                                     head, tracks, targets).indices
  if indices is None:
    raise ValueError('Choose the track(s) to score (--tracks), e.g. the '
                     "cell type's CAGE track.")
  return indices


def prioritize_enhancers_to_files(
    model: Union[str, Any], fasta: str, annotation_path: str,
    pairs_path: str, head: str, out_dir: str, *,
    columns: Union[str, Mapping[str, object],
                   crispri_pairs.PairColumns] = 'encode',
    targets: Optional[str] = None, tracks: Optional[str] = None,
    gene_types: Optional[Sequence[str]] = None, flank_bins: int = 0,
    perturbation: str = 'shuffle', seed: int = 0, batch_size: int = 8,
    resume: bool = False, n_bootstrap: int = 1000,
    progress: bool = False) -> Dict[str, object]:
  """Scores and evaluates every pair of a CRISPRi table (module doc).

  Args:
    model: a model path (`enformer_tf.io.load_model`) or a loaded Enformer.
    fasta: the genome.
    annotation_path: GTF, GFF3 or TSS BED.
    pairs_path: the pair table.
    head: the head (organism).
    out_dir: created if missing.
    columns: a layout preset (`crispri_pairs.PRESETS`) or a column mapping.
    targets: the head's targets.txt (tracks by identifier).
    tracks: the track(s) to explain, `--tracks` text (required).
    gene_types: annotation gene types to keep (`None`: all).
    flank_bins, perturbation, seed, batch_size: see `enhancers`.
    resume: continue the `*.partial` files of a failed run.
    n_bootstrap: bootstrap resamples for the intervals (0: none).
    progress: a progress bar on stderr.

  Returns:
    `{'paths': name -> path, 'scored': pairs scored, 'problems': pairs not
    scored, 'evaluation': the evaluation DataFrame}`.
  """
  os.makedirs(out_dir, exist_ok=True)
  table = crispri_pairs.read_pairs(pairs_path, columns)
  model = models.load_model(model) if isinstance(
      model, (str, os.PathLike)) else model
  indices = scored_tracks(model, head, targets, tracks)
  genes = read_genes_matched(fasta, annotation_path, gene_types)
  paths = {key: os.path.join(out_dir, name) for key, name in FILES.items()}
  writer = enhancer_writer.PairScoreWriter(
      paths['scores'], paths['main_tss'], paths['problems'], table.header,
      table.columns, resume=resume)
  try:
    _, _, problems = enhancers.score_pairs(
        model, fasta, table, genes, head, indices, flank_bins=flank_bins,
        perturbation=perturbation, seed=seed, batch_size=batch_size,
        writer=writer, skip_genes=writer.done_genes, progress=progress)
  except BaseException:
    writer.abandon()
    raise
  return evaluate_written(writer.finish(problems), out_dir,
                          n_bootstrap=n_bootstrap, seed=seed)


def evaluate_written(written: Dict[str, str], out_dir: str, *,
                     n_bootstrap: int = 1000, seed: int = 0
                     ) -> Dict[str, object]:
  """Evaluates the written scores (evaluation.tsv, pr_curves.png) and
  returns `prioritize_enhancers_to_files`'s result.

  Args:
    written: name -> path of the pair scores and problems written.
    out_dir: where the evaluation goes.
    n_bootstrap, seed: as in `prioritize_enhancers_to_files`.
  """
  written = dict(written)
  frame = enhancer_evaluation.read_scores(written['scores'])
  evaluation = None
  if len(frame):
    written.update(enhancer_evaluation.write_evaluation(
        written['scores'], out_dir, n_bootstrap=n_bootstrap, seed=seed))
    import pandas as pd  # pylint: disable=g-import-not-at-top
    evaluation = pd.read_csv(written['evaluation'], sep='\t')
  with open(written['problems'], encoding='utf-8') as f:
    num_problems = sum(1 for _ in f) - 1
  return {'paths': written, 'scored': len(frame), 'problems': num_problems,
          'evaluation': evaluation}
