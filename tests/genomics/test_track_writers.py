"""bigWig, bedGraph and table writers; the PNG plot of interval predictions."""
import os

import numpy as np
import pyBigWig
import pytest

from enformer_tf import atomic
from enformer_tf.genomics import plotting, track_writers
from enformer_tf.genomics.intervals import IntervalPrediction, Region

# FASTA order, deliberately not alphabetical: files must follow it.
CHROM_SIZES = {'chrB': 1000, 'chrA': 700}
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def prediction(chrom, first_bin_start, values, name='', region=None,
               track_names=('a', 'b')):
  """An IntervalPrediction of contiguous 128-bp bins from `first_bin_start`."""
  values = np.asarray(values, np.float32).reshape(-1, len(track_names))
  starts = first_bin_start + 128 * np.arange(len(values), dtype=np.int64)
  region = region or Region(chrom, max(int(starts[0]), 0),
                            min(int(starts[-1]) + 128, CHROM_SIZES[chrom]),
                            name)
  return IntervalPrediction(
      region=region, head='human', chrom_size=CHROM_SIZES[chrom],
      window_starts=np.array([first_bin_start - 256]), bin_starts=starts,
      bin_ends=starts + 128, values=values,
      track_indices=tuple(range(len(track_names))),
      track_names=tuple(track_names))


def random_values(bins, seed):
  return np.random.RandomState(seed).uniform(0, 10, (bins, 2))


def read_bigwig(path):
  bigwig = pyBigWig.open(path)
  try:
    return list(bigwig.chroms().items()), {
        chrom: bigwig.intervals(chrom) or () for chrom in bigwig.chroms()}
  finally:
    bigwig.close()


def read_bedgraph(path):
  with open(path) as f:
    rows = [line.rstrip('\n').split('\t') for line in f]
  return [(c, int(s), int(e), np.float32(v)) for c, s, e, v in rows]


def expected_entries(predictions, column):
  """(chrom, start, end, value) of the clipped bins, in FASTA order."""
  rows = []
  for p in predictions:
    starts, ends, values = p.clipped()
    rows += [(p.chrom, int(s), int(e), np.float32(v))
             for s, e, v in zip(starts, ends, values[:, column])]
  order = list(CHROM_SIZES)
  return sorted(rows, key=lambda r: (order.index(r[0]), r[1]))


@pytest.fixture
def predictions():
  """Off both ends of chrB, inside chrA, listed out of genome order."""
  return [prediction('chrA', 300, random_values(2, 0), 'inside'),
          prediction('chrB', 900, random_values(2, 1), 'past_end'),
          prediction('chrB', -100, random_values(3, 2), 'before_start')]


def test_bigwig_reads_back_equal_and_clipped(tmp_path, predictions):
  path = str(tmp_path / 'a.bw')
  assert track_writers.write_bigwig(path, predictions, 'a',
                                    CHROM_SIZES) == path
  header, entries = read_bigwig(path)
  assert header == list(CHROM_SIZES.items())  # Every FASTA chromosome.
  got = [(c, s, e, np.float32(v)) for c in CHROM_SIZES
         for s, e, v in entries[c]]
  assert got == expected_entries(predictions, 0)
  # Clipped at both ends of chrB (1,000 bp): [-100, 28) -> [0, 28),
  # [1028, 1156) dropped, [900, 1028) -> [900, 1000).
  assert entries['chrB'][0][:2] == (0, 28)
  assert entries['chrB'][-1][:2] == (900, 1000)
  assert len(entries['chrB']) == 4


def test_bedgraph_reads_back_equal(tmp_path, predictions):
  path = str(tmp_path / 'b.bedgraph')
  track_writers.write_bedgraph(path, predictions, 1, CHROM_SIZES)
  assert read_bedgraph(path) == expected_entries(predictions, 1)


def test_bigwig_and_bedgraph_agree_on_every_base(tmp_path, predictions):
  track_writers.write_bigwig(str(tmp_path / 'a.bw'), predictions, 0,
                             CHROM_SIZES)
  track_writers.write_bedgraph(str(tmp_path / 'a.bedgraph'), predictions, 0,
                               CHROM_SIZES)
  bigwig = pyBigWig.open(str(tmp_path / 'a.bw'))
  for chrom, start, end, value in read_bedgraph(str(tmp_path / 'a.bedgraph')):
    np.testing.assert_array_equal(
        bigwig.values(chrom, start, end, numpy=True),
        np.full(end - start, value, np.float32))
  bigwig.close()


def test_overlapping_regions_are_refused_by_default(tmp_path):
  overlapping = [prediction('chrA', 0, np.ones((2, 2)), 'first'),
                 prediction('chrA', 200, np.ones((2, 2)), 'second')]
  path = tmp_path / 'a.bw'
  path.write_bytes(b'old')
  with pytest.raises(ValueError, match=r'first and second overlap on '
                     r'chrA:200-256.*--overlap mean'):
    track_writers.write_bigwig(str(path), overlapping, 0, CHROM_SIZES)
  assert path.read_bytes() == b'old'
  assert os.listdir(tmp_path) == ['a.bw']


def test_overlap_mean_averages_piece_by_piece(tmp_path):
  merged = [prediction('chrA', 0, [[1, 0], [2, 0]], 'first'),
            prediction('chrA', 64, [[4, 0]], 'second'),
            prediction('chrA', 600, [[7, 0]], 'alone')]
  track_writers.write_bedgraph(str(tmp_path / 'a.bedgraph'), merged, 'a',
                               CHROM_SIZES, overlap='mean')
  assert read_bedgraph(str(tmp_path / 'a.bedgraph')) == [
      ('chrA', 0, 64, 1.0), ('chrA', 64, 128, 2.5), ('chrA', 128, 192, 3.0),
      ('chrA', 192, 256, 2.0), ('chrA', 600, 700, 7.0)]


def test_abutting_regions_are_not_overlaps(tmp_path):
  abutting = [prediction('chrA', 0, np.ones((2, 2)), 'first'),
              prediction('chrA', 256, 2 * np.ones((2, 2)), 'second')]
  track_writers.write_bigwig(str(tmp_path / 'a.bw'), abutting, 0,
                             CHROM_SIZES)
  assert len(read_bigwig(str(tmp_path / 'a.bw'))[1]['chrA']) == 4


@pytest.mark.parametrize('kwargs, message', [
    (dict(overlap='max'), "overlap must be one of"),
    (dict(track='c'), "No track 'c'"),
    (dict(track=2), 'out of range'),
    (dict(chrom_sizes={'chrA': 700}), "on 'chrB', which the chromosome"),
    (dict(chrom_sizes={'chrB': 999, 'chrA': 700}), 'same genome'),
])
def test_writer_errors(tmp_path, predictions, kwargs, message):
  kwargs = dict(dict(track=0, chrom_sizes=CHROM_SIZES), **kwargs)
  with pytest.raises(ValueError, match=message):
    track_writers.write_bigwig(str(tmp_path / 'a.bw'), predictions, **kwargs)
  assert not os.listdir(tmp_path)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
  target = tmp_path / 'out.txt'
  target.write_text('old')
  with pytest.raises(RuntimeError):
    with atomic.atomic_path(str(target)) as temporary:
      with open(temporary, 'w') as f:
        f.write('half')
      raise RuntimeError('interrupted')
  assert target.read_text() == 'old'
  assert os.listdir(tmp_path) == ['out.txt']


def test_table_and_npz_hold_every_bin(tmp_path, predictions):
  track_writers.write_table(str(tmp_path / 'p.tsv'), predictions)
  track_writers.write_npz(str(tmp_path / 'p.npz'), predictions)
  with open(tmp_path / 'p.tsv') as f:
    header, *rows = [line.rstrip('\n').split('\t') for line in f]
  assert header == ['region', 'chrom', 'start', 'end', 'a', 'b']
  assert len(rows) == 7  # Off-chromosome bins included.
  assert rows[2][:4] == ['past_end', 'chrB', '900', '1028']
  npz = np.load(tmp_path / 'p.npz')
  np.testing.assert_array_equal(npz['values'], np.concatenate(
      [p.values for p in predictions]))
  np.testing.assert_array_equal(
      npz['values'], np.array([r[4:] for r in rows], np.float32))
  np.testing.assert_array_equal(npz['start'], [int(r[2]) for r in rows])
  np.testing.assert_array_equal(npz['chrom'], [r[1] for r in rows])
  assert list(npz['regions']) == ['inside', 'past_end', 'before_start']
  np.testing.assert_array_equal(npz['region'], [0, 0, 1, 1, 2, 2, 2])
  assert list(npz['track_names']) == ['a', 'b'] and str(npz['head']) == 'human'


def test_file_names_are_safe_and_unique():
  assert track_writers.file_names(
      ['CAGE:liver', 'CAGE/liver', 'dnase', 'DNASE', '..', 'chr1:5-9'],
      '.bw') == ['CAGE_liver.bw', 'CAGE_liver_2.bw', 'dnase.bw',
                 'DNASE_2.bw', 'track.bw', 'chr1_5-9.bw']


def test_chromosome_sizes_from_a_fasta(tmp_path):
  fasta = tmp_path / 'g.fa'
  fasta.write_text('>chrZ\nACGT\nAC\n>chr1\nNNN\n')
  assert list(track_writers.chromosome_sizes(str(fasta)).items()) == [
      ('chrZ', 6), ('chr1', 3)]


# -- Plot ---------------------------------------------------------------------


def test_plot_is_a_png(tmp_path, predictions):
  import matplotlib.image
  path = str(tmp_path / 'plots' / 'region.png')
  p = predictions[2]  # Runs off the start of chrB: hatched.
  assert plotting.plot_tracks(p, path, tracks=['b', 0],
                              observed={'a': np.arange(3.0)},
                              labels={'b': 'track b\nwith a description'},
                              title='test') == path
  with open(path, 'rb') as f:
    assert f.read(8) == PNG_SIGNATURE
  image = matplotlib.image.imread(path)
  assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 500
  assert os.listdir(tmp_path / 'plots') == ['region.png']


def test_plot_rejects_misshapen_observed(tmp_path, predictions):
  with pytest.raises(ValueError, match='one per bin'):
    plotting.plot_tracks(predictions[0], str(tmp_path / 'x.png'),
                         observed={0: np.zeros(5)})


def test_observed_bins_sum_a_bigwig_over_the_bins(tmp_path):
  path = str(tmp_path / 'observed.bw')
  bigwig = pyBigWig.open(path, 'w')
  bigwig.addHeader([('chrB', 1000)])
  bigwig.addEntries('chrB', 0, values=np.arange(1000, dtype=np.float64),
                    span=1, step=1)
  bigwig.close()
  p = prediction('chrB', -100, random_values(3, 0))  # [-100, 284)
  observed = plotting.observed_bins(path, p, sum_stat='sum', scale=0.5)
  per_base = np.concatenate([np.zeros(100), np.arange(284)])  # N = 0.
  np.testing.assert_allclose(
      observed, 0.5 * per_base.reshape(3, 128).sum(axis=1), rtol=1e-6)
  with pytest.raises(ValueError, match="no chromosome 'chrA'"):
    plotting.observed_bins(path, prediction('chrA', 0, np.ones((1, 2))))
  with pytest.raises(FileNotFoundError):
    plotting.observed_bins(str(tmp_path / 'none.bw'), p)
