"""Tests for enformer_tf.genomics.vcf: records with their lines, skips."""
import gzip
import struct
import zlib

import numpy as np
import pytest

from enformer_tf.data import genome
from enformer_tf.genomics import vcf

HEADER = ('##fileformat=VCFv4.2\n'
          '##contig=<ID=chr1>\n'
          '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n')
# (line text, expected records as (pos, ref, alt, allele), expected skips as
# reasons); line numbers follow from the order, after the 3 header lines.
LINES = [
    ('chr1\t5\trs1\tA\tG\t.\tPASS\t.', [(5, 'A', 'G', 1)], []),
    ('chr1\t7\t.\tc\tt,GA\t50\tPASS\tDP=3', [(7, 'C', 'T', 1),
                                          (7, 'C', 'GA', 2)], []),
    ('chr1\t9\tdel\tACG\tA\t.\t.\t.', [(9, 'ACG', 'A', 1)], []),
    ('chr1\t9\tsv\tA\t<DEL>\t.\t.\tSVTYPE=DEL', [], [vcf.SYMBOLIC]),
    ('chr1\t9\tstar\tA\tC,*\t.\t.\t.', [(9, 'A', 'C', 1)], [vcf.SYMBOLIC]),
    ('chr1\t9\tbnd\tA\tA]chr2:5]\t.\t.\t.', [], [vcf.SYMBOLIC]),
    ('chr1\t9\tmono\tA\t.\t.\t.\t.', [], [vcf.NO_ALT]),
    ('chr1\t11\tshort\tA\tG', [], [vcf.MALFORMED]),  # 5 of 8 columns.
    ('chr1\tten\tbadpos\tA\tG\t.\t.\t.', [], [vcf.MALFORMED]),
    ('chr1\t0\tpos0\tA\tG\t.\t.\t.', [], [vcf.MALFORMED]),
    ('chr1\t12\tbadref\tAXG\tA\t.\t.\t.', [], [vcf.MALFORMED]),
    ('chr1\t12\tbadalt\tA\tQ\t.\t.\t.', [], [vcf.MALFORMED]),
    ('chr1\t12\tsame\tA\ta\t.\t.\t.', [], [vcf.MALFORMED]),
    ('chr2\t3\tlast\tT\tTTT\t.\t.\t.', [(3, 'T', 'TTT', 1)], []),
]


def vcf_text(lines=LINES):
  return HEADER + ''.join(text + '\n' for text, _, _ in lines)


def expected(lines=LINES, first_line=HEADER.count('\n') + 1):
  records, skips = [], []
  for number, (text, line_records, line_skips) in enumerate(
      lines, start=first_line):
    chrom, _, variant_id = text.split()[:3]
    records += [(chrom, pos, variant_id, ref, alt, number, allele)
                for pos, ref, alt, allele in line_records]
    skips += [(number, reason) for reason in line_skips]
  return records, skips


def as_tuples(records):
  return [(r.chrom, r.pos, r.id, r.ref, r.alt, r.line, r.allele)
          for r in records]


def write_bgzf(path, data: bytes, block_size=64):
  """A BGZF file (what `bgzip` writes): gzip members with a `BC` field."""
  with open(path, 'wb') as f:
    for start in range(0, len(data), block_size):
      block = data[start:start + block_size]
      compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
      deflated = compressor.compress(block) + compressor.flush()
      header = struct.pack('<BBBBIBBHBBHH', 31, 139, 8, 4, 0, 0, 255, 6, 66,
                           67, 2, 12 + 6 + len(deflated) + 8 - 1)
      f.write(header + deflated +
              struct.pack('<II', zlib.crc32(block), len(block)))
    f.write(bytes.fromhex('1f8b08040000000000ff0600424302001b0003000000000000'
                          '000000'))  # The BGZF end-of-file block.


def test_records_and_skips_keep_their_line_numbers(tmp_path):
  path = tmp_path / 'variants.vcf'
  path.write_text(vcf_text())
  records, report = vcf.read_vcf(str(path))
  want_records, want_skips = expected()
  assert as_tuples(records) == want_records
  assert [(s.line, s.reason) for s in report] == want_skips
  by_line = {s.line: s for s in report}
  # Messages say what was wrong.
  assert "POS 'ten'" in by_line[12].message
  assert 'expected 8 columns' in by_line[11].message
  assert 'allele 2' in [s for s in report if s.line == 8][0].message


def test_counts_and_summary(tmp_path):
  path = tmp_path / 'variants.vcf'
  path.write_text(vcf_text())
  _, report = vcf.read_vcf(str(path))
  _, want_skips = expected()
  want = {}
  for _, reason in want_skips:
    want[reason] = want.get(reason, 0) + 1
  assert report.counts() == want
  assert report.summary() == (
      f'skipped {len(want_skips)} records ('
      + ', '.join(f'{want[r]} {r}' for r in vcf.REASONS if r in want) + ')')
  assert vcf.SkipReport().summary() == 'skipped 0 records'


def test_without_header_five_columns_suffice_and_fewer_do_not(tmp_path):
  path = tmp_path / 'minimal.vcf'
  path.write_text('chr1 5 rs1 A G\nchr1\t6\trs2\tA\n\nchr1\t7\trs3\tC\tT\t.\n')
  records, report = vcf.read_vcf(str(path))
  assert as_tuples(records) == [('chr1', 5, 'rs1', 'A', 'G', 1, 1),
                                ('chr1', 7, 'rs3', 'C', 'T', 4, 1)]
  assert [(s.line, s.reason) for s in report] == [(2, vcf.MALFORMED)]


def test_on_skip_sees_each_skip_as_it_comes(tmp_path):
  path = tmp_path / 'variants.vcf'
  path.write_text(vcf_text())
  seen = []
  report = vcf.SkipReport(on_skip=seen.append)
  vcf.read_vcf(str(path), report)
  assert seen == report.records and seen


@pytest.mark.parametrize('compression', ['gzip', 'bgzip'])
def test_compressed_vcf_reads_as_plain(tmp_path, compression):
  text = vcf_text()
  plain = tmp_path / 'variants.vcf'
  plain.write_text(text)
  packed = tmp_path / 'variants.vcf.gz'
  if compression == 'gzip':
    with gzip.open(packed, 'wt') as f:
      f.write(text)
  else:
    write_bgzf(packed, text.encode())
    assert packed.read_bytes().count(b'BC\x02\x00') > 3  # Several blocks.
  assert vcf.is_gzipped(str(packed)) and not vcf.is_gzipped(str(plain))
  want_records, want_report = vcf.read_vcf(str(plain))
  records, report = vcf.read_vcf(str(packed))
  assert records == want_records
  assert report.records == want_report.records


def test_truncated_gzip_names_the_file(tmp_path):
  packed = tmp_path / 'variants.vcf.gz'
  with gzip.open(packed, 'wt') as f:
    f.write(vcf_text() * 50)
  data = packed.read_bytes()
  packed.write_bytes(data[:len(data) // 2])
  with pytest.raises(ValueError, match='Cannot read VCF .*variants.vcf.gz'):
    vcf.read_vcf(str(packed))


def test_missing_file():
  with pytest.raises(FileNotFoundError, match='nowhere.vcf'):
    vcf.read_vcf('/nonexistent/nowhere.vcf')


@pytest.fixture(name='fasta')
def _fasta(tmp_path):
  path = tmp_path / 'genome.fa'
  path.write_text('>chr1\nACGTNacgtA\n>chr2\nGGCC\n')
  with genome.FastaExtractor(str(path)) as fasta:
    yield fasta


def record(chrom, pos, ref, alt='T'):
  return vcf.VcfRecord(chrom, pos, '.', ref, alt, line=42)


def test_check_reference_matches_case_insensitively(fasta):
  for pos, ref in [(1, 'A'), (1, 'ACGT'), (6, 'ACGTA'), (5, 'NA')]:
    assert vcf.check_reference(record('chr1', pos, ref), fasta) is None


@pytest.mark.parametrize('chrom,pos,ref,reason,words', [
    ('chr1', 2, 'A', vcf.REF_MISMATCH, "has 'C'"),
    ('chr1', 5, 'A', vcf.REF_MISMATCH, 'N only matches N'),  # FASTA N.
    ('chr1', 4, 'TA', vcf.REF_MISMATCH, "has 'TN'"),
    ('chr2', 4, 'CA', vcf.REF_MISMATCH, 'runs past the end'),
    ('1', 1, 'A', vcf.UNKNOWN_CHROMOSOME, "did you mean 'chr1'"),
])
def test_check_reference_reports(fasta, chrom, pos, ref, reason, words):
  skipped = vcf.check_reference(record(chrom, pos, ref), fasta)
  assert skipped.reason == reason and skipped.line == 42
  assert words in skipped.message


def test_record_coordinates_and_kipoiseq_variant():
  rec = vcf.VcfRecord('chr1', 10, 'rs7', 'ACG', 'A', line=3)
  assert (rec.start, rec.end, rec.label) == (9, 12, 'chr1:10:ACG>A')
  variant = rec.to_kipoiseq()
  assert (variant.chrom, variant.pos, variant.start, variant.ref,
          variant.alt, variant.id) == ('chr1', 10, 9, 'ACG', 'A', 'rs7')


def test_random_lines_never_raise(tmp_path):
  """Garbage lines are skipped or parsed, never fatal."""
  rng = np.random.default_rng(0)
  alphabet = list('ACGTN.,<>*[]:0123456789\t x-')
  lines = [''.join(rng.choice(alphabet, rng.integers(1, 40)))
           for _ in range(300)]
  path = tmp_path / 'garbage.vcf'
  path.write_text('\n'.join(lines) + '\n')
  records, report = vcf.read_vcf(str(path))
  data_lines = sum(1 for line in lines if line.strip() and line[0] != '#')
  # Every data line is accounted for: parsed into records or skipped.
  accounted = {r.line for r in records} | {s.line for s in report}
  assert len(accounted) == data_lines
  for rec in records:
    assert rec.pos >= 1 and set(rec.ref) <= set('ACGTN')
    assert set(rec.alt) <= set('ACGTN') and rec.alt != rec.ref
