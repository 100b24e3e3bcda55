"""UCSC pairwise alignments: chain and net files, read into aligned blocks,
and aligned bases counted per pair of genome regions.

  blocks = read_alignment_blocks('hg38.mm10.syn.net.gz')   # or .chain(.gz)
  counts = count_aligned_bases(blocks, region_size=1_000_000)
  counts[('chr1', 3, 'chr4', 17)]  # bases of hg38 chr1:3-4 Mb aligned to
                                   # mm10 chr4:17-18 Mb

Formats (REFERENCE.md section 11; UCSC "Chain Format" and kent's
chainNet.c). The target is the first genome (hg38 in hg38ToMm10 chains and
in hg38.mm10 nets), the query the second.

  chain  `chain score tName tSize tStrand tStart tEnd qName qSize qStrand
         qStart qEnd [id]`, then lines `size dt dq` (an aligned block of
         `size` bases, then `dt` unaligned target and `dq` unaligned query
         bases) and a last line `size`. 0-based, half-open. On the `-` query
         strand the query positions count from the end of the
         reverse-complemented chromosome; they are converted here: query
         position `p` on `-` is `qSize - 1 - p` on `+`. UCSC chains have
         `tStrand` `+`; `-` is refused.
  net    `net tName tSize`, then `fill tStart tSize qName qStrand qStart
         qSize [key value]...` and `gap` lines of the same shape, nested by
         indentation (a gap inside the fill one space less indented, fills
         of other chains inside gaps). Query coordinates in nets are on the
         `+` strand already (chainNet reverses them), for fills and gaps.

What is counted. A chain gives base-level blocks: every aligned base is
counted once, at its own position in both genomes. A net has no blocks,
only fills (the span of one chain in a level of the net) and the gaps
inside them; its `ali` field is the number of aligned bases in the fill but
says nothing of where they are, so it cannot be split between regions.
Here each fill is cut at its direct gap children into ungapped stretches,
and each stretch counts as ONE gapless block of `min(target length, query
length)` bases, starting at the stretch's start on both genomes (on `-`,
its target start aligned to its query end). Fills nested in gaps are other
chains and count as their own blocks. This equals the chain count when the
net lists every gap of its chains that covers target bases (then each
stretch is one chain block); a real net omits gaps shorter than chainNet's
`minSpace` (25 bp) and the query-only insertions, so it counts those bases
as aligned and may place a stretch's query bases up to the sum of the
omitted insertions from where the chain puts them: differences of a few
percent at most, immaterial against the paper's 100 kb threshold per 1 Mb
region pair. `ali` is read (and checked) and kept on `NetFill`.

Blocks that straddle a region boundary on either genome are split there,
so each base is counted for the pair of regions that holds it.

Why a small reader of our own: on PyPI (July 2026), pyliftover and
liftover read chain files only to lift single positions (the blocks are
not exposed), CrossMap reads them the same way through bx-python, and
bx-python has no chain or net reader for UCSC files; none reads nets or
reports a malformed line with its file and line. The formats are small, so
a strict reader here (every field checked, errors naming file and line) is
less code than adapting one of those.
"""
import dataclasses
import gzip
import os
from typing import (Dict, Iterable, Iterator, List, NamedTuple, Optional,
                    Tuple)

PairKey = Tuple[str, int, str, int]  # (tName, t region, qName, q region).


class AlignedBlock(NamedTuple):
  """A gapless alignment of `size` bases, both coordinates on `+`.

  On `+`, target base `t_start + k` is aligned to query base `q_start + k`;
  on `-` (an inversion), to query base `q_start + size - 1 - k`.
  """
  t_name: str
  t_start: int
  q_name: str
  q_start: int
  size: int
  strand: str


@dataclasses.dataclass(frozen=True)
class Chain:
  """A chain header (strand coordinates as in the file) and its blocks."""
  score: float
  t_name: str
  t_size: int
  t_start: int
  t_end: int
  q_name: str
  q_size: int
  q_strand: str
  q_start: int
  q_end: int
  chain_id: str
  blocks: Tuple[AlignedBlock, ...]
  line: int  # Line of the header.


@dataclasses.dataclass(frozen=True)
class NetFill:
  """One fill of a net, its gaps and its stretches as `AlignedBlock`s."""
  t_name: str
  t_start: int
  t_size: int
  q_name: str
  q_strand: str
  q_start: int
  q_size: int
  ali: Optional[int]
  gaps: Tuple[Tuple[int, int, int, int], ...]  # (tStart, tSize, qStart, qSize)
  blocks: Tuple[AlignedBlock, ...]
  line: int


def open_text(path: str):
  """A text stream of a plain or gzipped file (gzip told by its magic)."""
  path = os.fspath(path)
  if os.path.isdir(path):
    raise IsADirectoryError(f'alignment file {path!r} is a directory.')
  if not os.path.isfile(path):
    raise FileNotFoundError(f'alignment file {path!r} not found.')
  with open(path, 'rb') as f:
    gzipped = f.read(2) == b'\x1f\x8b'
  if gzipped:
    return gzip.open(path, 'rt', encoding='ascii', errors='strict')
  return open(path, encoding='ascii', errors='strict')


def _lines(path: str) -> Iterator[Tuple[int, str]]:
  """(1-based line number, line without its end), errors naming the line."""
  number = 0
  with open_text(path) as f:
    try:
      for number, line in enumerate(f, 1):
        yield number, line.rstrip('\r\n')
    except (UnicodeDecodeError, EOFError, OSError) as e:
      raise ValueError(f'{path}, line {number + 1}: unreadable ({e}); '
                       'expected an ASCII chain or net file, plain or '
                       'gzipped.') from None


def _int(text: str, where: str, what: str, minimum: int = 0) -> int:
  if not (text.isascii() and text.isdigit()) or int(text) < minimum:
    raise ValueError(f'{where}: {what} must be an integer >= {minimum}, got '
                     f'{text!r}.')
  return int(text)


def _strand(text: str, where: str, what: str) -> str:
  if text not in ('+', '-'):
    raise ValueError(f'{where}: {what} must be + or -, got {text!r}.')
  return text


def _plus(start: int, end: int, size: int, strand: str) -> Tuple[int, int]:
  """[start, end) on `strand` of a sequence of `size`, as `+` coordinates."""
  return (start, end) if strand == '+' else (size - end, size - start)


# -- Chains -------------------------------------------------------------------


def _chain_header(fields: List[str], where: str) -> dict:
  if len(fields) not in (12, 13):
    raise ValueError(f'{where}: a chain header has 12 or 13 fields (chain '
                     'score tName tSize tStrand tStart tEnd qName qSize '
                     f'qStrand qStart qEnd [id]), found {len(fields)}.')
  try:
    score = float(fields[1])
  except ValueError:
    raise ValueError(f'{where}: score must be a number, got '
                     f'{fields[1]!r}.') from None
  header = dict(
      score=score, t_name=fields[2], t_size=_int(fields[3], where, 'tSize', 1),
      t_strand=_strand(fields[4], where, 'tStrand'),
      t_start=_int(fields[5], where, 'tStart'),
      t_end=_int(fields[6], where, 'tEnd'), q_name=fields[7],
      q_size=_int(fields[8], where, 'qSize', 1),
      q_strand=_strand(fields[9], where, 'qStrand'),
      q_start=_int(fields[10], where, 'qStart'),
      q_end=_int(fields[11], where, 'qEnd'),
      chain_id=fields[12] if len(fields) == 13 else '')
  if header['t_strand'] != '+':
    raise ValueError(f'{where}: tStrand is -, which UCSC chains never have; '
                     'swap target and query.')
  for side in ('t', 'q'):
    start, end, size = (header[f'{side}_{k}'] for k in ('start', 'end',
                                                        'size'))
    if not start <= end <= size:
      raise ValueError(f'{where}: expected {side}Start <= {side}End <= '
                       f'{side}Size, got {start}, {end}, {size}.')
  return header


def read_chains(path: str) -> Iterator[Chain]:
  """The chains of a UCSC chain file (plain or gzipped), one at a time.

  Raises:
    FileNotFoundError: no such file.
    ValueError: a malformed line (naming file and line): wrong field count,
      a non-integer or negative number, a strand other than + or -, blocks
      outside or not reaching the header's tEnd / qEnd, a block line outside
      a chain, or a chain not closed by its last `size` line.
  """
  path = os.fspath(path)
  header, header_line, blocks = None, 0, []
  t = q = 0
  number = 0
  for number, line in _lines(path):
    where = f'{path}, line {number}'
    fields = line.split()
    if not fields or fields[0].startswith('#'):
      continue
    if fields[0] == 'chain':
      if header is not None:
        raise ValueError(f'{where}: a new chain starts before the chain of '
                         f'line {header_line} ended with its last `size` '
                         'line.')
      header, header_line, blocks = _chain_header(fields, where), number, []
      t, q = header['t_start'], header['q_start']
      continue
    if header is None:
      raise ValueError(f'{where}: expected a `chain` header line, got '
                       f'{line[:60]!r}.')
    if len(fields) not in (1, 3):
      raise ValueError(f'{where}: a block line is `size dt dq`, or `size` '
                       f'for the last block, found {len(fields)} fields.')
    size = _int(fields[0], where, 'size', 1)
    q_plus = _plus(q, q + size, header['q_size'], header['q_strand'])[0]
    blocks.append(AlignedBlock(header['t_name'], t, header['q_name'],
                               q_plus, size, header['q_strand']))
    t, q = t + size, q + size
    if len(fields) == 3:
      t += _int(fields[1], where, 'dt')
      q += _int(fields[2], where, 'dq')
    if t > header['t_end'] or q > header['q_end']:
      raise ValueError(f'{where}: the blocks run past the chain of line '
                       f'{header_line} (tEnd {header["t_end"]}, qEnd '
                       f'{header["q_end"]}; reached {t}, {q}).')
    if len(fields) == 1:
      if (t, q) != (header['t_end'], header['q_end']):
        raise ValueError(f'{where}: the chain of line {header_line} ends at '
                         f'{t}, {q}; its header says tEnd {header["t_end"]}, '
                         f'qEnd {header["q_end"]}.')
      yield Chain(header['score'], header['t_name'], header['t_size'],
                  header['t_start'], header['t_end'], header['q_name'],
                  header['q_size'], header['q_strand'], header['q_start'],
                  header['q_end'], header['chain_id'], tuple(blocks),
                  header_line)
      header = None
  if header is not None:
    raise ValueError(f'{path}, line {number}: the file ends inside the chain '
                     f'of line {header_line} (no last `size` line).')


# -- Nets ---------------------------------------------------------------------


def _net_record(fields: List[str], where: str) -> dict:
  kind = fields[0]
  if len(fields) < 7 or (len(fields) - 7) % 2:
    raise ValueError(f'{where}: a {kind} line is `{kind} tStart tSize qName '
                     'qStrand qStart qSize` then key-value pairs, found '
                     f'{len(fields)} fields.')
  record = dict(t_start=_int(fields[1], where, 'tStart'),
                t_size=_int(fields[2], where, 'tSize'), q_name=fields[3],
                q_strand=_strand(fields[4], where, 'qStrand'),
                q_start=_int(fields[5], where, 'qStart'),
                q_size=_int(fields[6], where, 'qSize'), ali=None)
  extra = dict(zip(fields[7::2], fields[8::2]))
  if 'ali' in extra:
    record['ali'] = _int(extra['ali'], where, 'ali')
  return record


def _fill_blocks(t_name: str, fill: dict, gaps, where: str
                 ) -> Tuple[AlignedBlock, ...]:
  """A fill's ungapped stretches, each one gapless block (module doc)."""
  blocks = []
  t_lo = fill['t_start']
  q_lo, q_hi = fill['q_start'], fill['q_start'] + fill['q_size']
  minus = fill['q_strand'] == '-'
  cuts = sorted(gaps) + [(fill['t_start'] + fill['t_size'], 0,
                          q_lo if minus else q_hi, 0)]
  q_cursor = q_hi if minus else q_lo  # Query end (-) or start (+) of next.
  for g_t, g_tsize, g_q, g_qsize in cuts:
    if g_t < t_lo:
      raise ValueError(f'{where}: gaps of the fill overlap or leave the '
                       f'fill (a gap at {g_t}, the fill reached {t_lo}).')
    if minus:
      q_seg = (g_q + g_qsize, q_cursor)
      q_cursor = g_q
    else:
      q_seg = (q_cursor, g_q)
      q_cursor = g_q + g_qsize
    if q_seg[1] < q_seg[0]:
      raise ValueError(f'{where}: the query coordinates of the fill and its '
                       'gaps are out of order for its strand.')
    size = min(g_t - t_lo, q_seg[1] - q_seg[0])
    if size > 0:
      blocks.append(AlignedBlock(t_name, t_lo, fill['q_name'],
                                 q_seg[1] - size if minus else q_seg[0], size,
                                 fill['q_strand']))
    t_lo = g_t + g_tsize
  return tuple(blocks)


def read_net(path: str) -> Iterator[NetFill]:
  """The fills of a UCSC net file (plain or gzipped), at every depth.

  Raises:
    FileNotFoundError: no such file.
    ValueError: a malformed line (naming file and line): an unknown line
      kind, wrong field count, a non-integer, a bad strand, a fill or gap
      outside the chromosome or its parent, or nesting that is not fill >
      gap > fill.
  """
  path = os.fspath(path)
  t_name, t_size = None, 0
  stack: List[Tuple[int, str, dict]] = []  # (indent, kind, record).

  def close(indent):
    while stack and stack[-1][0] >= indent:
      _, kind, record = stack.pop()
      if kind == 'fill':
        yield NetFill(t_name, record['t_start'], record['t_size'],
                      record['q_name'], record['q_strand'],
                      record['q_start'], record['q_size'], record['ali'],
                      tuple(record['gaps']),
                      _fill_blocks(t_name, record, record['gaps'],
                                   f'{path}, line {record["line"]}'),
                      record['line'])

  for number, line in _lines(path):
    where = f'{path}, line {number}'
    fields = line.split()
    if not fields or fields[0].startswith('#'):
      continue
    indent = len(line) - len(line.lstrip(' '))
    kind = fields[0]
    if kind == 'net':
      yield from close(0)
      if indent or len(fields) != 3:
        raise ValueError(f'{where}: a net line is `net tName tSize`, not '
                         'indented.')
      t_name, t_size = fields[1], _int(fields[2], where, 'tSize', 1)
      continue
    if kind not in ('fill', 'gap'):
      raise ValueError(f'{where}: expected a net, fill or gap line, got '
                       f'{kind[:20]!r}.')
    if t_name is None:
      raise ValueError(f'{where}: a {kind} line before any `net` line.')
    yield from close(indent)
    record = dict(_net_record(fields, where), line=number, gaps=[])
    parent = stack[-1] if stack else None
    if kind == 'gap' and (parent is None or parent[1] != 'fill'):
      raise ValueError(f'{where}: a gap must be nested (indented) in a fill.')
    if kind == 'fill' and parent is not None and parent[1] != 'gap':
      raise ValueError(f'{where}: a fill must be at the top of a net or '
                       'nested in a gap.')
    t_end = record['t_start'] + record['t_size']
    low, high = (0, t_size) if parent is None else (
        parent[2]['t_start'], parent[2]['t_start'] + parent[2]['t_size'])
    if not low <= record['t_start'] <= t_end <= high:
      raise ValueError(f'{where}: the {kind} [{record["t_start"]}, {t_end}) '
                       f'is not inside its {"parent" if parent else t_name} '
                       f'[{low}, {high}).')
    if kind == 'fill' and record['t_size'] == 0:
      raise ValueError(f'{where}: a fill of size 0.')
    if kind == 'gap':
      parent[2]['gaps'].append((record['t_start'], record['t_size'],
                                record['q_start'], record['q_size']))
    stack.append((indent, kind, record))
  yield from close(0)


# -- Blocks and counts --------------------------------------------------------


def alignment_format(path: str) -> str:
  """'chain' or 'net', from the first word of the first record line."""
  where = f'{path}, line 1'
  for number, line in _lines(path):
    words = line.split()
    if not words or words[0].startswith('#'):
      continue
    if words[0] == 'chain':
      return 'chain'
    if words[0] == 'net':
      return 'net'
    where = f'{path}, line {number}'
    break
  raise ValueError(f'{where}: not a UCSC chain or net file (its first record '
                   f'line starts with neither `chain` nor `net`).')


def read_alignment_blocks(path: str) -> Iterator[AlignedBlock]:
  """The aligned blocks of a chain or net file (format from its content)."""
  if alignment_format(path) == 'chain':
    for chain in read_chains(path):
      yield from chain.blocks
  else:
    for fill in read_net(path):
      yield from fill.blocks


def split_block(block: AlignedBlock, region_size: int
                ) -> Iterator[Tuple[int, int, int]]:
  """`(t region, q region, bases)` of a block cut at region boundaries.

  Regions are `[i * region_size, (i + 1) * region_size)` of each
  chromosome, on both genomes.
  """
  t0, size = block.t_start, block.size
  cuts = {0, size}
  cuts.update(range(region_size - t0 % region_size, size, region_size))
  if block.strand == '+':
    cuts.update(range(region_size - block.q_start % region_size, size,
                      region_size))
  else:
    # Query base of offset k is q_end - 1 - k: a region starts at q_end - k.
    q_end = block.q_start + size
    cuts.update(range(q_end % region_size or region_size, size, region_size))
  cuts = sorted(cuts)
  for a, b in zip(cuts, cuts[1:]):
    q = block.q_start + a if block.strand == '+' else (
        block.q_start + size - 1 - a)
    yield (t0 + a) // region_size, q // region_size, b - a


def count_aligned_bases(blocks: Iterable[AlignedBlock], region_size: int
                        ) -> Dict[PairKey, int]:
  """Aligned bases per `(tName, t region, qName, q region)`.

  Args:
    blocks: aligned blocks (`read_alignment_blocks`).
    region_size: bp per region; region `i` of a chromosome is
      `[i * region_size, (i + 1) * region_size)`.

  Returns:
    The number of aligned bases of each pair of regions with any.
  """
  if int(region_size) != region_size or region_size < 1:
    raise ValueError(f'region_size must be a positive integer, got '
                     f'{region_size!r}.')
  counts: Dict[PairKey, int] = {}
  for block in blocks:
    t_region = block.t_start // region_size
    q_last = block.q_start + block.size - 1
    if ((block.t_start + block.size - 1) // region_size == t_region and
        block.q_start // region_size == q_last // region_size):
      key = (block.t_name, t_region, block.q_name,
             block.q_start // region_size)
      counts[key] = counts.get(key, 0) + block.size
      continue
    for t_index, q_index, bases in split_block(block, region_size):
      key = (block.t_name, t_index, block.q_name, q_index)
      counts[key] = counts.get(key, 0) + bases
  return counts


__all__ = ['AlignedBlock', 'Chain', 'NetFill', 'PairKey', 'alignment_format',
           'count_aligned_bases', 'open_text', 'read_alignment_blocks',
           'read_chains', 'read_net', 'split_block']
