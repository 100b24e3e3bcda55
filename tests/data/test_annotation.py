"""Gene annotations: GTF / GFF3 / TSS BED -> genes with 0-based TSSs."""
import gzip

import pytest

from enformer_tf.data import annotation

# Hand-written GENCODE-style GTF (1-based, closed). Gene A (+) has two
# transcripts starting at 1,001 and 1,129; gene B (-) two ending at 5,000 and
# 4,873; gene C is a lncRNA; gene D has only a gene line.
GTF = '''\
##description: test
chr1\tHAVANA\tgene\t1001\t3000\t.\t+\t.\tgene_id "A.1"; gene_type "protein_coding"; gene_name "GA";
chr1\tHAVANA\ttranscript\t1001\t3000\t.\t+\t.\tgene_id "A.1"; transcript_id "A-201"; gene_type "protein_coding"; gene_name "GA";
chr1\tHAVANA\texon\t1001\t1200\t.\t+\t.\tgene_id "A.1"; transcript_id "A-201"; gene_type "protein_coding"; gene_name "GA";
chr1\tHAVANA\ttranscript\t1129\t2500\t.\t+\t.\tgene_id "A.1"; transcript_id "A-202"; gene_type "protein_coding"; gene_name "GA";
chr1\tHAVANA\tgene\t4000\t5000\t.\t-\t.\tgene_id "B.1"; gene_type "protein_coding"; gene_name "GB";
chr1\tHAVANA\ttranscript\t4000\t5000\t.\t-\t.\tgene_id "B.1"; transcript_id "B-201"; gene_type "protein_coding"; gene_name "GB";
chr1\tHAVANA\ttranscript\t4100\t4873\t.\t-\t.\tgene_id "B.1"; transcript_id "B-202"; gene_type "protein_coding"; gene_name "GB";
chr1\tHAVANA\ttranscript\t4200\t4873\t.\t-\t.\tgene_id "B.1"; transcript_id "B-203"; gene_type "protein_coding"; gene_name "GB";
chr2\tHAVANA\tgene\t10\t20\t.\t+\t.\tgene_id "C.1"; gene_type "lncRNA"; gene_name "GC";
chr2\tHAVANA\ttranscript\t10\t20\t.\t+\t.\tgene_id "C.1"; transcript_id "C-201"; gene_type "lncRNA"; gene_name "GC";
chr2\tENSEMBL\tgene\t300\t900\t.\t-\t.\tgene_id "D.1"; gene_biotype "protein_coding"; gene_name "GD";
'''

GFF3 = '''\
##gff-version 3
chr1\tENSEMBL\tgene\t1001\t3000\t.\t+\t.\tID=gene:A.1;Name=GA;biotype=protein_coding
chr1\tENSEMBL\tmRNA\t1001\t3000\t.\t+\t.\tID=transcript:A-201;Parent=gene:A.1
chr1\tENSEMBL\texon\t1001\t1200\t.\t+\t.\tParent=transcript:A-201
chr1\tENSEMBL\tmRNA\t1129\t2500\t.\t+\t.\tID=transcript:A-202;Parent=gene:A.1
chr1\tENSEMBL\tgene\t4000\t5000\t.\t-\t.\tID=gene:B.1;Name=GB;biotype=protein_coding
chr1\tENSEMBL\tmRNA\t4000\t5000\t.\t-\t.\tID=transcript:B-201;Parent=gene:B.1
chr1\tENSEMBL\tlnc_RNA\t4100\t4873\t.\t-\t.\tID=transcript:B-202;Parent=gene:B.1
chr2\tENSEMBL\tgene\t10\t20\t.\t+\t.\tID=gene:C.1;Name=GC;biotype=lncRNA
chr2\tENSEMBL\tlnc_RNA\t10\t20\t.\t+\t.\tID=transcript:C-201;Parent=gene:C.1
'''


def _write(tmp_path, name, text):
  path = tmp_path / name
  if name.endswith('.gz'):
    with gzip.open(path, 'wt') as f:
      f.write(text)
  else:
    path.write_text(text)
  return str(path)


@pytest.mark.parametrize('name', ['genes.gtf', 'genes.gtf.gz'])
def test_gtf_tss_are_0_based_start_on_plus_end_minus_1_on_minus(tmp_path,
                                                                 name):
  genes = {g.gene_id: g for g in annotation.read_genes(
      _write(tmp_path, name, GTF), gene_types=None)}
  assert set(genes) == {'A.1', 'B.1', 'C.1', 'D.1'}
  a, b = genes['A.1'], genes['B.1']
  # GTF start 1,001 (1-based) is 0-based 1,000; the second TSS 1,129 -> 1,128.
  assert a.tss == (1000, 1128) and a.strand == '+' and a.name == 'GA'
  assert a.transcripts == ('A-201', 'A-202')
  assert a.tss_of_transcript == (1000, 1128)
  # Minus strand: TSS = GTF end (1-based, closed) - 1. Two transcripts share
  # 4,873: one TSS.
  assert b.tss == (4872, 4999) and b.strand == '-'
  assert b.tss_of_transcript == (4999, 4872, 4872)
  # A gene line without transcripts: its own 5' end.
  assert genes['D.1'].tss == (899,) and genes['D.1'].gene_type == (
      'protein_coding')  # gene_biotype (Ensembl) read as the type.
  assert genes['C.1'].gene_type == 'lncRNA'


def test_default_filter_keeps_protein_coding_and_chromosomes(tmp_path):
  path = _write(tmp_path, 'genes.gtf', GTF)
  assert [g.gene_id for g in annotation.read_genes(path)] == [
      'A.1', 'B.1', 'D.1']
  assert [g.gene_id for g in annotation.read_genes(
      path, gene_types=['lncRNA'])] == ['C.1']
  assert [g.gene_id for g in annotation.read_genes(
      path, gene_types=None, chroms=['chr2'])] == ['C.1', 'D.1']


def test_gff3_gives_the_same_tss_as_the_gtf(tmp_path):
  gff = {g.gene_id: g for g in annotation.read_genes(
      _write(tmp_path, 'genes.gff3.gz', GFF3), gene_types=None)}
  gtf = {g.gene_id: g for g in annotation.read_genes(
      _write(tmp_path, 'genes.gtf', GTF), gene_types=None)}
  assert gff['A.1'].tss == gtf['A.1'].tss
  assert gff['B.1'].tss == gtf['B.1'].tss
  assert gff['A.1'].name == 'GA' and gff['C.1'].gene_type == 'lncRNA'


def test_tss_bed_round_trip(tmp_path):
  genes = annotation.read_genes(_write(tmp_path, 'genes.gtf', GTF),
                                gene_types=None)
  path = str(tmp_path / 'tss.bed')
  annotation.write_tss_bed(genes, path)
  again = annotation.read_genes(path, gene_types=None)
  assert [(g.gene_id, g.chrom, g.strand, g.tss, g.name, g.gene_type)
          for g in again] == [
              (g.gene_id, g.chrom, g.strand, g.tss, g.name, g.gene_type)
              for g in genes]
  # BED start is the 0-based TSS: the line of A's first TSS.
  assert (tmp_path / 'tss.bed').read_text().splitlines()[0].split('\t')[:3] \
      == ['chr1', '1000', '1001']


@pytest.mark.parametrize('line,message', [
    ('chr1\tX\tgene\t10\t20\t.\t+\t.', '9 tab-separated columns'),
    ('chr1\tX\tgene\tten\t20\t.\t+\t.\tgene_id "a";', 'positive integers'),
    ('chr1\tX\tgene\t30\t20\t.\t+\t.\tgene_id "a";', 'start <= end'),
    ('chr1\tX\tgene\t0\t20\t.\t+\t.\tgene_id "a";', 'start <= end'),
    ('chr1\tX\tgene\t10\t20\t.\tx\t.\tgene_id "a";', 'strand'),
])
def test_malformed_gtf_line_is_named(tmp_path, line, message):
  path = _write(tmp_path, 'bad.gtf', GTF + line + '\n')
  with pytest.raises(ValueError, match=message) as error:
    annotation.read_genes(path)
  assert f'{path}, line 13' in str(error.value)


def test_malformed_bed_and_unknown_format(tmp_path):
  path = _write(tmp_path, 'tss.bed', 'chr1\t10\t11\tg\t0\t+\nchr1\t5\t5\th\t0\t+\n')
  with pytest.raises(ValueError, match=r'line 2: expected 0 <= start < end'):
    annotation.read_genes(path, gene_types=None)
  with pytest.raises(ValueError, match='cannot tell the annotation format'):
    annotation.read_genes(_write(tmp_path, 'genes.txt', GTF))
  with pytest.raises(FileNotFoundError):
    annotation.read_genes(str(tmp_path / 'missing.gtf'))


def test_chromosome_names_follow_the_genome():
  genes = [annotation.Gene('a', 'a', '', '1', '+', (5,)),
           annotation.Gene('b', 'b', '', 'chrX', '+', (5,)),
           annotation.Gene('c', 'c', '', 'MT', '+', (5,))]
  renamed = annotation.match_chromosome_names(genes, ['chr1', 'X', 'chrM'])
  assert [g.chrom for g in renamed] == ['chr1', 'X', 'chrM']
