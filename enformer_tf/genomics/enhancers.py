"""Enhancer-gene prioritisation: the paper's CRISPRi benchmark as scores.

For each gene of a pair table (`data.crispri_pairs`, REFERENCE.md section
10):

1. Main TSS. Of the gene's annotated TSSs, the one with the highest
   predicted CAGE: the chosen track(s) summed over the TSS's bin (+-
   `flank_bins`) of a window centred on it (`genes.predict_gene_expression`
   with one pseudo-gene per TSS). Rules: a gene with one TSS takes it
   without an extra prediction (`rule=single`); TSSs whose CAGE equals the
   maximum within a relative 1e-6 are tied and the most upstream along the
   gene's strand wins (`rule=tie_upstream`; else `rule=highest`).
2. One window per gene, placed as `genes.plan_windows` places a TSS's
   window: the output bins centred on the main TSS's 128-bp bin. The
   explained quantity is the *target*, the mean of the chosen tracks over
   the TSS bins (`flank_bins` on either side). One forward and backward
   pass gives, for every candidate element of the gene at once:
     gradient   sum over the element's bases of |gradient x input|, the
                per-base contribution of `contribution.gradient_times_input`
                (the absolute sum: enhancers may act in either direction
                and a motif's bases may have mixed signs);
     attention  for each transformer layer, the attention weight from the
                TSS bins to the element's bins: mean over heads, mean over
                the TSS bins (query rows), SUM over the element's bins (key
                columns, the attention mass the TSS puts on the element),
                then the mean over layers (`attention_layers` keeps each
                layer's value; `nan` for a model without transformer).
   Then, batched, one forward pass per element:
     perturbation  target(element replaced) - target(reference) (the
                `perturbation_delta` column; the score ranks its absolute
                value): the element's bases shuffled with a fixed seed
                (`np.random.default_rng([seed, crc32('chrom:start-end')])`,
                the same whatever the order or resumption) or set to `N`.
     distance   |element centre - main TSS|, the baseline (ranked
                closest first).
3. An element must lie wholly inside the model's input window
   (`model.sequence_length` bp); otherwise its pair is reported with that
   reason, not scored. `inside_output` says whether it also lies in the
   output bins. Predictions use the forward strand only.
"""
import dataclasses
import math
import zlib
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from enformer_tf.constants import BIN_SIZE
from enformer_tf.data import annotation, encoding, genome
from enformer_tf.data.crispri_pairs import Pair, PairTable, RowProblem
from enformer_tf.genomics import genes as genes_lib
from enformer_tf.genomics import intervals

PERTURBATIONS = ('shuffle', 'N')
TIE_RTOL = 1e-6


# -- Genes and their pairs ----------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GenePairs:
  """The pairs of one gene of the table.

  Attributes:
    key: the gene as the table names it.
    gene: its annotation record (or one built from the table's TSS).
    pairs: its pairs, in table order.
  """
  key: str
  gene: annotation.Gene
  pairs: Tuple[Pair, ...]


def _strip_version(gene_id: str) -> str:
  return gene_id.split('.', 1)[0] if gene_id.startswith('ENS') else gene_id


def group_pairs(table: PairTable, genes: Sequence[annotation.Gene],
                chromosome_sizes: Dict[str, int]
                ) -> Tuple[List[GenePairs], List[RowProblem]]:
  """Pairs grouped by gene (first appearance order) and rejected rows.

  A pair's gene is matched to the annotation's ids (without version), then
  names; a gene missing there is built from the table's TSS if it gives one
  (strand `+`, one TSS), else its pairs are reported. Pairs whose element is
  on a chromosome the FASTA lacks, on another chromosome than its gene, or
  runs off the chromosome are reported too.
  """
  by_id = {_strip_version(g.gene_id): g for g in genes}
  by_name: Dict[str, annotation.Gene] = {}
  for g in genes:
    by_name.setdefault(g.name, g)
  grouped: Dict[str, List[Pair]] = {}
  found: Dict[str, annotation.Gene] = {}
  problems = []
  for pair in table.pairs:
    gene = found.get(pair.gene) or by_id.get(_strip_version(pair.gene)) or \
        by_name.get(pair.gene)
    if gene is None and pair.tss is not None:
      gene = annotation.Gene(gene_id=pair.gene, name=pair.gene, gene_type='',
                             chrom=pair.chrom, strand='+', tss=(pair.tss,))
    reason = None
    size = chromosome_sizes.get(pair.chrom)
    if gene is None:
      reason = (f'gene {pair.gene!r} is not in the annotation and the row '
                'gives no TSS')
    elif size is None:
      reason = f'chromosome {pair.chrom!r} is not in the FASTA'
    elif gene.chrom != pair.chrom:
      reason = (f'element on {pair.chrom} but gene {pair.gene} on '
                f'{gene.chrom}')
    elif pair.end > size:
      reason = f'element end {pair.end} is past {pair.chrom} ({size} bp)'
    if reason:
      problems.append(RowProblem(pair.row, reason))
      continue
    found[pair.gene] = gene
    grouped.setdefault(pair.gene, []).append(pair)
  return ([GenePairs(key, found[key], tuple(pairs))
           for key, pairs in grouped.items()], problems)


# -- Main TSS -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MainTss:
  """The TSS a gene's window is centred on, and why.

  Attributes:
    tss: the main TSS (0-based).
    rule: `single`, `highest` or `tie_upstream`.
    candidates: the gene's TSSs.
    cage: predicted CAGE at each candidate (`nan` for `single`).
  """
  tss: int
  rule: str
  candidates: Tuple[int, ...]
  cage: Tuple[float, ...]


def choose_main_tss(gene: annotation.Gene,
                    cage: Optional[Sequence[float]] = None) -> MainTss:
  """The main TSS of `gene` from the CAGE predicted at each of its TSSs.

  Args:
    gene: the gene (`gene.tss` sorted, unique).
    cage: predicted CAGE per TSS of `gene.tss`; not needed for one TSS.
  """
  candidates = tuple(int(t) for t in gene.tss)
  if not candidates:
    raise ValueError(f'Gene {gene.gene_id} has no TSS.')
  if len(candidates) == 1:
    return MainTss(candidates[0], 'single', candidates, (math.nan,))
  if cage is None or len(cage) != len(candidates):
    raise ValueError(f'Gene {gene.gene_id} has {len(candidates)} TSSs; give '
                     'the predicted CAGE at each.')
  values = np.asarray(cage, np.float64)
  if not np.all(np.isfinite(values)):
    raise ValueError(f'Gene {gene.gene_id}: non-finite predicted CAGE '
                     f'{values.tolist()}.')
  best = values.max()
  tied = [t for t, v in zip(candidates, values)
          if v >= best - TIE_RTOL * abs(best)]
  tss = min(tied) if gene.strand != '-' else max(tied)
  return MainTss(tss, 'tie_upstream' if len(tied) > 1 else 'highest',
                 candidates, tuple(float(v) for v in values))


def predict_tss_cage(model, extractor: genome.FastaExtractor,
                     genes: Sequence[annotation.Gene], head: str,
                     tracks: Sequence[int], flank_bins: int = 0,
                     batch_size: int = 4) -> Dict[str, np.ndarray]:
  """Gene id -> predicted CAGE (chosen tracks summed) at each of its TSSs,
  for the genes with more than one TSS, each TSS in its own centred
  window."""
  pseudo = [dataclasses.replace(g, gene_id=f'{g.gene_id}\t{i}', tss=(t,))
            for g in genes if len(g.tss) > 1 for i, t in enumerate(g.tss)]
  if not pseudo:
    return {}
  expression = genes_lib.predict_gene_expression(
      model, extractor, pseudo, head, tracks=tracks, flank_bins=flank_bins,
      batch_size=batch_size)
  cage: Dict[str, List[float]] = {}
  for gene, row in zip(expression.genes, expression.values.sum(axis=1)):
    cage.setdefault(gene.gene_id.split('\t')[0], []).append(float(row))
  return {k: np.asarray(v) for k, v in cage.items()}


# -- One gene window ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GeneWindow:
  """The window centred on a main TSS.

  Attributes:
    chrom, start: the input window `[start, start + sequence_length)`.
    first_bin: genome bin of output bin 0.
    tss_bins: output bins of the target (the TSS bin +- flanks).
    crop_bins: input bins before output bin 0.
  """
  chrom: str
  start: int
  first_bin: int
  tss_bins: Tuple[int, ...]
  crop_bins: int


def gene_window(chrom: str, tss: int, layout: intervals.OutputLayout,
                flank_bins: int = 0) -> GeneWindow:
  """The window of `genes.plan_windows` for one TSS."""
  centre_bin = tss // BIN_SIZE
  first_bin = centre_bin - layout.num_bins // 2
  bins = tuple(centre_bin + d - first_bin
               for d in range(-flank_bins, flank_bins + 1))
  if min(bins) < 0 or max(bins) >= layout.num_bins:
    raise ValueError(f'flank_bins={flank_bins} does not fit the model\'s '
                     f'{layout.num_bins} output bins.')
  return GeneWindow(chrom, first_bin * BIN_SIZE - layout.crop_bp, first_bin,
                    bins, layout.crop_bp // BIN_SIZE)


@dataclasses.dataclass(frozen=True)
class WindowPass:
  """One forward and backward pass of a gene window.

  Attributes:
    target: the mean of the chosen tracks over the TSS bins.
    contributions: `[L]` gradient x input summed over the four bases.
    attention: per layer `[heads, T, T]` over the input's 128-bp bins.
    predictions: `[bins, head tracks]`.
  """
  target: float
  contributions: np.ndarray
  attention: List[np.ndarray]
  predictions: np.ndarray


def target_mask(num_bins: int, num_tracks: int, tss_bins: Sequence[int],
                tracks: Sequence[int]) -> np.ndarray:
  """The `[bins, tracks]` 0/1 mask of the target."""
  mask = np.zeros([num_bins, num_tracks], np.float32)
  mask[np.ix_(list(tss_bins), list(tracks))] = 1.0
  return mask


def _masked_mean(predictions, mask):
  predictions = tf.cast(predictions, tf.float32)  # [B, bins, tracks]
  return tf.reduce_sum(predictions * mask, axis=[1, 2]) / tf.reduce_sum(mask)


def _trunk_pass(model, x, head: str, mask):
  """`(target [B], attention list, predictions)` from one inference pass."""
  embedding, weights = model.embed_with_attention(x)
  attention = [tf.cast(w, tf.float32) for w in weights]  # [B, H, T, T] each
  predictions = model.head_layers[head](embedding)  # [B, bins, tracks]
  return _masked_mean(predictions, mask), attention, tf.cast(predictions,
                                                             tf.float32)


class Runner:
  """The two passes of one model and head, eager: per gene of a full-size
  model the compute dominates, and tracing a `tf.function` would cost
  seconds per model."""

  def __init__(self, model, head: str):
    self.model = model
    self.head = head

  def with_gradient(self, x, mask):
    """`(target [B], gradient [B, L, 4], attention, predictions)`."""
    with tf.GradientTape() as tape:
      tape.watch(x)
      target, attention, predictions = _trunk_pass(self.model, x, self.head,
                                                   mask)
    return target, tape.gradient(target, x), attention, predictions

  def targets(self, x, mask):
    """The target `[B]` of each sequence."""
    return _masked_mean(self.model.predict_head(x, self.head, training=False),
                        mask)


def forward_backward(model, one_hot: np.ndarray, head: str,
                     mask: np.ndarray,
                     runner: Optional[Runner] = None) -> WindowPass:
  """Predictions, attention weights and the target's input gradient of one
  sequence `[L, 4]`, from one pass through an Enformer's trunk (as
  `Enformer.embed` in inference, keeping each block's attention)."""
  runner = runner or Runner(model, head)
  x = np.asarray(one_hot, np.float32)
  target, gradient, attention, predictions = runner.with_gradient(
      tf.constant(x[np.newaxis]), tf.constant(mask))
  return WindowPass(
      target=float(target.numpy()[0]),
      contributions=(gradient.numpy()[0] * x).sum(-1),
      attention=[a.numpy()[0] for a in attention],
      predictions=predictions.numpy()[0])


def perturbed(one_hot: np.ndarray, offset: int, length: int, method: str,
              key: str, seed: int) -> np.ndarray:
  """A copy of `one_hot` with `[offset, offset + length)` shuffled (with
  the generator seeded by `seed` and `key`) or set to N."""
  if method not in PERTURBATIONS:
    raise ValueError(f'perturbation must be one of {PERTURBATIONS}, got '
                     f'{method!r}.')
  x = one_hot.copy()
  if method == 'N':
    x[offset:offset + length] = 0.0
  else:
    rng = np.random.default_rng([seed, zlib.crc32(key.encode('utf-8'))])
    x[offset:offset + length] = rng.permutation(x[offset:offset + length])
  return x


@dataclasses.dataclass(frozen=True)
class PairScore:
  """The scores of one pair (see the module doc)."""
  pair: Pair
  gene_id: str
  main_tss: int
  distance: int
  inside_output: bool
  reference: float
  gradient: float
  attention: float
  attention_layers: Tuple[float, ...]
  perturbation_delta: float

  @property
  def perturbation(self) -> float:
    return abs(self.perturbation_delta)


def _element_bins(start: int, end: int) -> range:
  return range(start // BIN_SIZE, (end - 1) // BIN_SIZE + 1)


def score_gene(model, extractor: genome.FastaExtractor, gene_pairs: GenePairs,
               main: MainTss, head: str, tracks: Sequence[int], *,
               flank_bins: int = 0, perturbation: str = 'shuffle',
               seed: int = 0, batch_size: int = 8,
               runner: Optional[Runner] = None
               ) -> Tuple[List[PairScore], List[RowProblem], WindowPass]:
  """The scores of one gene's pairs from its window (module doc)."""
  runner = runner or Runner(model, head)
  layout = intervals.output_layout(model)
  window = gene_window(gene_pairs.gene.chrom, main.tss, layout, flank_bins)
  length = layout.sequence_length
  inside, problems = [], []
  for pair in gene_pairs.pairs:
    if pair.start < window.start or pair.end > window.start + length:
      problems.append(RowProblem(pair.row, (
          f'element {pair.chrom}:{pair.start}-{pair.end} is outside the '
          f"model's {length:,}-bp input window {window.chrom}:"
          f'{window.start}-{window.start + length} centred on the main TSS '
          f'{main.tss}')))
    else:
      inside.append(pair)
  if not inside:
    return [], problems, None
  one_hot = encoding.one_hot_encode(extractor.extract(
      window.chrom, window.start, window.start + length)).astype(np.float32)
  num_tracks = int(model.heads[head])
  mask = target_mask(layout.num_bins, num_tracks, window.tss_bins, tracks)
  passed = forward_backward(model, one_hot, head, mask, runner)
  rows = [b + window.crop_bins for b in window.tss_bins]
  layer_maps = [a.mean(axis=0)[rows].mean(axis=0) for a in passed.attention]
  variants = [perturbed(one_hot, p.start - window.start, p.end - p.start,
                        perturbation, f'{p.chrom}:{p.start}-{p.end}', seed)
              for p in inside]
  targets = []
  for i in range(0, len(variants), batch_size):
    batch = np.stack(variants[i:i + batch_size])  # [b, L, 4]
    targets.append(runner.targets(tf.constant(batch),
                                  tf.constant(mask)).numpy())
  targets = np.concatenate(targets)
  span_start = window.first_bin * BIN_SIZE
  scores = []
  for pair, changed in zip(inside, targets):
    offset = pair.start - window.start
    bins = _element_bins(offset, pair.end - window.start)
    layers = tuple(float(m[list(bins)].sum()) for m in layer_maps)
    scores.append(PairScore(
        pair=pair, gene_id=gene_pairs.gene.gene_id, main_tss=main.tss,
        distance=pair.center - main.tss,
        inside_output=(pair.start >= span_start and
                       pair.end <= span_start + layout.span),
        reference=passed.target,
        gradient=float(np.abs(passed.contributions[
            offset:offset + pair.end - pair.start]).sum()),
        attention=float(np.mean(layers)) if layers else math.nan,
        attention_layers=layers,
        perturbation_delta=float(changed) - passed.target))
  return scores, problems, passed


def score_pairs(model, fasta, table: PairTable,
                genes: Sequence[annotation.Gene], head: str,
                tracks: Sequence[int], *, flank_bins: int = 0,
                perturbation: str = 'shuffle', seed: int = 0,
                batch_size: int = 8, writer=None,
                skip_genes: Iterable[str] = (), progress: bool = False
                ) -> Tuple[List[PairScore], List[MainTss], List[RowProblem]]:
  """Scores every pair of `table`, gene by gene.

  Args:
    model: an `Enformer` with a fixed `sequence_length`.
    fasta: the genome (path or open `FastaExtractor`).
    table: `crispri_pairs.read_pairs`'s table.
    genes: the annotation (`annotation.read_genes`), chromosome names as in
      the FASTA.
    head: the head (organism); `tracks`: its tracks to explain (CAGE).
    flank_bins: bins on either side of the TSS bin in the target.
    perturbation: `shuffle` or `N`; `seed` for the shuffles.
    batch_size: perturbed sequences per forward pass.
    writer: if given, `writer.write_gene(gene_pairs, main, scores,
      problems)` after each gene (crash-safe output).
    skip_genes: table gene keys already done (not recomputed).
    progress: a tqdm progress bar over genes.

  Returns:
    `(scores, main TSS per gene scored, problems)`; problems include the
    table's malformed rows.
  """
  tracks = check_scoring(model, head, tracks, perturbation, batch_size)
  owns = not isinstance(fasta, genome.FastaExtractor)
  extractor = genome.FastaExtractor(fasta) if owns else fasta
  try:
    todo, cage, problems = plan_gene_pairs(model, extractor, table, genes,
                                           head, tracks, flank_bins,
                                           skip_genes)
    stream = todo
    if progress:
      from tqdm import tqdm  # pylint: disable=g-import-not-at-top
      stream = tqdm(todo, unit='gene', desc='enhancer-gene pairs')
    all_scores, mains = [], []
    runner = Runner(model, head)
    for gene_pairs in stream:
      main, scores, gene_problems = score_gene_pairs(
          model, extractor, gene_pairs, cage.get(gene_pairs.gene.gene_id),
          head, tracks, flank_bins=flank_bins, perturbation=perturbation,
          seed=seed, batch_size=batch_size, runner=runner)
      if writer is not None:
        writer.write_gene(gene_pairs, main, scores, gene_problems)
      all_scores.extend(scores)
      mains.append(main)
      problems.extend(gene_problems)
  finally:
    if owns:
      extractor.close()
  return all_scores, mains, sorted(problems, key=lambda p: p.row)


def check_scoring(model, head: str, tracks: Sequence[int],
                  perturbation: str = 'shuffle', batch_size: int = 8
                  ) -> Tuple[int, ...]:
  """The checked `tracks` of `score_pairs`'s options (same names).

  Raises:
    ValueError: an unknown perturbation, head or track, a bad batch size
      or a model without a fixed window.
  """
  if perturbation not in PERTURBATIONS:
    raise ValueError(f'perturbation must be one of {PERTURBATIONS}, got '
                     f'{perturbation!r}.')
  if int(batch_size) != batch_size or batch_size < 1:
    raise ValueError(f'batch_size must be a positive integer, got '
                     f'{batch_size!r}.')
  if getattr(model, 'sequence_length', None) is None:
    raise ValueError('The model has no fixed sequence_length (its window).')
  num_tracks = int(model.heads[head]) if head in model.heads else None
  if num_tracks is None:
    raise ValueError(f'Unknown head {head!r}; this model has heads '
                     f'{sorted(model.heads)}.')
  return intervals.select_tracks(num_tracks, tracks)[0]


def plan_gene_pairs(model, extractor: genome.FastaExtractor,
                    table: PairTable, genes: Sequence[annotation.Gene],
                    head: str, tracks: Sequence[int], flank_bins: int = 0,
                    skip_genes: Iterable[str] = ()
                    ) -> Tuple[List[GenePairs], Dict[str, np.ndarray],
                               List[RowProblem]]:
  """`(genes to score, CAGE at the TSSs of those with several, problems of
  the table and of matching its genes)`: what `score_pairs` does before
  scoring gene by gene (`score_gene_pairs`)."""
  grouped, problems = group_pairs(table, genes, extractor.chromosome_sizes)
  skip = set(skip_genes)
  todo = [g for g in grouped if g.key not in skip]
  cage = predict_tss_cage(model, extractor, [g.gene for g in todo], head,
                          tracks, flank_bins)
  return todo, cage, list(table.problems) + problems


def score_gene_pairs(model, extractor: genome.FastaExtractor,
                     gene_pairs: GenePairs, cage: Optional[np.ndarray],
                     head: str, tracks: Sequence[int], *,
                     flank_bins: int = 0, perturbation: str = 'shuffle',
                     seed: int = 0, batch_size: int = 8,
                     runner: Optional[Runner] = None
                     ) -> Tuple[MainTss, List[PairScore], List[RowProblem]]:
  """One gene of `score_pairs`: its main TSS (from `cage`, the
  `plan_gene_pairs` CAGE of its TSSs, or `None`), its pairs' scores and the
  pairs outside its window."""
  main = choose_main_tss(gene_pairs.gene, cage)
  scores, problems, passed = score_gene(
      model, extractor, gene_pairs, main, head, tracks,
      flank_bins=flank_bins, perturbation=perturbation, seed=seed,
      batch_size=batch_size, runner=runner)
  if main.rule == 'single' and passed is not None:
    # The CAGE at the one TSS, from the window already predicted.
    window = gene_window(gene_pairs.gene.chrom, main.tss,
                         intervals.output_layout(model), flank_bins)
    main = dataclasses.replace(main, cage=(float(passed.predictions[
        np.ix_(list(window.tss_bins), list(tracks))].sum()),))
  return main, scores, problems
