"""Gene expression and its evaluation into files, from paths (the work of
`enformer-predict-genes` and `enformer-evaluate-genes`).

  predict_genes_to_files('model.keras', 'genome.fa', 'genes.gtf.gz',
                         'human', 'genes.tsv', h5='genes.h5',
                         targets='targets.txt', tracks='CNhs11250')
  evaluate_genes_to_files({'enformer': 'model.keras',
                           'conv_only': 'conv.keras'},
                          'genome.fa', 'genes.gtf.gz', 'human',
                          'targets.txt', 'eval_genes/',
                          split_bed='data/human/sequences.bed')

On top of `genes` (windows, sums, the crash-safe writer) and
`gene_evaluation` (the correlations): models read from their paths, the
annotation read and its chromosome names matched to the FASTA, the head's
tracks chosen through its targets.txt, and the held-out genes chosen from
the records' `sequences.bed` (or any BED with the split in column 4).
"""
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from enformer_tf import io as models
from enformer_tf.data import annotation, genome
from enformer_tf.data import regions as regions_lib
from enformer_tf.genomics import gene_evaluation, genes as genes_lib
from enformer_tf.genomics import intervals
from enformer_tf.genomics import tracks as tracks_lib

ModelLike = Union[str, Any]


def _model(model: ModelLike):
  return models.load_model(model) if isinstance(model, (str, os.PathLike)) \
      else model


def read_genes_for(fasta: str, annotation_path: str,
                   gene_types: Optional[Sequence[str]] = (
                       annotation.DEFAULT_GENE_TYPES)
                   ) -> List[annotation.Gene]:
  """The annotation's genes on the FASTA's chromosomes, named as there."""
  genes = annotation.read_genes(annotation_path, gene_types=gene_types)
  with genome.FastaExtractor(fasta) as extractor:
    sizes = dict(extractor.chromosome_sizes)
  genes = annotation.match_chromosome_names(genes, sizes)
  kept = [g for g in genes if g.chrom in sizes]
  if not kept:
    raise ValueError(
        f'No gene of {annotation_path} (types {list(gene_types or ["any"])})'
        f' lies on a chromosome of {fasta}.')
  return kept


def held_out_genes(genes: Sequence[annotation.Gene], split_bed: str,
                   split: Union[str, Sequence[str]] = 'test'
                   ) -> List[annotation.Gene]:
  """Genes whose every TSS lies in regions of `split` and in no region of
  another split (the records' `sequences.bed`: chrom, start, end, split).

  Args:
    genes: the genes.
    split_bed: BED with the split in column 4.
    split: a split name, or several (`('valid', 'test')`: genes never
      trained on).

  Raises:
    ValueError: the BED has no split column or no region of `split`.
  """
  wanted = {split} if isinstance(split, str) else set(split)
  regions = regions_lib.read_bed(split_bed)
  if not any(r.split for r in regions):
    raise ValueError(f'{split_bed} has no split column (column 4: train, '
                     'valid or test).')
  if not any(r.split in wanted for r in regions):
    raise ValueError(f'{split_bed} has no region of split '
                     f'{", ".join(sorted(wanted))}.')
  by_chrom: Dict[str, List[regions_lib.Region]] = {}
  for region in regions:
    by_chrom.setdefault(region.chrom, []).append(region)

  def splits_at(chrom: str, position: int) -> set:
    return {r.split for r in by_chrom.get(chrom, ())
            if r.start <= position < r.end}

  return [g for g in genes
          if all(splits_at(g.chrom, t) and splits_at(g.chrom, t) <= wanted
                 for t in g.tss)]


def chosen_tracks(model, head: str, targets: Optional[str],
                  tracks: Optional[str]):
  """`(track indices or None, head track names or None, strand pairs)`."""
  chosen = tracks_lib.choose_tracks(tracks_lib.head_num_tracks(model, head),
                                    head, tracks, targets)
  return chosen.indices, chosen.identifiers, chosen.strand_pairs()


def predict_genes_to_files(
    model: ModelLike, fasta: str, annotation_path: str, head: str, out: str,
    *, h5: Optional[str] = None, targets: Optional[str] = None,
    tracks: Optional[str] = None, observed: Optional[str] = None,
    gene_types: Optional[Sequence[str]] = annotation.DEFAULT_GENE_TYPES,
    max_tss_offset: int = 0, flank_bins: int = 0, rc: bool = False,
    batch_size: int = 4, resume: bool = False,
    progress: bool = False) -> Dict[str, str]:
  """Predicted (and observed) expression of every gene, as TSV (+ HDF5).

  Args:
    model: a model path (`enformer_tf.io.load_model`) or a loaded model.
    fasta: the genome.
    annotation_path: GTF, GFF3 or TSS BED (`annotation.read_genes`).
    head: the head (organism).
    out: the predicted genes x tracks TSV (rows appear in `out.partial` as
      genes finish; renamed at the end).
    h5: also write the matrix as HDF5.
    targets: the head's targets.txt (track names, `--tracks` by name,
      strand pairs for `rc`; needed for `observed`).
    tracks: `--tracks` text (default all).
    observed: also write the observed expression from the targets' bigWigs
      to this TSV (same genes, tracks and bins).
    gene_types: annotation gene types to keep (`None`: all).
    max_tss_offset, flank_bins: see `genes.plan_windows`.
    rc: average with the reverse complement.
    batch_size: windows per model call.
    resume: continue an `out.partial` left by a failed run.
    progress: a progress bar on stderr.

  Returns:
    name -> path of what was written.
  """
  if observed is not None and targets is None:
    raise ValueError('observed expression needs --targets (the bigWigs).')
  model = _model(model)
  indices, names, pairs = chosen_tracks(model, head, targets, tracks)
  gene_list = read_genes_for(fasta, annotation_path, gene_types)
  chosen_indices, chosen_names = intervals.select_tracks(
      model.heads[head], indices, names)
  writer = genes_lib.GeneExpressionWriter(
      out, chosen_names, chosen_indices, h5, resume=resume,
      attrs=expression_attrs(head, rc, flank_bins, max_tss_offset))
  try:
    genes_lib.predict_gene_expression(
        model, fasta, gene_list, head, tracks=indices, track_names=names,
        max_tss_offset=max_tss_offset, flank_bins=flank_bins,
        batch_size=batch_size, average_reverse_complement=rc,
        strand_pairs=pairs, writer=writer,
        skip_gene_ids=writer.done_gene_ids, progress=progress)
  except BaseException:
    writer.abandon()
    raise
  paths = writer.finish()
  if observed is not None:
    paths['observed'] = write_observed(observed, targets, gene_list,
                                       chosen_indices, flank_bins)
  return paths


def expression_attrs(head: str, rc: bool, flank_bins: int,
                     max_tss_offset: int) -> Dict[str, Any]:
  """The HDF5 attributes of a predicted expression matrix."""
  return {'head': head, 'rc': rc, 'flank_bins': flank_bins,
          'max_tss_offset': max_tss_offset}


def write_observed(path: str, targets: str,
                   gene_list: Sequence[annotation.Gene],
                   tracks: Sequence[int], flank_bins: int = 0) -> str:
  """The observed expression (the targets' bigWigs at the genes' TSS
  bins) as a TSV at `path`; returns it."""
  return write_expression_tsv(path, genes_lib.observe_gene_expression(
      targets, gene_list, tracks=tracks, flank_bins=flank_bins))


def write_expression_tsv(path: str,
                         expression: genes_lib.GeneExpression) -> str:
  """`expression` as a genes x tracks TSV at `path`; returns it."""
  writer = genes_lib.GeneExpressionWriter(path, expression.track_names,
                                          expression.track_indices)
  writer.write(expression.genes, expression.values)
  return writer.finish()['tsv']


def evaluate_genes_to_files(
    models_by_label: Mapping[str, ModelLike], fasta: str,
    annotation_path: str, head: str, targets: str, out_dir: str, *,
    split_bed: Optional[str] = None,
    split: Union[str, Sequence[str]] = 'test',
    tracks: Optional[str] = None,
    gene_types: Optional[Sequence[str]] = annotation.DEFAULT_GENE_TYPES,
    max_tss_offset: int = 0, flank_bins: int = 0, rc: bool = False,
    batch_size: int = 4, plot_tracks: Optional[Sequence[int]] = None,
    progress: bool = False) -> Dict[str, object]:
  """The paper's gene-level evaluation of one or more models, as files.

  For each model (by label): predicted expression of the held-out genes
  (`out_dir/{label}_predicted.tsv`), its correlations with the observed
  expression (`{label}_tracks.tsv`, `{label}_summary.tsv`,
  `{label}_genes.tsv`, scatter plots), and with two models or more
  `comparison.tsv` (+ `comparison.png`). The observed expression is
  `observed.tsv`. See `gene_evaluation` for the statistics.

  Args:
    models_by_label: label -> model path or loaded model.
    split_bed: genes are kept if all their TSSs lie in `split` regions of
      this BED (e.g. the records' sequences.bed); default: all genes.
    split: the split (or splits) whose genes are evaluated.
    Others: as in `predict_genes_to_files`.

  Returns:
    `{'paths': name -> path, 'summaries': label -> summary dict,
      'num_genes': int}`.
  """
  if not models_by_label:
    raise ValueError('No model to evaluate.')
  for label in models_by_label:
    if not label or any(c in label for c in '/\\\t '):
      raise ValueError(f'Model label {label!r} must be a non-empty name '
                       'without spaces or slashes.')
  gene_list = read_genes_for(fasta, annotation_path, gene_types)
  if split_bed is not None:
    gene_list = held_out_genes(gene_list, split_bed, split)
  if len(gene_list) < 3:
    raise ValueError(f'{len(gene_list)} genes to evaluate (held out in '
                     f'{split_bed or "the genome"}); at least 3 are '
                     'needed.')
  os.makedirs(out_dir, exist_ok=True)
  loaded = {label: _model(m) for label, m in models_by_label.items()}
  first = next(iter(loaded.values()))
  indices, names, pairs = chosen_tracks(first, head, targets, tracks)
  measured = genes_lib.observe_gene_expression(
      targets, gene_list, tracks=indices, flank_bins=flank_bins)
  paths: Dict[str, str] = {'observed': write_expression_tsv(
      os.path.join(out_dir, 'observed.tsv'), measured)}
  evaluations, summaries = {}, {}
  for label, model in loaded.items():
    writer = genes_lib.GeneExpressionWriter(
        os.path.join(out_dir, f'{label}_predicted.tsv'),
        measured.track_names, measured.track_indices)
    try:
      predicted = genes_lib.predict_gene_expression(
          model, fasta, gene_list, head, tracks=indices, track_names=names,
          max_tss_offset=max_tss_offset, flank_bins=flank_bins,
          batch_size=batch_size, average_reverse_complement=rc,
          strand_pairs=pairs, writer=writer, progress=progress)
    except BaseException:
      writer.abandon()
      raise
    paths[f'{label}_predicted'] = writer.finish()['tsv']
    evaluation = gene_evaluation.evaluate_genes(
        predicted.values, measured.values, predicted.gene_ids,
        measured.track_names)
    evaluations[label] = evaluation
    summaries[label] = evaluation.summary()
    for key, path in gene_evaluation.write_evaluation(
        evaluation, out_dir, plot_tracks, prefix=f'{label}_').items():
      paths[f'{label}_{key}'] = path
  if len(evaluations) > 1:
    paths.update(gene_evaluation.compare_evaluations(evaluations, out_dir))
  return {'paths': paths, 'summaries': summaries,
          'num_genes': len(gene_list)}
