"""Fuzzing region strings and BED files: genomics.intervals and make-data.

Whatever the text, `intervals.parse_region`, `intervals.as_region`,
`intervals.read_regions`, `data.regions.read_bed` and the BED path of
`enformer-make-data` give regions that satisfy the documented invariants or
the documented `ValueError` (`TypeError` for an object that is no region at
all) with a message naming the input; never another exception. Well-formed
input, generated here with its expected regions, parses to exactly those.

Invariants of a parsed region: `chrom` is a non-empty name without
whitespace (and without `:` from a region string); `start` and `end` are
ints with `0 <= start < end < 10**18`; a region string round-trips through
`str(region)`.
"""
import itertools
import os
import re

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest

from enformer_tf.constants import SPLITS
from enformer_tf.data import genome
from enformer_tf.data import make_data
from enformer_tf.data import regions as data_regions
from enformer_tf.genomics import intervals
from enformer_tf.genomics.intervals import Region

FAST = hypothesis.settings(max_examples=150, deadline=None)
SLOW = hypothesis.settings(max_examples=60, deadline=None)
# Whole enformer-make-data runs (TFRecords written) per example.
RUNS = hypothesis.settings(
    max_examples=12, deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])
CHROMS = {'chr1': 1500, 'chr2': 700}
SEQ_LENGTH = 256
MAX_COORDINATE = 10**18

# Characters that make region strings and BED lines interesting: the
# separators, digits (ASCII and not), number grouping, whitespace of several
# kinds, and a non-ASCII letter.
REGION_CHARACTERS = list('chr12XM_.:-,0123456789 \t#') + [
    '\u00a0', '\u0661', '\u2028', 'é']
region_like_text = st.text(st.sampled_from(REGION_CHARACTERS), max_size=30)
well_formed_regions = st.builds(
    '{}{}:{}-{}{}'.format, st.sampled_from(['', ' ']),
    st.sampled_from(['chr1', 'X', 'chrUn_1.2']),
    st.from_regex(r'[0-9][0-9,_]{0,8}', fullmatch=True),
    st.from_regex(r'[0-9][0-9,_]{0,8}', fullmatch=True),
    st.sampled_from(['', '\t']))
bed_like_text = st.text(st.sampled_from(REGION_CHARACTERS + ['\n', '\r']),
                        max_size=200)
chrom_names = st.from_regex(r'[A-Za-z0-9_.*|-]{1,12}', fullmatch=True).filter(
    lambda name: not name.startswith('#') and name not in ('track',
                                                           'browser'))


def check_region(region):
  """The documented invariants of a parsed region's coordinates."""
  assert isinstance(region.chrom, str) and region.chrom
  assert not any(c.isspace() for c in region.chrom), region
  assert type(region.start) is int and type(region.end) is int
  assert 0 <= region.start < region.end < MAX_COORDINATE


@pytest.fixture(scope='module')
def bed_path(tmp_path_factory):
  """A path each example overwrites (hypothesis reruns one test many times)."""
  return str(tmp_path_factory.mktemp('bed') / 'regions.bed')


def write_text(path, text):
  with open(path, 'w', encoding='utf-8', newline='') as f:
    f.write(text)
  return path


@st.composite
def mutated(draw, texts, alphabet=tuple(REGION_CHARACTERS + ['\n', '\r'])):
  """A text from `texts` with up to three characters inserted, deleted or
  replaced: mostly near-misses of well-formed input, some still valid."""
  text = draw(texts)
  for _ in range(draw(st.integers(0, 3))):
    position = draw(st.integers(0, len(text)))
    character = draw(st.sampled_from(alphabet))
    text = draw(st.sampled_from([
        text[:position] + character + text[position:],
        text[:position] + text[position + 1:],
        text[:position] + character + text[position + 1:]]))
  return text


# -- Region strings ----------------------------------------------------------------


@FAST
@hypothesis.given(st.one_of(st.text(max_size=60), region_like_text,
                            mutated(well_formed_regions)))
def test_parse_region_any_text(text):
  try:
    region = intervals.parse_region(text)
  except ValueError as e:
    hypothesis.event('rejected')
    assert str(e).startswith('Region '), e
    return
  hypothesis.event('parsed')
  check_region(region)
  assert ':' not in region.chrom and region.name == ''
  assert intervals.parse_region(str(region)) == region
  assert text.strip().startswith(region.chrom + ':')


def group(digits: str, separators) -> str:
  """`digits` with a separator ('', ',' or '_') after each digit but the last."""
  return ''.join(d + s for d, s in zip(digits[:-1], separators)) + digits[-1]


@FAST
@hypothesis.given(
    chrom_names.filter(lambda name: ':' not in name),
    st.integers(0, MAX_COORDINATE - 1), st.integers(0, MAX_COORDINATE - 1),
    st.lists(st.sampled_from(['', ',', '_']), min_size=18, max_size=18),
    st.sampled_from(['', ' ', '\t', '\n ']))
def test_parse_region_well_formed(chrom, start, end, separators, padding):
  text = (f'{padding}{chrom}:{group(str(start), separators)}-'
          f'{group(str(end), separators[::-1])}{padding}')
  if start < end:
    assert intervals.parse_region(text) == Region(chrom, start, end)
  else:
    with pytest.raises(ValueError, match='has end <= start'):
      intervals.parse_region(text)


@FAST
@hypothesis.given(st.integers(MAX_COORDINATE, 10**40))
def test_parse_region_rejects_coordinates_beyond_int64(end):
  with pytest.raises(ValueError, match='more than 18 digits'):
    intervals.parse_region(f'chr1:0-{end}')


class Interval:
  """An interval-like object: anything as chrom, start and end."""

  def __init__(self, chrom, start, end, name=''):
    self.chrom, self.start, self.end, self.name = chrom, start, end, name


coordinates = st.one_of(
    st.integers(-10, 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.none(), st.booleans(), st.text(max_size=5),
    st.integers(0, 100).map(np.int64), st.integers(0, 100).map(np.float32))


@FAST
@hypothesis.given(st.one_of(st.text(max_size=10), st.integers()),
                  coordinates, coordinates)
def test_as_region_any_interval(chrom, start, end):
  try:
    region = intervals.as_region(Interval(chrom, start, end, 'x'))
  except ValueError as e:
    assert 'Interval' in str(e), e
    return
  check_region(region)
  assert region.start == start and region.end == end
  assert region.chrom == str(chrom) and region.name == 'x'


@FAST
@hypothesis.given(st.one_of(st.integers(), st.floats(), st.none(),
                            st.binary(max_size=10),
                            st.lists(st.integers(), max_size=3)))
def test_as_region_of_no_region_is_a_type_error(value):
  with pytest.raises(TypeError, match='CHROM:START-END'):
    intervals.as_region(value)


# -- BED files (intervals.read_regions, data.regions.read_bed) -------------------


@st.composite
def bed_files(draw):
  """(text, regions): a well-formed BED file and the regions it holds."""
  regions, lines = [], []
  for _ in range(draw(st.integers(1, 6))):
    if draw(st.booleans()):  # Header, comment or blank line before a region.
      lines.append(draw(st.sampled_from(
          ['', ' \t ', '# comment', '  # indented comment', 'track',
           'track name=x', 'browser position chr1:1-100'])))
    chrom = draw(st.one_of(chrom_names, st.sampled_from(
        ['track_1', 'browserX', 'chr1:2'])))  # Not headers: contigs.
    start = draw(st.integers(0, 10**12))
    end = start + draw(st.integers(1, 10**6))
    name = draw(st.sampled_from(['', 'promoter', 'enhancer 1']))
    separator = '\t' if ' ' in name else draw(st.sampled_from(
        ['\t', ' ', '  ']))
    fields = [chrom, str(start), str(end)] + ([name] if name else [])
    fields += draw(st.sampled_from([[], ['0', '+']])) if name else []
    lines.append(separator.join(fields))
    regions.append(Region(chrom, start, end, name))
  newline = draw(st.sampled_from(['\n', '\r\n', '\r']))
  bom = draw(st.sampled_from(['', '\ufeff']))
  return bom + newline.join(lines) + draw(st.sampled_from(['', newline])), (
      regions)


@FAST
@hypothesis.given(bed_files())
def test_read_regions_round_trip(bed_path, bed):
  text, regions = bed
  assert intervals.read_regions(write_text(bed_path, text)) == regions
  assert data_regions.read_bed(bed_path) == [
      data_regions.Region(r.chrom, r.start, r.end, r.name or None)
      for r in regions]


def splice(data: bytes, position: int, insert: bytes) -> bytes:
  """`data` with `insert` at `position` (modulo its length): stray bytes."""
  position %= len(data) + 1
  return data[:position] + insert + data[position:]


def read_both(path):
  """What `read_regions` and `read_bed` give: regions or the error message.

  Both as `(chrom, start, end, column 4 or '')`; they share the rules, so
  they must agree.
  """
  try:
    regions = [tuple(r) for r in intervals.read_regions(path)]
    for region in intervals.read_regions(path):
      check_region(region)
  except ValueError as e:
    regions = str(e)
  try:
    bed = [(r.chrom, r.start, r.end, r.split or '')
           for r in data_regions.read_bed(path)]
  except ValueError as e:
    bed = str(e)
  assert regions == bed
  hypothesis.event('rejected' if isinstance(regions, str) else 'parsed')
  if isinstance(regions, str):  # The message names the file and the line.
    assert path in regions, regions
    assert re.search(r' line \d+: |has no regions', regions), regions
  else:
    assert regions
  return regions


@SLOW
@hypothesis.given(st.one_of(st.text(max_size=300), bed_like_text,
                            mutated(bed_files().map(lambda bed: bed[0]))))
def test_read_regions_any_text(bed_path, text):
  read_both(write_text(bed_path, text))


@SLOW
@hypothesis.given(st.one_of(
    st.binary(max_size=200),
    st.tuples(bed_files(), st.integers(0, 10**6), st.binary(max_size=3)).map(
        lambda args: splice(args[0][0].encode(), *args[1:]))))
def test_read_regions_any_bytes(bed_path, data):
  with open(bed_path, 'wb') as f:
    f.write(data)
  read_both(bed_path)


@FAST
@hypothesis.given(st.sampled_from(['\t', ' ']), chrom_names,
                  st.sampled_from(['0', '-1', '+5', '1_000', '1e3', '0x10',
                                   '\u0661', '12.0', '', '99' * 10, ' 7 ']),
                  st.integers(1, 10**6))
def test_read_regions_names_the_line_of_a_bad_coordinate(
    bed_path, separator, chrom, start_text, end):
  line = separator.join([chrom, start_text, str(end)])
  path = write_text(bed_path, f'# header\nchr1\t0\t10\n{line}\n')
  good = re.fullmatch(r' ?[0-9]{1,18} ?', start_text) and (
      int(start_text) < end) and not (separator == ' ' and not start_text)
  if good:
    assert intervals.read_regions(path)[1] == Region(chrom, int(start_text),
                                                     end)
  else:
    with pytest.raises(ValueError, match=f'{re.escape(path)} line 3: '):
      intervals.read_regions(path)


# -- enformer-make-data's BED path ------------------------------------------------


@pytest.fixture(scope='module')
def genome_dir(tmp_path_factory):
  """A FASTA of CHROMS, a bigWig over it and a targets.txt naming it."""
  import pyBigWig
  root = tmp_path_factory.mktemp('genome')
  rng = np.random.default_rng(1)
  with open(root / 'genome.fa', 'w') as f:
    for chrom, size in CHROMS.items():
      f.write(f'>{chrom}\n' + ''.join(rng.choice(list('ACGTN'), size)) + '\n')
  bigwig = pyBigWig.open(str(root / 'signal.bw'), 'w')
  bigwig.addHeader(list(CHROMS.items()))
  for chrom, size in CHROMS.items():
    bigwig.addEntries(chrom, 0, values=[1.0] * size, span=1, step=1)
  bigwig.close()
  (root / 'targets.txt').write_text(
      'index\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription\n'
      '0\tsignal\tsignal.bw\t\t1\tsum\tsignal\n')
  return root


@pytest.fixture(scope='module')
def fasta(genome_dir):
  with genome.FastaExtractor(str(genome_dir / 'genome.fa')) as extractor:
    yield extractor


SPLIT_COLUMN = [None, 'train', 'valid', 'test', 'training', 'Train']


@st.composite
def bed_lines_over_the_genome(draw):
  """(text, lines): BED lines near CHROMS; `lines` for the oracle.

  Half of the files are good throughout; the others mix in regions off the
  genome, unknown chromosomes, bad splits and junk lines. `lines` holds
  `(chrom, start, end, split)` per region line, or None for junk.
  """
  good = draw(st.booleans())
  splits = draw(st.sampled_from([[None], list(SPLITS)]))
  lines, texts = [], []
  for _ in range(draw(st.integers(1, 5))):
    if not good and draw(st.integers(0, 4)) == 0:
      junk = draw(bed_like_text.filter(lambda t: '\n' not in t and
                                       '\r' not in t))
      lines.append(None)
      texts.append(junk)
      continue
    if good:
      chrom = draw(st.sampled_from(sorted(CHROMS)))
      start = draw(st.integers(0, CHROMS[chrom] - 1))
      end = draw(st.integers(start + 1, min(start + 400, CHROMS[chrom])))
      split = draw(st.sampled_from(splits))
    else:
      chrom = draw(st.sampled_from(['chr1', 'chr2', 'chr3', '1']))
      start = draw(st.integers(-2, 1600))
      end = start + draw(st.integers(-1, 400))
      split = draw(st.sampled_from(SPLIT_COLUMN))
    lines.append((chrom, start, end, split))
    texts.append('\t'.join([chrom, str(start), str(end)] +
                           ([split] if split else [])))
  hypothesis.event({True: 'good', False: 'bad', None: 'junk'}[
      good_lines(lines)])
  return '\n'.join(texts) + '\n', lines


def good_lines(lines):
  """The oracle: whether make-data takes every line; None if junk is mixed in.

  Junk may be skipped (a comment) or rejected, so it leaves the answer open.
  """
  if any(line is None for line in lines):
    return None
  has_split = any(split is not None for *_, split in lines)
  return all(chrom in CHROMS and 0 <= start < end <= CHROMS[chrom] and
             (split in SPLITS or not has_split)
             for chrom, start, end, split in lines)


def expected_regions(lines):
  has_split = any(split is not None for *_, split in lines)
  return [genome.resize_interval(data_regions.Region(
      chrom, start, end, split if has_split else None), SEQ_LENGTH)
          for chrom, start, end, split in lines]


@SLOW
@hypothesis.given(bed_lines_over_the_genome())
def test_make_data_bed_regions(fasta, bed_path, bed):
  text, lines = bed
  path = write_text(bed_path, text)
  try:
    regions = data_regions.load_regions(
        fasta, bed=path, tile=False, stride=None, chroms=None,
        seq_length=SEQ_LENGTH, split_column=True)
  except ValueError as e:
    assert good_lines(lines) is not True, e
    assert path in str(e) and re.search(r' line \d+|has no regions',
                                        str(e)), e
    return
  assert good_lines(lines) is not False
  if good_lines(lines):
    assert regions == expected_regions(lines)
  assert regions
  for region in regions:  # Windows may run off the chromosome (N-padded).
    assert region.chrom in CHROMS
    assert type(region.start) is int and type(region.end) is int
    assert region.end - region.start == SEQ_LENGTH
    assert region.split in (None, *SPLITS)


_run_numbers = itertools.count()


@RUNS
@hypothesis.given(bed_lines_over_the_genome())
def test_make_data_runs_on_any_bed(genome_dir, tmp_path_factory, bed):
  """Whole runs: the data directory as the oracle says, or no directory."""
  text, lines = bed
  root = tmp_path_factory.getbasetemp() / f'make_data_{next(_run_numbers)}'
  root.mkdir()
  bed_file = write_text(str(root / 'regions.bed'), text)
  out_dir = root / 'out'
  try:
    make_data.make_data(str(genome_dir / 'genome.fa'),
                        str(genome_dir / 'targets.txt'), str(out_dir),
                        bed=bed_file, seq_length=SEQ_LENGTH, pool_width=32)
  except ValueError as e:
    assert good_lines(lines) is not True, e
    assert bed_file in str(e), e
    assert sorted(os.listdir(root)) == ['regions.bed']
    return
  assert good_lines(lines) is not False
  written = (out_dir / 'sequences.bed').read_text().splitlines()
  if not good_lines(lines):  # Junk that was skipped: check the shape only.
    assert all(len(line.split('\t')) == 4 for line in written)
    return
  regions = expected_regions(lines)
  regions = [r._replace(split=r.split or 'train') for r in regions]
  assert written == [f'{r.chrom}\t{r.start}\t{r.end}\t{r.split}'
                     for split in SPLITS
                     for r in regions if r.split == split]
