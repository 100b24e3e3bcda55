"""Interval predictions: N padding at chromosome ends, bin coordinates."""
import math

import numpy as np
import pytest

from enformer_tf import Enformer
from enformer_tf import io as models
from enformer_tf.genomics import intervals
from enformer_tf.genomics.intervals import Region
import trained_checks
from random_weights import randomise_weights

SEQUENCE_LENGTH = 1024  # 8 bins in the window ...
TARGET_LENGTH = 4  # ... of which the central 4 are predicted.
CROP = 256


class BaseCounts:
  """A stand-in model whose prediction is a known function of position.

  Track t of an output bin is the number of bases t (A, C, G, T) in the
  128 bp of the input the bin covers, after cropping the window as
  `TargetLengthCrop1D` does; `N` (all-zero rows) counts as nothing.
  """

  def __init__(self, sequence_length=SEQUENCE_LENGTH,
               target_length=TARGET_LENGTH):
    self.sequence_length = sequence_length
    self.target_length = target_length
    self.heads = {'human': 4, 'mouse': 2}
    self.calls = []

  def predict_head(self, x, head, training=False):
    x = np.asarray(x)  # [B, L, 4]
    self.calls.append(x.shape)
    bins = x.shape[1] // 128
    keep = bins if self.target_length is None else self.target_length
    trim = (bins - keep) // 2 * 128
    counts = x[:, trim:trim + keep * 128].reshape(len(x), keep, 128, 4)
    return counts.sum(axis=2)[..., :self.heads[head]]  # [B, keep, tracks]


def expected_counts(sequence, starts):
  """[bins, 4] base counts of the 128-bp bins at `starts`, off-end = 0."""
  rows = []
  for start in starts:
    piece = sequence[max(start, 0):max(start + 128, 0)]
    rows.append([piece.upper().count(base) for base in 'ACGT'])
  return np.array(rows, dtype=np.float32)


@pytest.fixture(scope='module')
def genome(tmp_path_factory):
  """A FASTA with chrA (1,000 bp) and chrB (3,000 bp) of known sequence."""
  rng = np.random.RandomState(7)
  sequences = {name: ''.join(rng.choice(list('ACGTacgt'), size))
               for name, size in (('chrA', 1000), ('chrB', 3000))}
  path = tmp_path_factory.mktemp('genome') / 'genome.fa'
  with open(path, 'w') as f:
    for name, sequence in sequences.items():
      f.write(f'>{name}\n')
      f.writelines(sequence[i:i + 60] + '\n'
                   for i in range(0, len(sequence), 60))
  return str(path), sequences


def kipoiseq_window_start(chrom, start, end, width):
  import kipoiseq
  return kipoiseq.Interval(chrom, start, end).resize(width).start


# -- Regions ------------------------------------------------------------------


@pytest.mark.parametrize('text, region', [
    ('chr1:100-200', Region('chr1', 100, 200)),
    ('chrX:1,000,000-1,000,128', Region('chrX', 1_000_000, 1_000_128)),
    (' 2:0-1 ', Region('2', 0, 1)),
    ('HLA-A*01:01:5-9', None),  # Colons in the name: not a region.
])
def test_parse_region(text, region):
  if region is None:
    with pytest.raises(ValueError, match='CHROM:START-END'):
      intervals.parse_region(text)
  else:
    assert intervals.parse_region(text) == region


@pytest.mark.parametrize('text', ['chr1', 'chr1:100', 'chr1:-5-10',
                                  'chr1:a-b', 'chr1:100-200-300', ':1-2',
                                  'chr1:200-100', 'chr1:5-5'])
def test_parse_region_rejects_malformed_strings(text):
  with pytest.raises(ValueError, match=r"Region '.*'"):
    intervals.parse_region(text)


def test_read_regions_names_and_skips_headers(tmp_path):
  bed = tmp_path / 'regions.bed'
  bed.write_text('track name=x\n# comment\nchr1\t10\t20\tfirst\n\n'
                 'chr2 5 9\n')
  assert intervals.read_regions(str(bed)) == [
      Region('chr1', 10, 20, 'first'), Region('chr2', 5, 9, '')]


@pytest.mark.parametrize('line, message', [
    ('chr1\t10\n', 'line 2: expected at least 3 columns'),
    ('chr1\tten\t20\n', 'line 2: start and end'),
    ('chr1\t30\t20\n', 'line 2: expected 0 <= start < end'),
])
def test_read_regions_names_the_bad_line(tmp_path, line, message):
  bed = tmp_path / 'regions.bed'
  bed.write_text('chr1\t0\t5\n' + line)
  with pytest.raises(ValueError, match=message):
    intervals.read_regions(str(bed))


def test_read_regions_missing_or_empty(tmp_path):
  with pytest.raises(FileNotFoundError, match='not found'):
    intervals.read_regions(str(tmp_path / 'none.bed'))
  (tmp_path / 'empty.bed').write_text('# nothing\n')
  with pytest.raises(ValueError, match='no regions'):
    intervals.read_regions(str(tmp_path / 'empty.bed'))


def test_as_region_takes_kipoiseq_intervals():
  import kipoiseq
  interval = kipoiseq.Interval('chr1', 10, 20, name='x', strand='-')
  assert intervals.as_region(interval) == Region('chr1', 10, 20, 'x')
  with pytest.raises(TypeError, match='CHROM:START-END'):
    intervals.as_region(42)


# -- Coordinates and padding -------------------------------------------------


def check_bins(prediction, sequence, window_start):
  """Bin i covers [window_start + crop + 128 i, + 128); values = counts."""
  starts = window_start + CROP + 128 * np.arange(TARGET_LENGTH)
  np.testing.assert_array_equal(prediction.window_starts, [window_start])
  np.testing.assert_array_equal(prediction.bin_starts, starts)
  np.testing.assert_array_equal(prediction.bin_ends, starts + 128)
  np.testing.assert_array_equal(prediction.values,
                                expected_counts(sequence, starts))


def test_chromosome_start_is_padded_with_n_and_bins_are_placed(genome):
  fasta, sequences = genome
  prediction = intervals.predict_interval(BaseCounts(), fasta, 'chrA:0-10',
                                          'human')
  # Window [-507, 517): bins start at -251, -123, 5, 133.
  window_start = kipoiseq_window_start('chrA', 0, 10, SEQUENCE_LENGTH)
  assert window_start == -507
  check_bins(prediction, sequences['chrA'], window_start)
  totals = prediction.values.sum(axis=1)
  # Bin 0 is wholly off the chromosome (all N), bin 1 holds 5 real bases.
  np.testing.assert_array_equal(totals, [0, 5, 128, 128])
  np.testing.assert_array_equal(prediction.on_chromosome(),
                                [False, True, True, True])
  starts, ends, values = prediction.clipped()
  np.testing.assert_array_equal(starts, [0, 5, 133])
  np.testing.assert_array_equal(ends, [5, 133, 261])
  np.testing.assert_array_equal(values, prediction.values[1:])


def test_chromosome_end_is_padded_with_n_and_bins_are_placed(genome):
  fasta, sequences = genome
  prediction = intervals.predict_interval(BaseCounts(), fasta,
                                          'chrA:990-1000', 'human')
  window_start = kipoiseq_window_start('chrA', 990, 1000, SEQUENCE_LENGTH)
  check_bins(prediction, sequences['chrA'], window_start)
  # Bins [739, 867), [867, 995), [995, 1123), [1123, 1251) on a 1,000 bp chrA.
  np.testing.assert_array_equal(prediction.values.sum(axis=1),
                                [128, 128, 5, 0])
  starts, ends, _ = prediction.clipped()
  assert ends[-1] == 1000 and len(starts) == 3


def test_odd_widths_centre_as_kipoiseq_does(genome):
  fasta, sequences = genome
  for start, end in ((1000, 1001), (1000, 1003), (1501, 1600), (7, 8)):
    prediction = intervals.predict_interval(
        BaseCounts(), fasta, Region('chrB', start, end), 'human')
    check_bins(prediction, sequences['chrB'],
               kipoiseq_window_start('chrB', start, end, SEQUENCE_LENGTH))


def test_wide_regions_are_covered_by_abutting_windows(genome):
  fasta, sequences = genome
  model = BaseCounts()
  region = Region('chrB', 101, 2900)  # 2,799 bp: six 512-bp output spans.
  prediction = intervals.predict_interval(model, fasta, region, 'human',
                                          batch_size=4)
  windows = math.ceil(2799 / 512)
  assert len(prediction.bin_starts) == windows * TARGET_LENGTH
  np.testing.assert_array_equal(np.diff(prediction.window_starts), 512)
  np.testing.assert_array_equal(np.diff(prediction.bin_starts), 128)
  # Centred: as far out on the left as on the right (the odd bp right).
  left = region.start - prediction.start
  right = prediction.end - region.end
  assert prediction.start <= region.start and right - left in (0, 1)
  np.testing.assert_array_equal(
      prediction.values,
      expected_counts(sequences['chrB'], prediction.bin_starts))
  assert model.calls == [(4, SEQUENCE_LENGTH, 4), (2, SEQUENCE_LENGTH, 4)]


def test_batches_span_regions_and_keep_their_order(genome):
  fasta, sequences = genome
  regions = ['chrB:2990-3000', 'chrA:400-500', 'chrB:0-1500', 'chrA:0-1']
  one_by_one = [intervals.predict_interval(BaseCounts(), fasta, r, 'human')
                for r in regions]
  batched = intervals.predict_intervals(BaseCounts(), fasta, regions,
                                        'human', batch_size=3)
  for a, b in zip(one_by_one, batched):
    assert a.region == b.region
    np.testing.assert_array_equal(a.bin_starts, b.bin_starts)
    np.testing.assert_array_equal(a.values, b.values)


def test_tracks_are_chosen_and_named(genome):
  fasta, sequences = genome
  prediction = intervals.predict_interval(
      BaseCounts(), fasta, 'chrB:1000-1100', 'human', tracks=[3, 1],
      track_names=['A', 'C', 'G', 'T'])
  assert prediction.track_names == ('T', 'C')
  assert prediction.track_indices == (3, 1)
  counts = expected_counts(sequences['chrB'], prediction.bin_starts)
  np.testing.assert_array_equal(prediction.track('T'), counts[:, 3])
  np.testing.assert_array_equal(prediction.track(1), counts[:, 1])
  default = intervals.predict_interval(BaseCounts(), fasta, 'chrB:0-10',
                                       'mouse')
  assert default.track_names == ('track_0', 'track_1')


def test_reverse_complement_average(genome):
  fasta, sequences = genome
  region = 'chrB:1000-1100'
  forward = intervals.predict_interval(BaseCounts(), fasta, region, 'human')
  # A on the reverse strand is T on the forward one: with the strand pairs
  # the average is exactly the forward prediction ...
  paired = intervals.predict_interval(
      BaseCounts(), fasta, region, 'human', average_reverse_complement=True,
      strand_pairs=[3, 2, 1, 0])
  np.testing.assert_array_equal(paired.values, forward.values)
  # ... without them each track is averaged with its complement.
  unpaired = intervals.predict_interval(
      BaseCounts(), fasta, region, 'human', average_reverse_complement=True)
  np.testing.assert_array_equal(
      unpaired.values, (forward.values + forward.values[:, ::-1]) / 2)


def test_reverse_complement_needs_centred_bins(genome):
  fasta, _ = genome
  with pytest.raises(ValueError, match='centred'):
    intervals.predict_interval(BaseCounts(target_length=3), fasta,
                               'chrB:0-10', 'human',
                               average_reverse_complement=True)


def test_enformer_bins_align_by_coordinate(genome):
  """The cropped model's bins are the uncropped model's at the same place.

  Crop happens after the transformer and everything after it is per bin, so
  an Enformer with target_length=5 must equal the same weights with no crop
  at equal genome coordinates: this checks `crop_bp` against the real
  `TargetLengthCrop1D` (16 - 5 bins: 5 trimmed left, 6 right).
  """
  fasta, _ = genome
  config = dict(channels=24, num_transformer_layers=1, num_heads=2,
                heads={'human': 3}, sequence_length=2048,
                conv_tower_divisible_by=4)
  full = Enformer(target_length=None, **config)
  cropped = Enformer(target_length=5, **config)
  for model in (full, cropped):
    model.build((None, 2048, 4))
  randomise_weights(full, seed=1)
  cropped.set_weights(full.get_weights())
  assert intervals.output_layout(cropped).crop_bp == 5 * 128
  a = intervals.predict_interval(full, fasta, 'chrA:100-300', 'human')
  b = intervals.predict_interval(cropped, fasta, 'chrA:100-300', 'human')
  assert len(a.bin_starts) == 16 and len(b.bin_starts) == 5
  first = int(np.flatnonzero(a.bin_starts == b.bin_starts[0])[0])
  assert first == 5
  np.testing.assert_allclose(b.values, a.values[first:first + 5],
                             rtol=1e-5, atol=1e-6)
  assert np.ptp(b.values) > 1e-3  # The values do vary with position.


# -- Errors -------------------------------------------------------------------


@pytest.mark.parametrize('region, kwargs, message', [
    ('chrC:0-10', {}, "no chromosome 'chrC'"),
    ('A:0-10', {}, "did you mean 'chrA'"),
    ('chrA:900-1001', {}, 'runs past the end of chrA'),
    ('chrA:0-10', dict(head='rat'), "Unknown head 'rat'"),
    ('chrA:0-10', dict(tracks=[4]), 'out of range'),
    ('chrA:0-10', dict(tracks=[1, 1]), 'more than once'),
    ('chrA:0-10', dict(tracks=[]), 'No tracks'),
    ('chrA:0-10', dict(track_names=['a']), '1 track names'),
    ('chrA:0-10', dict(batch_size=0), 'batch_size'),
    ('chrA:0-10', dict(strand_pairs=[0, 0, 1, 2],
                       average_reverse_complement=True), 'permutation'),
    ('chrA:10', {}, 'CHROM:START-END'),
])
def test_bad_input_is_one_clear_error(genome, region, kwargs, message):
  fasta, _ = genome
  kwargs = dict(dict(head='human'), **kwargs)
  with pytest.raises(ValueError, match=message):
    intervals.predict_interval(BaseCounts(), fasta, region, **kwargs)


def test_missing_fasta(tmp_path):
  with pytest.raises(FileNotFoundError, match='FASTA'):
    intervals.predict_interval(BaseCounts(), str(tmp_path / 'no.fa'),
                               'chr1:0-10', 'human')


def test_layout_needs_a_sequence_length(genome):
  model = BaseCounts(sequence_length=None)
  with pytest.raises(ValueError, match='no sequence_length'):
    intervals.output_layout(model)
  layout = intervals.output_layout(model, sequence_length=1024)
  assert (layout.num_bins, layout.crop_bp, layout.span) == (4, 256, 512)
  with pytest.raises(ValueError, match='multiple of 128'):
    intervals.output_layout(model, sequence_length=1000)
  with pytest.raises(ValueError, match='differs'):
    intervals.output_layout(BaseCounts(), sequence_length=2048)


# -- A trained model ----------------------------------------------------------


def test_trained_model_peaks_at_planted_promoters(trained_synthetic):
  """cage_promoter peaks in the bin holding each held-out promoter.

  Every strong and medium promoter on chr3 (never trained on, nor used by
  the training criterion), with the region placed so the promoter falls in
  the middle of bin 1 and then of bin 6 of 8: the peak must move with it,
  bin for bin (`trained_checks.promoter_peaks`).
  """
  model = models.load_model(trained_synthetic.model_path)
  failures, _ = trained_checks.promoter_peaks(
      model, trained_synthetic.genome['human'], 'chr3')
  assert not failures, failures
