"""Reading CRISPRi pair tables: presets, column mappings, malformed rows."""
import gzip

import pytest

from enformer_tf.data import crispri_pairs

FULCO = ('chr\tstart\tend\tname\tclass\tTargetGene\tTargetGeneTSS\t'
         'Fraction change in gene expr\tSignificant\n'
         'chr8\t127700000\t127700500\tMYC|e1\tdistal\tMYC\t127736230\t'
         '-0.31\tTRUE\n'
         'chr8\t127800000\t127800400\tMYC|e2\tdistal\tMYC\t127736230\t'
         '0.02\tFALSE\n')


def test_fulco_preset_reads_values_and_keeps_extra_columns(tmp_path):
  path = tmp_path / 'fulco.tsv'
  path.write_text(FULCO)
  table = crispri_pairs.read_pairs(str(path), 'fulco2019')
  assert not table.problems
  first, second = table.pairs
  assert (first.row, first.chrom, first.start, first.end, first.gene,
          first.tss, first.significant, first.effect_size, first.name) == (
              2, 'chr8', 127700000, 127700500, 'MYC', 127736230, True,
              -0.31, 'MYC|e1')
  assert second.significant is False and second.row == 3
  assert dict(first.fields)['class'] == 'distal'
  assert first.center == 127700250


def test_mapping_csv_gzip_and_one_based(tmp_path):
  path = tmp_path / 'screen.csv.gz'
  with gzip.open(path, 'wt') as f:
    f.write('c,s,e,g,hit\nchr1,101,200,GATA1,yes\nchr1,5,5,GATA1,no\n')
  mapping = crispri_pairs.parse_mapping(
      'chrom=c,start=s,end=e,gene=g,significant=hit,one_based=true')
  table = crispri_pairs.read_pairs(str(path), mapping)
  # 1-based closed 101-200 is [100, 200); 5-5 is the one base [4, 5).
  assert [(p.start, p.end, p.significant) for p in table.pairs] == [
      (100, 200, True), (4, 5, False)]
  assert not table.problems


def test_malformed_rows_are_reported_with_row_and_reason(tmp_path):
  path = tmp_path / 'pairs.tsv'
  path.write_text(
      '# a comment\n'
      'chrom\tchromStart\tchromEnd\tname\tmeasuredGeneSymbol\tstartTSS\t'
      'Regulated\tEffectSize\n'
      'chr1\t100\t200\te1\tG\t1000\tTRUE\t-0.5\n'   # line 3: fine
      'chr1\t100\t200\te2\tG\t1000\n'                # 4: too few fields
      'chr1\tabc\t200\te3\tG\t1000\tTRUE\t0\n'      # 5: start not a number
      'chr1\t300\t200\te4\tG\t1000\tTRUE\t0\n'      # 6: end <= start
      'chr1\t100\t200\te5\tG\t1000\tmaybe\t0\n'     # 7: unknown label
      'chr1\t100\t200\te6\t\t1000\tFALSE\t0\n'      # 8: empty gene
      'chr1\t100\t200\te7\tG\tNA\tFALSE\tNA\n'      # 9: fine, no TSS
      'chr1\t100.5\t200\te8\tG\t1000\tFALSE\t0\n'   # 10: not an integer
      'chr1\t100\t200\te9\tG\t1000\tFALSE\tbig\n')  # 11: effect size
  table = crispri_pairs.read_pairs(str(path))
  assert [p.row for p in table.pairs] == [3, 9]
  assert table.pairs[1].tss is None and table.pairs[1].effect_size is None
  reasons = {p.row: p.reason for p in table.problems}
  assert sorted(reasons) == [4, 5, 6, 7, 8, 10, 11]
  assert reasons[4] == '6 fields, expected 8'
  assert "start (chromStart) 'abc' is not a number" in reasons[5]
  assert '0 <= start < end' in reasons[6]
  assert "'maybe'" in reasons[7]
  assert "'measuredGeneSymbol' is empty" in reasons[8]
  assert 'not an integer' in reasons[10]
  assert 'effect size' in reasons[11]
  assert table.problems[0].text.startswith('chr1\t100\t200\te2')


def test_missing_columns_and_bad_mappings_are_clear_errors(tmp_path):
  path = tmp_path / 'pairs.tsv'
  path.write_text(FULCO)
  with pytest.raises(ValueError, match=r"lacks the columns \['chrom'"):
    crispri_pairs.read_pairs(str(path), 'encode')
  with pytest.raises(ValueError, match='Unknown pair table layout'):
    crispri_pairs.read_pairs(str(path), 'nope')
  with pytest.raises(ValueError, match='Unknown column mapping keys'):
    crispri_pairs.read_pairs(str(path), {'chromosome': 'chr'})
  with pytest.raises(ValueError, match='needs chrom, start'):
    crispri_pairs.read_pairs(str(path), {'chrom': 'chr'})
  with pytest.raises(ValueError, match='FIELD=COLUMN'):
    crispri_pairs.parse_mapping('chrom')
  empty = tmp_path / 'empty.tsv'
  empty.write_text('')
  with pytest.raises(ValueError, match='no header'):
    crispri_pairs.read_pairs(str(empty))
