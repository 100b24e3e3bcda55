"""Train / valid / test splits of two genomes that keep homologous sequence
in one split (the Enformer paper's procedure; `enformer-split-homology`).

  report = split_homology('hg38.fa', 'mm10.fa', 'hg38.mm10.syn.net.gz',
                          'splits/', names=('human', 'mouse'))

writes `splits/human.bed` and `splits/mouse.bed` (chrom, start, end, split:
the regions, for `enformer-make-data --bed ... --tile_regions`, which tiles
model windows inside each region so that no window crosses a split) and
`splits/report.json`.

The procedure (Avsec et al. 2021, Methods: "homologous regions ... were
assigned to the same split"):
  1. Both genomes are cut into regions of `region_size` bp (1 Mb), from the
     start of each chromosome (the last region of a chromosome is shorter);
     chromosome sizes come from the FASTA index (`genome.FastaExtractor`).
  2. Aligned bases are counted per (target region, query region) pair from
     the alignment's blocks (`alignments.count_aligned_bases`; a chain or a
     net, e.g. UCSC's hg38-mm10 syntenic net, target = first genome).
  3. A bipartite graph: an edge joins two regions with MORE than
     `min_aligned_bp` (100 kb) aligned bases.
  4. Its connected components (scipy.sparse.csgraph; a region without edges
     is a component of its own) are assigned to splits at random so that
     each split gets close to its target fraction of sequence: components
     are taken largest first (size: the fraction of each genome's region bp
     they hold, summed over the two genomes; equal sizes in a random order
     from `seed`), and each goes to a split drawn with probability
     proportional to what the split still lacks of its target on the
     genomes the component has regions in, among the splits it fits in on
     both; if it fits in none, to the split it overshoots least. Large
     components can so land in valid or test, no split overshoots its
     target while another could take the component, and regions of one
     genome only (isolated ones) fill each genome's own shortfalls.
  5. Check: no edge joins regions of different splits (`edges_cut` in the
     report, always 0).

Fractions are of region bp (N runs included; windows with too many Ns are
dropped later by `enformer-make-data --max_n_fraction`).

Leakage (`homology_leakage`): for a split assignment of both genomes, the
fraction of each organism's valid/test region bp whose region has an edge
to a TRAIN region of the other organism, and the aligned bases between
valid/test regions and train regions of the other genome. It is 0 here by
construction; splitting by chromosome instead (the baseline,
`chromosome_splits`) leaks (docs/homology_splits.md has numbers).
"""
import json
import os
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from enformer_tf import atomic
from enformer_tf.constants import SPLITS
from enformer_tf.data import alignments
from enformer_tf.data import genome

DEFAULT_REGION_SIZE = 1_000_000
DEFAULT_MIN_ALIGNED_BP = 100_000
DEFAULT_FRACTIONS = {'train': 0.9, 'valid': 0.05, 'test': 0.05}


class GenomeRegion(NamedTuple):
  """Region `index` of a chromosome, `[start, end)`, and its split."""
  chrom: str
  index: int
  start: int
  end: int
  split: Optional[str] = None


def genome_regions(chrom_sizes: Mapping[str, int], region_size: int
                   ) -> List[GenomeRegion]:
  """Regions `[i * region_size, min((i + 1) * region_size, size))`."""
  if int(region_size) != region_size or region_size < 1:
    raise ValueError(f'region_size must be a positive integer, got '
                     f'{region_size!r}.')
  return [GenomeRegion(chrom, i, start, min(start + region_size, size))
          for chrom, size in chrom_sizes.items()
          for i, start in enumerate(range(0, size, region_size))]


def _check_fractions(fractions: Mapping[str, float]) -> Dict[str, float]:
  if set(fractions) != set(SPLITS) or any(
      not 0 <= fractions[s] <= 1 for s in SPLITS) or abs(
          sum(fractions.values()) - 1) > 1e-6:
    raise ValueError(f'fractions must give each of {list(SPLITS)} a value '
                     f'in [0, 1], summing to 1, got {dict(fractions)!r}.')
  return {s: float(fractions[s]) for s in SPLITS}


class HomologyGraph(NamedTuple):
  """The regions of both genomes and the edges between them.

  `regions[0]` are the target's, `regions[1]` the query's; node `i` is
  `regions[0][i]` for `i < len(regions[0])`, else a query region. `edges`
  are `(target node, query node, aligned bases)` above the threshold;
  `pairs` holds every pair's aligned bases, above the threshold or not.
  """
  regions: Tuple[List[GenomeRegion], List[GenomeRegion]]
  edges: List[Tuple[int, int, int]]
  pairs: Dict[alignments.PairKey, int]
  skipped_bases: int  # Aligned bases on chromosomes not in the regions.


def homology_graph(chrom_sizes: Tuple[Mapping[str, int], Mapping[str, int]],
                   pairs: Mapping[alignments.PairKey, int], region_size: int,
                   min_aligned_bp: int,
                   genome_chroms: Optional[Tuple[Sequence[str],
                                                 Sequence[str]]] = None
                   ) -> HomologyGraph:
  """The graph of regions joined by more than `min_aligned_bp` bases.

  Args:
    chrom_sizes: (target, query) chromosome -> size of the chromosomes to
      split; pairs on other chromosomes of the genomes are left out
      (counted in `skipped_bases`).
    pairs: `alignments.count_aligned_bases(blocks, region_size)`.
    region_size: bp per region.
    min_aligned_bp: an edge needs more aligned bases than this.
    genome_chroms: (target, query) every chromosome of each genome (default:
      those of `chrom_sizes`); a pair on a chromosome not among them is an
      error.

  Raises:
    ValueError: a pair is on a chromosome the genome lacks, or on a region
      past its chromosome's end (the alignment is of another assembly).
  """
  if genome_chroms is None:
    genome_chroms = tuple(list(sizes) for sizes in chrom_sizes)
  known = tuple(set(chroms) for chroms in genome_chroms)
  regions = tuple(genome_regions(sizes, region_size) for sizes in chrom_sizes)
  nodes = [{(r.chrom, r.index): i + offset for i, r in enumerate(side)}
           for side, offset in zip(regions, (0, len(regions[0])))]
  edges, skipped = [], 0
  for (t_chrom, t_index, q_chrom, q_index), bases in sorted(pairs.items()):
    ends = []
    for side, chrom, index, what in ((0, t_chrom, t_index, 'target'),
                                     (1, q_chrom, q_index, 'query')):
      sizes = chrom_sizes[side]
      if chrom not in sizes and chrom not in known[side]:
        raise ValueError(
            f'the alignment has {what} bases on {chrom}, but ' +
            genome.missing_chromosome_message(
                chrom, genome_chroms[side], f'the {what} FASTA'))
      if chrom in sizes and index * region_size >= sizes[chrom]:
        raise ValueError(
            f'the alignment has {what} bases at {chrom}:{index * region_size}'
            f' or later, past its end in the FASTA ({sizes[chrom]:,} bp): '
            'is the alignment of the same assembly?')
      ends.append(nodes[side].get((chrom, index)))
    if None in ends:
      skipped += bases
    elif bases > min_aligned_bp:
      edges.append((ends[0], ends[1], bases))
  return HomologyGraph(regions, edges, dict(pairs), skipped)


def components(graph: HomologyGraph) -> np.ndarray:
  """Component label of each node (scipy.sparse.csgraph)."""
  n = len(graph.regions[0]) + len(graph.regions[1])
  rows = np.array([e[0] for e in graph.edges], dtype=np.int64)
  cols = np.array([e[1] for e in graph.edges], dtype=np.int64)
  adjacency = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
  _, labels = csgraph.connected_components(adjacency, directed=False)
  return labels


def assign_components(graph: HomologyGraph, labels: np.ndarray,
                      fractions: Mapping[str, float], seed: int
                      ) -> Dict[int, str]:
  """Component label -> split (the module docstring, step 4)."""
  fractions = _check_fractions(fractions)
  target_count = len(graph.regions[0])
  lengths = np.array([r.end - r.start for side in graph.regions
                      for r in side], dtype=np.float64)
  is_target = np.arange(len(lengths)) < target_count
  # Each component's share of each genome's region bp: [components, 2].
  shares = np.stack([
      np.bincount(labels, weights=np.where(is_target, lengths, 0),
                  minlength=labels.max() + 1),
      np.bincount(labels, weights=np.where(is_target, 0, lengths),
                  minlength=labels.max() + 1)], axis=1)
  shares /= np.maximum(shares.sum(axis=0, keepdims=True), 1)
  rng = np.random.default_rng(seed)
  order = rng.permutation(len(shares))
  order = order[np.argsort(-shares[order].sum(axis=1), kind='stable')]
  target = np.array([[fractions[s]] * 2 for s in SPLITS])  # [3, 2]
  assigned = np.zeros_like(target)
  result = {}
  for label in order:
    share = shares[label]
    present = share > 0
    lacking = target - assigned  # [3, 2]
    fits = np.flatnonzero(
        (lacking[:, present] >= share[present] - 1e-12).all(axis=1))
    if fits.size:
      weight = lacking[fits][:, present].sum(axis=1)
      choice = fits[rng.choice(fits.size, p=weight / weight.sum())] \
          if weight.sum() > 0 else fits[0]
    else:  # The split it overshoots least (on its worse genome).
      choice = int(np.argmax((lacking[:, present] -
                              share[present]).min(axis=1)))
    result[int(label)] = SPLITS[choice]
    assigned[choice] += share
  return result


def chromosome_splits(regions: Sequence[GenomeRegion],
                      valid_chroms: Sequence[str],
                      test_chroms: Sequence[str]) -> List[GenomeRegion]:
  """The baseline: regions split by chromosome, as
  `regions.split_by_chromosome` splits windows."""
  valid, test = set(valid_chroms), set(test_chroms)
  return [r._replace(split='valid' if r.chrom in valid else
                     'test' if r.chrom in test else 'train')
          for r in regions]


def homology_leakage(graph: HomologyGraph,
                     split_regions: Tuple[Sequence[GenomeRegion],
                                          Sequence[GenomeRegion]],
                     names: Tuple[str, str] = ('target', 'query')) -> Dict:
  """How much held-out sequence has a homologous partner in train.

  Args:
    graph: `homology_graph` (its regions, in the same order as
      `split_regions`).
    split_regions: both genomes' regions with their split.
    names: organism names for the result's keys.

  Returns:
    Per organism and held-out split (`valid`, `test`): `bp` (region bp),
    `bp_with_train_partner` and `fraction` (bp of regions with an edge to a
    train region of the other genome), `aligned_bp_to_train` (aligned bases
    between these regions and train regions of the other genome, edges or
    not) and `aligned_bp` (all their aligned bases).
  """
  n_target = len(graph.regions[0])
  split_of = [r.split for side in split_regions for r in side]
  length = [r.end - r.start for side in split_regions for r in side]
  partners_in_train = [False] * len(split_of)
  for t, q, _ in graph.edges:
    if split_of[q] == 'train':
      partners_in_train[t] = True
    if split_of[t] == 'train':
      partners_in_train[q] = True
  node = {}
  for side, offset in ((0, 0), (1, n_target)):
    for i, r in enumerate(graph.regions[side]):
      node[side, r.chrom, r.index] = i + offset
  aligned = [0] * len(split_of)
  aligned_train = [0] * len(split_of)
  for (t_chrom, t_index, q_chrom, q_index), bases in graph.pairs.items():
    t, q = node.get((0, t_chrom, t_index)), node.get((1, q_chrom, q_index))
    if t is None or q is None:
      continue
    aligned[t] += bases
    aligned[q] += bases
    if split_of[q] == 'train':
      aligned_train[t] += bases
    if split_of[t] == 'train':
      aligned_train[q] += bases
  result = {}
  for side, name in enumerate(names):
    nodes = range(n_target) if side == 0 else range(n_target, len(split_of))
    result[name] = {}
    for split in ('valid', 'test'):
      held = [i for i in nodes if split_of[i] == split]
      bp = sum(length[i] for i in held)
      leaked = sum(length[i] for i in held if partners_in_train[i])
      result[name][split] = dict(
          bp=bp, bp_with_train_partner=leaked,
          fraction=leaked / bp if bp else 0.0,
          aligned_bp=sum(aligned[i] for i in held),
          aligned_bp_to_train=sum(aligned_train[i] for i in held))
  return result


def split_graph(graph: HomologyGraph,
                fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
                seed: int = 0) -> Tuple[Tuple[List[GenomeRegion],
                                              List[GenomeRegion]], Dict]:
  """Splits the graph's regions by component; returns them and a report."""
  labels = components(graph)
  split_of = assign_components(graph, labels, fractions, seed)
  n_target = len(graph.regions[0])
  split_regions = (
      [r._replace(split=split_of[int(labels[i])])
       for i, r in enumerate(graph.regions[0])],
      [r._replace(split=split_of[int(labels[n_target + i])])
       for i, r in enumerate(graph.regions[1])])
  node_split = [r.split for side in split_regions for r in side]
  cut = sum(node_split[t] != node_split[q] for t, q, _ in graph.edges)
  sizes = np.bincount(labels)
  largest = int(np.argmax(sizes))
  members = np.flatnonzero(labels == largest)
  report = dict(
      components=int(len(sizes)),
      components_per_split={s: sum(1 for v in split_of.values() if v == s)
                            for s in SPLITS},
      edges=len(graph.edges), edges_cut=int(cut),
      largest_component=dict(
          split=split_of[largest],
          regions=[int((members < n_target).sum()),
                   int((members >= n_target).sum())],
          bp=[int(sum(graph.regions[0][i].end - graph.regions[0][i].start
                      for i in members if i < n_target)),
              int(sum(graph.regions[1][i - n_target].end -
                      graph.regions[1][i - n_target].start
                      for i in members if i >= n_target))]))
  return split_regions, report


def _per_split(regions: Sequence[GenomeRegion]) -> Dict:
  total = sum(r.end - r.start for r in regions)
  out = {}
  for split in SPLITS:
    chosen = [r for r in regions if r.split == split]
    bp = sum(r.end - r.start for r in chosen)
    out[split] = dict(regions=len(chosen), bp=bp,
                      fraction=round(bp / total, 6) if total else 0.0)
  return out


def write_regions_bed(path: str, regions: Sequence[GenomeRegion]) -> None:
  """chrom, start, end, split: the BED `enformer-make-data --bed` reads."""
  atomic.write_atomically(path, ''.join(
      f'{r.chrom}\t{r.start}\t{r.end}\t{r.split}\n' for r in regions))


def _chrom_sizes(fasta: str, chroms: Optional[Sequence[str]]
                 ) -> Tuple[Dict[str, int], List[str]]:
  """(sizes of `chroms` or all, every chromosome) of a FASTA."""
  with genome.FastaExtractor(fasta) as extractor:
    sizes = dict(extractor.chromosome_sizes)
    for chrom in chroms or ():
      extractor.check_chromosome(chrom, 'chroms: ')
  return (sizes if chroms is None else {c: sizes[c] for c in chroms},
          list(sizes))


def split_homology(target_fasta: str, query_fasta: str, alignment: str,
                   out_dir: str, *, names: Tuple[str, str] = ('human',
                                                              'mouse'),
                   region_size: int = DEFAULT_REGION_SIZE,
                   min_aligned_bp: int = DEFAULT_MIN_ALIGNED_BP,
                   fractions: Mapping[str, float] = DEFAULT_FRACTIONS,
                   seed: int = 0,
                   target_chroms: Optional[Sequence[str]] = None,
                   query_chroms: Optional[Sequence[str]] = None,
                   baseline_chroms: Optional[Tuple[Sequence[str],
                                                   Sequence[str]]] = None,
                   overwrite: bool = False) -> Dict:
  """Homology-aware splits of two genomes (the module docstring).

  Args:
    target_fasta: FASTA of the alignment's target (first) genome.
    query_fasta: FASTA of its query (second) genome.
    alignment: UCSC chain or net file, plain or gzipped.
    out_dir: directory to create, with `{name}.bed` per genome and
      `report.json`.
    names: the two organisms' names (file names and report keys).
    region_size: bp per region.
    min_aligned_bp: regions with more aligned bases than this are joined.
    fractions: target fraction of sequence per split.
    seed: seed of the assignment.
    target_chroms: use only these target chromosomes (default: all in its
      FASTA); alignments to others are left out.
    query_chroms: the same for the query.
    baseline_chroms: `(valid_chroms, test_chroms)`: also report the leakage
      of splitting both genomes by these chromosomes instead.
    overwrite: replace an existing `out_dir`.

  Returns:
    The report (also written to report.json).

  Raises:
    FileNotFoundError: a missing input.
    FileExistsError: `out_dir` exists and `overwrite` is False.
    ValueError: bad arguments or a malformed alignment (naming file and
      line).
  """
  if len(names) != 2 or names[0] == names[1] or not all(
      isinstance(n, str) and n.replace('-', '_').isidentifier()
      for n in names):
    raise ValueError(f'names must be two different identifiers, got '
                     f'{names!r}.')
  if int(min_aligned_bp) != min_aligned_bp or min_aligned_bp < 0:
    raise ValueError(f'min_aligned_bp must be an integer >= 0, got '
                     f'{min_aligned_bp!r}.')
  fractions = _check_fractions(fractions)
  out_dir = os.path.abspath(os.fspath(out_dir))
  if os.path.lexists(out_dir) and not overwrite and (
      not os.path.isdir(out_dir) or os.listdir(out_dir)):
    raise FileExistsError(f'Output directory {out_dir!r} already exists; '
                          'pass --overwrite (overwrite=True) to replace it.')
  (t_sizes, t_all), (q_sizes, q_all) = (
      _chrom_sizes(target_fasta, target_chroms),
      _chrom_sizes(query_fasta, query_chroms))
  pairs = alignments.count_aligned_bases(
      alignments.read_alignment_blocks(alignment), region_size)
  graph = homology_graph((t_sizes, q_sizes), pairs, region_size,
                         int(min_aligned_bp), (t_all, q_all))
  split_regions, report = split_graph(graph, fractions, seed)
  report = dict(
      alignment=os.path.abspath(alignment), names=list(names),
      region_size=region_size, min_aligned_bp=int(min_aligned_bp),
      fractions=fractions, seed=seed,
      aligned_bp=int(sum(pairs.values())),
      aligned_bp_off_regions=graph.skipped_bases, **report,
      per_split={name: _per_split(r)
                 for name, r in zip(names, split_regions)},
      leakage=homology_leakage(graph, split_regions, names))
  report['largest_component']['regions'] = dict(
      zip(names, report['largest_component']['regions']))
  report['largest_component']['bp'] = dict(
      zip(names, report['largest_component']['bp']))
  if baseline_chroms is not None:
    valid_chroms, test_chroms = baseline_chroms
    baseline = tuple(chromosome_splits(side, valid_chroms, test_chroms)
                     for side in graph.regions)
    report['chromosome_baseline'] = dict(
        valid_chroms=list(valid_chroms), test_chroms=list(test_chroms),
        edges_cut=int(sum(
            baseline[0][t].split != baseline[1][q - len(graph.regions[0])]
            .split for t, q, _ in graph.edges)),
        per_split={name: _per_split(r) for name, r in zip(names, baseline)},
        leakage=homology_leakage(graph, baseline, names))
  with atomic.atomic_directory(out_dir) as work:
    for name, regions in zip(names, split_regions):
      write_regions_bed(os.path.join(work, f'{name}.bed'), regions)
    with open(os.path.join(work, 'report.json'), 'w', encoding='utf-8') as f:
      json.dump(report, f, indent=2)
      f.write('\n')
  return report


def format_report(report: Mapping) -> str:
  """A few lines for the terminal: per organism and split, regions, bp and
  fraction; components, edges, edges cut, the largest component; the
  leakage (and the chromosome baseline's, if computed)."""
  lines = [f'{report["components"]} components, {report["edges"]} edges '
           f'(> {report["min_aligned_bp"]:,} aligned bp between '
           f'{report["region_size"]:,}-bp regions), edges cut: '
           f'{report["edges_cut"]}']
  largest = report['largest_component']
  lines.append('largest component: ' + ', '.join(
      f'{largest["regions"][n]} {n} regions ({largest["bp"][n]:,} bp)'
      for n in report['names']) + f', in {largest["split"]}')
  for name in report['names']:
    for split in SPLITS:
      s = report['per_split'][name][split]
      lines.append(f'{name} {split}: {s["regions"]} regions, {s["bp"]:,} bp '
                   f'({s["fraction"]:.1%})')

  def leak(leakage):
    return ', '.join(
        f'{n} {split} {leakage[n][split]["fraction"]:.1%}'
        for n in report['names'] for split in ('valid', 'test'))

  lines.append('held-out bp with a homologous region in train: ' +
               leak(report['leakage']))
  if 'chromosome_baseline' in report:
    base = report['chromosome_baseline']
    lines.append(f'chromosome split instead (valid {base["valid_chroms"]}, '
                 f'test {base["test_chroms"]}): edges cut '
                 f'{base["edges_cut"]}, held-out bp with a homologous region '
                 f'in train: {leak(base["leakage"])}')
  return '\n'.join(lines)


__all__ = ['DEFAULT_FRACTIONS', 'DEFAULT_MIN_ALIGNED_BP',
           'DEFAULT_REGION_SIZE', 'GenomeRegion', 'HomologyGraph',
           'assign_components', 'chromosome_splits', 'components',
           'format_report', 'genome_regions', 'homology_graph',
           'homology_leakage', 'split_graph', 'split_homology',
           'write_regions_bed']
