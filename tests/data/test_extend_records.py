"""`extend_records`: Basenji2 records with longer sequences from the FASTA,
the same targets, every centre checked against the original."""
import json
import os

import numpy as np
import pyfaidx
import pytest

from enformer_tf.cli import extend_records as extend_cli
from enformer_tf.data import basenji, encoding, extend_records, synthetic
from enformer_tf.data.make_data import make_data

SEQ_LENGTH = 4096
EXTEND = 1024
# Regions at both ends of the chromosomes (the flanks run off them) and
# inside; every split.
BED = [('chr1', 0, 4096, 'train'), ('chr1', 20_000, 24_096, 'train'),
       ('chr1', 100_000, 104_096, 'train'), ('chr2', 55_904, 60_000, 'valid'),
       ('chr2', 30_000, 34_096, 'test'), ('chr1', 145_904, 150_000, 'test')]


@pytest.fixture(scope='module')
def data(tmp_path_factory):
  root = tmp_path_factory.mktemp('extend')
  paths = synthetic.make_synthetic_genome(
      str(root / 'genome'), synthetic.SyntheticGenomeSpec(
          seed=2, chrom_sizes=(150_000, 60_000)), organisms=('human',))
  bed = root / 'regions.bed'
  bed.write_text(''.join(f'{c}\t{s}\t{e}\t{sp}\n' for c, s, e, sp in BED))
  make_data(paths['human']['fasta'], paths['human']['targets'],
            str(root / 'data'), bed=str(bed), seq_length=SEQ_LENGTH,
            target_length=16, seqs_per_file=2)
  out = root / 'extended'
  stats = extend_records.extend_records(
      str(root / 'data'), paths['human']['fasta'], str(out),
      extend_bp=EXTEND, seqs_per_file=2)
  return root, paths['human']['fasta'], str(out), stats


def _examples(data_dir, split):
  return list(basenji.load_dataset(data_dir, split,
                                   num_parallel_reads=None)
              .as_numpy_iterator())


def _bed(path):
  with open(path) as f:
    return [(c, int(s), int(e), sp) for c, s, e, sp in
            (line.split() for line in f)]


def test_statistics_keep_target_length(data):
  root, _, out, stats = data
  original = basenji.read_statistics(str(root / 'data'))
  assert stats == basenji.read_statistics(out)
  assert stats['seq_length'] == SEQ_LENGTH + 2 * EXTEND
  assert stats['crop_bp'] == original['crop_bp'] + EXTEND
  for key in ('target_length', 'num_targets', 'pool_width', 'train_seqs',
              'valid_seqs', 'test_seqs', 'seq_1hot'):
    assert stats[key] == original[key]
  with open(root / 'data' / 'targets.txt') as f, open(
      os.path.join(out, 'targets.txt')) as g:
    assert f.read() == g.read()


def test_centres_equal_the_originals_and_flanks_the_fasta(data):
  root, fasta, out, _ = data
  genome = pyfaidx.Fasta(fasta, as_raw=True)
  old_bed = _bed(root / 'data' / 'sequences.bed')
  new_bed = _bed(os.path.join(out, 'sequences.bed'))
  assert new_bed == [(c, s - EXTEND, e + EXTEND, sp)
                     for c, s, e, sp in old_bed]
  checked = 0
  for split in ('train', 'valid', 'test'):
    old = _examples(str(root / 'data'), split)
    new = _examples(out, split)
    regions = [r for r in new_bed if r[3] == split]
    assert len(old) == len(new) == len(regions)
    for before, after, (chrom, start, end, _) in zip(old, new, regions):
      assert after['sequence'].shape == (SEQ_LENGTH + 2 * EXTEND, 4)
      np.testing.assert_array_equal(
          after['sequence'][EXTEND:EXTEND + SEQ_LENGTH], before['sequence'])
      np.testing.assert_array_equal(after['target'], before['target'])
      size = len(genome[chrom])
      expected = ('N' * max(0, -start) +
                  genome[chrom][max(start, 0):min(end, size)] +
                  'N' * max(0, end - size))
      np.testing.assert_array_equal(after['sequence'],
                                    encoding.one_hot_encode(expected))
      checked += 1
  assert checked == len(BED)
  # The flanks of the first and last regions run off chromosome ends.
  assert min(s for _, s, _, _ in new_bed) < 0


def _mutated_fasta(fasta, path, chrom, position):
  genome = pyfaidx.Fasta(fasta, as_raw=True)
  with open(path, 'w') as f:
    for name in genome.keys():
      sequence = genome[name][:]
      if name == chrom:
        base = sequence[position]
        sequence = (sequence[:position] + ('A' if base != 'A' else 'C') +
                    sequence[position + 1:])
      f.write(f'>{name}\n')
      f.write(''.join(sequence[i:i + 60] + '\n'
                      for i in range(0, len(sequence), 60)))


def test_a_different_genome_is_an_error_naming_record_and_base(data,
                                                               tmp_path):
  root, fasta, _, _ = data
  other = tmp_path / 'other.fa'
  _mutated_fasta(fasta, other, 'chr2', 31_000)
  with pytest.raises(ValueError) as info:
    extend_records.extend_records(str(root / 'data'), str(other),
                                  str(tmp_path / 'out'), extend_bp=EXTEND)
  message = str(info.value)
  assert 'test record 0' in message and 'chr2:30000-34096' in message
  assert 'base 1000 (chr2:31000, 0-based)' in message
  assert not os.path.exists(tmp_path / 'out')  # Nothing half-written.
  # A change in a flank only is no error: flanks are new sequence.
  _mutated_fasta(fasta, other, 'chr2', 30_000 - 10)
  extend_records.extend_records(str(root / 'data'), str(other),
                                str(tmp_path / 'ok'), extend_bp=EXTEND)


def test_cli_extends_and_reports_errors_on_one_line(data, tmp_path, capsys):
  root, fasta, out, _ = data
  target = tmp_path / 'cli'
  assert extend_cli.main(['--data_dir', str(root / 'data'), '--fasta', fasta,
                          '--out_dir', str(target), '--extend_bp',
                          str(EXTEND), '--seqs_per_file', '2',
                          '--quiet']) == 0
  for name in ('sequences.bed', 'statistics.json', 'targets.txt'):
    with open(target / name) as f, open(os.path.join(out, name)) as g:
      assert f.read() == g.read()
  assert sorted(os.listdir(target / 'tfrecords')) == sorted(
      os.listdir(os.path.join(out, 'tfrecords')))
  # Exists now: refused without --overwrite.
  code = extend_cli.main(['--data_dir', str(root / 'data'), '--fasta',
                          fasta, '--out_dir', str(target), '--quiet'])
  error = capsys.readouterr().err
  assert code == 1 and error.count('\n') == 1
  assert error.startswith('enformer-extend-records: error: ')
  assert 'already exists' in error
  assert json.load(open(target / 'statistics.json'))['seq_length'] == (
      SEQ_LENGTH + 2 * EXTEND)
