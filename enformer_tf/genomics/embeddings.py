"""Enformer embeddings of regions or TSSs, for downstream models.

  write_embeddings(model, 'genome.fa', regions, 'emb.h5', pooling='mean')

Each site gets the `sequence_length` window centred on it (kipoiseq
rounding, `genome.resize_interval`; `N`-padded off the chromosome ends) and
the trunk's output for it, `model.embed`: `[target_length, 2C]` per window
(`2C` = 3,072 for the published model). Then:

  pooling='none'  every output bin: `[sites, target_length, 2C]`;
  pooling='mean'  the mean over the bins that overlap the site (at least
                  the bin holding its centre): `[sites, 2C]`. A TSS is a
                  1-bp site: its own bin.

The HDF5 file holds `embeddings` (float32) and per-site `chrom`, `start`,
`end`, `name`, `first_bin_start` (the genome position of bin 0), with
attributes `pooling`, `bin_size`, `model`. It is written to a temporary
sibling and renamed, so an interrupted run leaves no partial file.
"""
from typing import Optional, Sequence

import h5py
import numpy as np

from enformer_tf.atomic import atomic_path
from enformer_tf.constants import BIN_SIZE
from enformer_tf.data import genome
from enformer_tf.data.annotation import Gene
from enformer_tf.data.encoding import one_hot_encode
from enformer_tf.genomics.intervals import (OutputLayout, Region,
                                            check_regions, output_layout)

POOLINGS = ('none', 'mean')


def tss_regions(genes: Sequence[Gene], all_tss: bool = False
                ) -> list:
  """1-bp regions at each gene's TSS (the first, or every one)."""
  regions = []
  for gene in genes:
    sites = gene.tss if all_tss else gene.tss[:1]
    for i, tss in enumerate(sites):
      name = gene.name if len(sites) == 1 else f'{gene.name}_{i}'
      regions.append(Region(gene.chrom, int(tss), int(tss) + 1, name))
  return regions


def window_start(region: Region, layout: OutputLayout) -> int:
  """Start of the input window centred on `region` (kipoiseq rounding)."""
  return int(genome.resize_interval(region, layout.sequence_length).start)


def site_bins(region: Region, layout: OutputLayout, start: int
              ) -> slice:
  """Output bins of the window at `start` that overlap `region`, clipped
  to the window; the centre's bin if the region is empty."""
  first_bin_start = start + layout.crop_bp
  lo = (region.start - first_bin_start) // BIN_SIZE
  hi = -(-(region.end - first_bin_start) // BIN_SIZE)
  lo, hi = max(lo, 0), min(hi, layout.num_bins)
  if hi <= lo:
    centre = ((region.start + region.end) // 2 - first_bin_start) // BIN_SIZE
    centre = min(max(centre, 0), layout.num_bins - 1)
    lo, hi = centre, centre + 1
  return slice(lo, hi)


def embed_batch(model, one_hot: np.ndarray) -> np.ndarray:
  """`model.embed` in inference: `[B, L, 4]` -> `[B, bins, 2C]` float32."""
  return np.asarray(model.embed(one_hot, training=False), dtype=np.float32)


def write_embeddings(model, fasta, regions: Sequence[Region],
                     output_path: str, pooling: str = 'mean',
                     batch_size: int = 4,
                     model_name: str = '') -> int:
  """Embeds `regions` in batches and writes them to `output_path` (HDF5).

  Args:
    model: an `Enformer` with a `sequence_length`.
    fasta: a FASTA path or `genome.FastaExtractor`.
    regions: sites to embed (`intervals.read_regions`, `tss_regions`).
    output_path: the `.h5` file to write.
    pooling: `'none'` (per bin) or `'mean'` (over the site's bins).
    batch_size: windows per forward pass.
    model_name: recorded in the file's `model` attribute.

  Returns:
    The number of sites written.
  """
  if pooling not in POOLINGS:
    raise ValueError(f'pooling must be one of {POOLINGS}, got {pooling!r}.')
  if int(batch_size) != batch_size or batch_size < 1:
    raise ValueError(f'batch_size must be a positive integer, got '
                     f'{batch_size!r}.')
  regions = list(regions)
  if not regions:
    raise ValueError('No regions to embed.')
  layout = output_layout(model)
  own = isinstance(fasta, str)
  extractor = genome.FastaExtractor(fasta) if own else fasta
  try:
    check_regions(regions, extractor)
    starts = [window_start(r, layout) for r in regions]
    with atomic_path(output_path) as temporary:
      with h5py.File(temporary, 'w') as out:
        dataset = None
        for first in range(0, len(regions), int(batch_size)):
          batch = range(first, min(first + int(batch_size), len(regions)))
          one_hot = np.stack([one_hot_encode(extractor.extract(
              regions[i].chrom, starts[i], starts[i] + layout.sequence_length
          ).upper()) for i in batch])
          embedding = embed_batch(model, one_hot)  # [b, bins, D]
          if pooling == 'mean':
            embedding = np.stack([
                embedding[j, site_bins(regions[i], layout, starts[i])].mean(0)
                for j, i in enumerate(batch)])  # [b, D]
          if dataset is None:
            dataset = out.create_dataset(
                'embeddings', shape=(len(regions),) + embedding.shape[1:],
                dtype='float32', chunks=(1,) + embedding.shape[1:])
          dataset[batch.start:batch.stop] = embedding
        text = h5py.string_dtype()
        out['chrom'] = np.array([r.chrom for r in regions], dtype=object
                                ).astype(text)
        out['name'] = np.array([r.label for r in regions], dtype=object
                               ).astype(text)
        out['start'] = np.array([r.start for r in regions], np.int64)
        out['end'] = np.array([r.end for r in regions], np.int64)
        out['first_bin_start'] = np.array(starts, np.int64) + layout.crop_bp
        out.attrs['pooling'] = pooling
        out.attrs['bin_size'] = BIN_SIZE
        out.attrs['model'] = model_name
  finally:
    if own:
      extractor.close()
  return len(regions)


def read_embeddings(path: str, names: Optional[Sequence[str]] = None):
  """`(embeddings, names)` from a file of `write_embeddings`."""
  with h5py.File(path, 'r') as f:
    embeddings = f['embeddings'][()]
    all_names = [n.decode() if isinstance(n, bytes) else n
                 for n in f['name'][()]]
  if names is None:
    return embeddings, all_names
  index = {n: i for i, n in enumerate(all_names)}
  missing = [n for n in names if n not in index]
  if missing:
    raise ValueError(f'{path} has no embeddings for {missing[:5]}.')
  return embeddings[[index[n] for n in names]], list(names)


def embed_to_file(model_path: str, fasta: str, output_path: str,
                  bed: Optional[str] = None, genes: Optional[str] = None,
                  pooling: str = 'mean', batch_size: int = 4,
                  all_tss: bool = False,
                  gene_types: Optional[Sequence[str]] = None) -> int:
  """`enformer-embed` from paths: the sites of a BED file or the TSSs of an
  annotation (GTF, GFF3, TSS BED), embedded with the model at `model_path`
  (`io.load_model`). Returns the number of sites written."""
  from enformer_tf import io  # pylint: disable=import-outside-toplevel
  from enformer_tf.data.annotation import read_genes  # pylint: disable=import-outside-toplevel
  from enformer_tf.genomics.intervals import read_regions  # pylint: disable=import-outside-toplevel
  # gene_types None keeps every type.
  if (bed is None) == (genes is None):
    raise ValueError('Give exactly one of --bed (regions) and --genes (an '
                     'annotation whose TSSs are embedded).')
  if bed is not None:
    regions = read_regions(bed)
  else:
    annotation = read_genes(genes, gene_types=gene_types)
    if not annotation:
      raise ValueError(f'{genes} has no genes'
                       + (f' of types {list(gene_types)}.' if gene_types
                          else '.'))
    regions = tss_regions(annotation, all_tss=all_tss)
  model = io.load_model(model_path)
  return write_embeddings(model, fasta, regions, output_path,
                          pooling=pooling, batch_size=batch_size,
                          model_name=str(model_path))
