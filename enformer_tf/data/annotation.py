"""Gene annotations: genes with every transcript's TSS, from GTF, GFF3 or BED.

  read_genes('gencode.v44.annotation.gtf.gz')       protein-coding genes
  read_genes('Homo_sapiens.GRCh38.110.gff3.gz', gene_types=None)  all genes
  read_genes('tss.bed', chroms=['chr1', 'chr2'])    a TSS table

GTF and GFF3 (GENCODE, Ensembl; plain or gzipped) are parsed by pyranges (a
dependency of kipoiseq already, so no extra install), after a strict pass
over the columns this module relies on, so that a malformed record is an
error naming its file and line rather than a pandas traceback.

Coordinates. GTF/GFF3 are 1-based and closed; BED and everything returned
here are 0-based: a TSS is the 0-based position of the transcript's first
base, `start - 1` on `+` and `end - 1` on `-` in GTF terms (REFERENCE.md §9).
A TSS BED holds one line per TSS: `chrom, start, end, gene_id, score,
strand[, gene_name[, gene_type]]`, the TSS being `start` (0-based).
"""
import dataclasses
import gzip
import os
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from enformer_tf import atomic

DEFAULT_GENE_TYPES = ('protein_coding',)
# GENCODE writes gene_type, Ensembl GTF gene_biotype, Ensembl GFF3 biotype.
_TYPE_KEYS = ('gene_type', 'gene_biotype', 'biotype')
# GFF3 feature types that are transcripts of a gene (Sequence Ontology).
_GFF3_TRANSCRIPTS = frozenset({
    'transcript', 'mRNA', 'lnc_RNA', 'ncRNA', 'miRNA', 'snRNA', 'snoRNA',
    'rRNA', 'tRNA', 'pseudogenic_transcript', 'unconfirmed_transcript',
    'primary_transcript', 'scRNA', 'V_gene_segment', 'C_gene_segment',
    'D_gene_segment', 'J_gene_segment', 'NMD_transcript_variant'})


@dataclasses.dataclass(frozen=True)
class Gene:
  """One gene and its transcription start sites.

  Attributes:
    gene_id: the annotation's identifier (e.g. `ENSG00000141510.18`).
    name: gene name (`TP53`), or the id if the annotation gives none.
    gene_type: biotype (`protein_coding`, `lncRNA`, ...), `''` if unknown.
    chrom: chromosome, as the annotation names it.
    strand: `+` or `-`.
    tss: 0-based TSS positions, unique and sorted.
    transcripts: transcript ids, in the order of `tss_of_transcript`.
    tss_of_transcript: each transcript's TSS.
  """
  gene_id: str
  name: str
  gene_type: str
  chrom: str
  strand: str
  tss: Tuple[int, ...]
  transcripts: Tuple[str, ...] = ()
  tss_of_transcript: Tuple[int, ...] = ()


def _open_text(path: str):
  with open(path, 'rb') as f:
    gzipped = f.read(2) == b'\x1f\x8b'
  if gzipped:
    return gzip.open(path, 'rt', encoding='utf-8')
  return open(path, encoding='utf-8')


def annotation_format(path: str) -> str:
  """'gtf', 'gff3' or 'bed', from the file name (`.gz` is looked through)."""
  name = os.path.basename(os.fspath(path)).lower()
  if name.endswith('.gz'):
    name = name[:-3]
  for suffix, kind in (('.gtf', 'gtf'), ('.gff3', 'gff3'), ('.gff', 'gff3'),
                       ('.bed', 'bed')):
    if name.endswith(suffix):
      return kind
  raise ValueError(f'{path}: cannot tell the annotation format from the name; '
                   'expected .gtf, .gff3, .gff or .bed (optionally .gz).')


def _check_gff_lines(path: str) -> int:
  """Checks columns 1-8 of every record; returns the number of records."""
  records = 0
  with _open_text(path) as f:
    for line_no, line in enumerate(f, 1):
      if not line.strip() or line.startswith('#'):
        continue
      fields = line.rstrip('\r\n').split('\t')
      where = f'{path}, line {line_no}'
      if len(fields) != 9:
        raise ValueError(f'{where}: expected 9 tab-separated columns, found '
                         f'{len(fields)}.')
      start, end = fields[3], fields[4]
      if not (start.isdigit() and end.isdigit()):
        raise ValueError(f'{where}: start and end (columns 4-5) must be '
                         f'positive integers, got {start!r} and {end!r}.')
      if not 1 <= int(start) <= int(end):
        raise ValueError(f'{where}: expected 1 <= start <= end (1-based, '
                         f'closed), got start {start}, end {end}.')
      if fields[6] not in ('+', '-', '.', '?'):
        raise ValueError(f'{where}: strand (column 7) must be +, - or ., '
                         f'got {fields[6]!r}.')
      records += 1
  return records


def _first(row, keys: Sequence[str]) -> str:
  for key in keys:
    value = row.get(key)
    if isinstance(value, str) and value:
      return value
  return ''


def _gene_from_transcripts(gene_id, name, gene_type, chrom, strand,
                           transcripts: Sequence[Tuple[str, int]]) -> Gene:
  return Gene(gene_id=gene_id, name=name or gene_id, gene_type=gene_type,
              chrom=chrom, strand=strand,
              tss=tuple(sorted({tss for _, tss in transcripts})),
              transcripts=tuple(t for t, _ in transcripts),
              tss_of_transcript=tuple(tss for _, tss in transcripts))


def _tss(start0: int, end0: int, strand: str) -> int:
  """0-based TSS of a 0-based half-open feature."""
  return start0 if strand == '+' else end0 - 1


def _genes_from_frame(frame, path: str, gff3: bool) -> List[Gene]:
  """Genes from a pyranges data frame (0-based `Start`, exclusive `End`)."""
  records = frame.to_dict('records')
  genes: Dict[str, dict] = {}
  order: List[str] = []
  transcripts: Dict[str, List[Tuple[str, int]]] = {}

  def gene_entry(gene_id, row):
    if gene_id not in genes:
      order.append(gene_id)
      genes[gene_id] = dict(chrom=str(row['Chromosome']),
                            strand=str(row['Strand']), name='', gene_type='',
                            span=None)
    return genes[gene_id]

  for row in records:
    feature = str(row['Feature'])
    if gff3:
      row_id = _first(row, ('ID',))
      if feature == 'gene' or (row_id.startswith('gene:') and not
                               row.get('Parent')):
        entry = gene_entry(row_id, row)
        entry['name'] = _first(row, ('Name', 'gene_name'))
        entry['gene_type'] = _first(row, _TYPE_KEYS)
        entry['span'] = (int(row['Start']), int(row['End']))
        entry['gene_id'] = _first(row, ('gene_id',)) or row_id.split(':')[-1]
      elif feature in _GFF3_TRANSCRIPTS and row.get('Parent'):
        parent = str(row['Parent']).split(',')[0]
        transcripts.setdefault(parent, []).append(
            (row_id.split(':')[-1] or f'{parent}.{len(transcripts)}',
             _tss(int(row['Start']), int(row['End']), str(row['Strand']))))
    else:
      gene_id = _first(row, ('gene_id',))
      if not gene_id:
        continue
      entry = gene_entry(gene_id, row)
      entry['name'] = entry['name'] or _first(row, ('gene_name',))
      entry['gene_type'] = entry['gene_type'] or _first(row, _TYPE_KEYS)
      entry['gene_id'] = gene_id
      if feature == 'gene':
        entry['span'] = (int(row['Start']), int(row['End']))
      elif feature == 'transcript':
        transcripts.setdefault(gene_id, []).append(
            (_first(row, ('transcript_id',)) or
             f'{gene_id}.{len(transcripts.get(gene_id, ()))}',
             _tss(int(row['Start']), int(row['End']), str(row['Strand']))))
  result = []
  for key in order:
    entry = genes[key]
    if entry['strand'] not in ('+', '-'):
      raise ValueError(f'{path}: gene {entry.get("gene_id", key)} has no '
                       f'strand ({entry["strand"]!r}); a TSS needs + or -.')
    found = transcripts.get(key)
    if not found:
      if entry['span'] is None:
        continue  # Exons of a gene without gene or transcript lines.
      # A gene without transcript records: its own start is its TSS.
      found = [(entry.get('gene_id', key),
                _tss(*entry['span'], entry['strand']))]
    result.append(_gene_from_transcripts(
        entry.get('gene_id', key), entry['name'], entry['gene_type'],
        entry['chrom'], entry['strand'], found))
  return result


def _read_gff(path: str, gff3: bool) -> List[Gene]:
  import pyranges  # pylint: disable=g-import-not-at-top  (pandas is slow)

  if not _check_gff_lines(path):
    return []
  reader = pyranges.read_gff3 if gff3 else pyranges.read_gtf
  try:
    frame = reader(path, as_df=True)
  except Exception as e:  # pylint: disable=broad-except  (pandas errors)
    raise ValueError(f'{path}: could not parse the attributes (column 9): '
                     f'{" ".join(str(e).split())}') from e
  return _genes_from_frame(frame, path, gff3)


def _read_tss_bed(path: str) -> List[Gene]:
  genes: Dict[str, dict] = {}
  with _open_text(path) as f:
    for line_no, line in enumerate(f, 1):
      if (not line.strip() or line.startswith(('#', 'track', 'browser'))):
        continue
      fields = line.rstrip('\r\n').split('\t')
      where = f'{path}, line {line_no}'
      if len(fields) < 6:
        raise ValueError(f'{where}: a TSS BED line needs 6 columns (chrom, '
                         'start, end, gene_id, score, strand), found '
                         f'{len(fields)}.')
      chrom, start, end, gene_id, _, strand = fields[:6]
      if not (start.isdigit() and end.isdigit()) or int(end) <= int(start):
        raise ValueError(f'{where}: expected 0 <= start < end (0-based, '
                         f'half-open), got {start!r}, {end!r}.')
      if strand not in ('+', '-'):
        raise ValueError(f'{where}: strand (column 6) must be + or -, got '
                         f'{strand!r}.')
      entry = genes.setdefault(gene_id, dict(
          chrom=chrom, strand=strand, tss=[],
          name=fields[6] if len(fields) > 6 else gene_id,
          gene_type=fields[7] if len(fields) > 7 else ''))
      if (entry['chrom'], entry['strand']) != (chrom, strand):
        raise ValueError(f'{where}: gene {gene_id} was on {entry["chrom"]} '
                         f'{entry["strand"]} before, here on {chrom} '
                         f'{strand}.')
      entry['tss'].append((f'{gene_id}.{len(entry["tss"])}', int(start)))
  return [_gene_from_transcripts(gene_id, e['name'], e['gene_type'],
                                 e['chrom'], e['strand'], e['tss'])
          for gene_id, e in genes.items()]


def read_genes(path: str,
               gene_types: Optional[Iterable[str]] = DEFAULT_GENE_TYPES,
               chroms: Optional[Iterable[str]] = None) -> List[Gene]:
  """The genes of an annotation file, with every transcript's TSS.

  Args:
    path: a GTF, GFF3 or TSS BED file, plain or gzipped (format from the
      name: `.gtf`, `.gff3`/`.gff`, `.bed`, each optionally `.gz`).
    gene_types: keep genes of these types (default protein-coding); `None`
      keeps all. A BED without a type column has type `''`: pass `None`.
    chroms: keep genes on these chromosomes (`None`: all).

  Returns:
    Genes in file order.

  Raises:
    FileNotFoundError: no file at `path`.
    ValueError: an unknown format, or a malformed record (naming the file
      and line).
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No annotation file at {path}.')
  kind = annotation_format(path)
  if kind == 'bed':
    genes = _read_tss_bed(path)
  else:
    genes = _read_gff(path, gff3=kind == 'gff3')
  if gene_types is not None:
    wanted = set(gene_types)
    genes = [g for g in genes if g.gene_type in wanted]
  if chroms is not None:
    wanted_chroms = set(chroms)
    genes = [g for g in genes if g.chrom in wanted_chroms]
  return genes


def match_chromosome_names(genes: Sequence[Gene],
                           genome_chroms: Iterable[str]) -> List[Gene]:
  """`genes` with chromosome names as the genome spells them.

  GENCODE writes `chr1`, Ensembl `1`: a gene on `1` is moved to `chr1` when
  the genome has `chr1` and no `1` (and the other way round). Genes on
  chromosomes the genome lacks are kept as they are (callers report them).
  """
  names = set(genome_chroms)

  def renamed(chrom: str) -> str:
    if chrom in names:
      return chrom
    if chrom.startswith('chr') and chrom[3:] in names:
      return chrom[3:]
    if 'chr' + chrom in names:
      return 'chr' + chrom
    if chrom in ('MT', 'chrMT') and 'chrM' in names:
      return 'chrM'
    return chrom

  return [dataclasses.replace(g, chrom=renamed(g.chrom)) for g in genes]


def write_tss_bed(genes: Sequence[Gene], path: str) -> None:
  """One line per (gene, unique TSS), readable by `read_genes`."""
  lines = [f'{g.chrom}\t{tss}\t{tss + 1}\t{g.gene_id}\t0\t{g.strand}\t'
           f'{g.name}\t{g.gene_type}\n' for g in genes for tss in g.tss]
  atomic.write_atomically(path, ''.join(lines))
