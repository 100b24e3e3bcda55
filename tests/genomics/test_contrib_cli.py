"""`enformer-contrib` in-process on the trained synthetic model: arrays
against the library, coordinates worked out by hand from the FASTA text, PNGs,
and one-line errors."""
import json
import os

import numpy as np
import pytest

from enformer_tf.data import encoding
from enformer_tf import io as models
from enformer_tf.cli import contrib as contrib_cli
from enformer_tf.genomics import contribution

L = 2048  # synthetic_model.SEQUENCE_LENGTH
BINS = 8  # synthetic_model.TARGET_LENGTH
CROP_BP = (L // 128 - BINS) // 2 * 128  # Trimmed on the left of the output.
TRACK_NAMES = ('cage_promoter', 'cage_distal', 'dnase', 'gc')


def read_fasta(path):
  """`{name: sequence}`, parsed here rather than through pyfaidx."""
  sequences, name = {}, None
  with open(path) as f:
    for line in f:
      line = line.strip()
      if line.startswith('>'):
        name = line[1:].split()[0]
        sequences[name] = []
      elif line:
        sequences[name].append(line)
  return {name: ''.join(parts) for name, parts in sequences.items()}


@pytest.fixture(scope='module')
def files(trained_synthetic):
  """The trained model (path and loaded), the human FASTA and targets."""
  human = trained_synthetic.genome['human']
  assert trained_synthetic.sequence_length == L
  assert trained_synthetic.target_length == BINS
  return dict(model=trained_synthetic.model_path, fasta=human['fasta'],
              targets=human['targets'], sequences=read_fasta(human['fasta']),
              loaded=models.load_model(trained_synthetic.model_path))


def base_args(files, out_dir, *extra):
  return ['--model', files['model'], '--fasta', files['fasta'],
          '--head', 'human', '--out_dir', str(out_dir), *extra]


def window_one_hot(files, chrom, start):
  """The model input from `start`, N-padded, read from the text directly."""
  text = files['sequences'][chrom]
  padded = 'N' * L + text + 'N' * L
  return encoding.one_hot_encode(padded[start + L:start + 2 * L])


def test_all_methods_write_arrays_with_coordinates_and_pngs(files, tmp_path,
                                                            capsys):
  out_dir = tmp_path / 'contrib'
  assert contrib_cli.main(base_args(
      files, out_dir, '--region', 'chr1:20,000-20,010', '--targets',
      files['targets'], '--tracks', 'dnase,cage_promoter', '--method', 'all',
      '--ism_window', 'chr1:19998-20004', '--batch_size', '5')) == 0
  stdout = capsys.readouterr().out
  assert 'human cage_promoter, dnase over bins 3-4' in stdout
  assert 'ism: 18 mutants over chr1:19998-20004' in stdout
  assert sorted(os.listdir(out_dir)) == [
      'attention.npz', 'attention_layer_0.png', 'contrib.json',
      'grad_x_input.npz', 'grad_x_input.png', 'ism.npz', 'ism.png']
  assert os.listdir(tmp_path) == ['contrib']  # No temporary directories.
  for png in ('attention_layer_0.png', 'grad_x_input.png', 'ism.png'):
    with open(out_dir / png, 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'

  # The window centred on [20000, 20010): centre 20005, 1024 bp either
  # side; output bins start 512 bp in; bins 3 and 4 overlap the region.
  start = 20005 - L // 2
  one_hot = window_one_hot(files, 'chr1', start)
  mask = np.zeros([BINS, 4], np.float32)
  mask[3:5, [0, 2]] = 1.0
  bin_starts = start + CROP_BP + 128 * np.arange(BINS)
  np.testing.assert_array_equal(bin_starts[3:5], [19877, 20005])
  model = files['loaded']

  grad = np.load(out_dir / 'grad_x_input.npz')
  np.testing.assert_array_equal(grad['positions'], start + np.arange(L))
  np.testing.assert_array_equal(grad['one_hot'], one_hot)
  np.testing.assert_array_equal(grad['mask'], mask)
  np.testing.assert_array_equal(grad['bin_starts'], bin_starts)
  np.testing.assert_array_equal(grad['bins'], [3, 4])
  np.testing.assert_array_equal(grad['tracks'], [0, 2])
  assert list(grad['track_names']) == ['cage_promoter', 'dnase']
  assert str(grad['chrom']) == 'chr1'
  expected = contribution.gradient_times_input(model, one_hot, 'human', mask)
  np.testing.assert_allclose(grad['scores'], expected.scores, rtol=1e-4,
                             atol=1e-6 * np.abs(expected.scores).max())
  np.testing.assert_allclose(grad['gradients'], expected.gradients,
                             rtol=1e-4,
                             atol=1e-6 * np.abs(expected.gradients).max())
  assert float(grad['target']) == pytest.approx(float(expected.target),
                                                rel=1e-5)

  ism = np.load(out_dir / 'ism.npz')
  np.testing.assert_array_equal(ism['positions'], np.arange(19998, 20004))
  offset = 19998 - start
  np.testing.assert_array_equal(ism['reference'],
                                one_hot[offset:offset + 6])
  expected = contribution.in_silico_mutagenesis(
      model, one_hot, 'human', (offset, offset + 6), mask)
  np.testing.assert_allclose(ism['effects'], expected.effects, rtol=1e-3,
                             atol=1e-3 * np.abs(expected.effects).max())
  np.testing.assert_allclose(ism['mean_effect'], expected.mean_effect,
                             rtol=1e-3,
                             atol=1e-3 * np.abs(expected.effects).max())

  attention = np.load(out_dir / 'attention.npz')
  np.testing.assert_array_equal(attention['bin_starts'],
                                start + 128 * np.arange(L // 128))
  np.testing.assert_allclose(attention['layer_0'],
                             contribution.attention_maps(model, one_hot)[0],
                             atol=1e-6)
  assert 'layer_1' not in attention

  summary = json.loads((out_dir / 'contrib.json').read_text())
  assert summary['window'] == f'chr1:{start}-{start + L}'
  assert summary['bins'] == [3, 5] and summary['bin_span'] == [19877, 20133]
  assert summary['tracks'] == [0, 2]
  assert summary['methods'] == ['grad', 'ism', 'attention']


def test_chromosome_start_is_padded_and_offsets_select_the_ism_window(
    files, tmp_path, monkeypatch):
  monkeypatch.setattr(models, 'load_model', lambda path: files['loaded'])
  out_dir = tmp_path / 'start'
  assert contrib_cli.main(base_args(
      files, out_dir, '--region', 'chr2:1000-1010', '--tracks', '1',
      '--bins', '0:8', '--method', 'grad', '--method', 'ism',
      '--ism_window', '2040:2043')) == 0
  start = 1005 - L // 2  # -19: the window starts off the chromosome.
  grad = np.load(out_dir / 'grad_x_input.npz')
  np.testing.assert_array_equal(grad['positions'], start + np.arange(L))
  one_hot = window_one_hot(files, 'chr2', start)
  np.testing.assert_array_equal(grad['one_hot'], one_hot)
  assert np.all(one_hot[:-start] == 0)  # N before the chromosome.
  is_n = one_hot.sum(axis=-1) == 0
  assert np.all(grad['scores'][is_n] == 0)
  expected_mask = np.zeros([BINS, 4], np.float32)
  expected_mask[:, 1] = 1.0
  np.testing.assert_array_equal(grad['mask'], expected_mask)
  expected = contribution.gradient_times_input(files['loaded'], one_hot,
                                               'human', expected_mask)
  np.testing.assert_allclose(grad['scores'], expected.scores, rtol=1e-4,
                             atol=1e-6 * np.abs(expected.scores).max())
  ism = np.load(out_dir / 'ism.npz')
  np.testing.assert_array_equal(ism['positions'], start + np.arange(2040,
                                                                    2043))
  np.testing.assert_array_equal(ism['reference'], one_hot[2040:2043])
  assert sorted(os.listdir(out_dir)) == [
      'contrib.json', 'grad_x_input.npz', 'grad_x_input.png', 'ism.npz',
      'ism.png']


def test_overwrite_replaces_the_output_directory(files, tmp_path,
                                                 monkeypatch):
  monkeypatch.setattr(models, 'load_model', lambda path: files['loaded'])
  out_dir = tmp_path / 'again'
  out_dir.mkdir()
  (out_dir / 'old.txt').write_text('old')
  args = base_args(files, out_dir, '--region', 'chr1:30000-30100')
  assert contrib_cli.main(args) == 1  # Not empty: refused, untouched.
  assert os.listdir(out_dir) == ['old.txt']
  assert contrib_cli.main(args + ['--overwrite']) == 0
  assert sorted(os.listdir(out_dir)) == ['contrib.json', 'grad_x_input.npz',
                                         'grad_x_input.png']


@pytest.mark.parametrize('extra, message', [
    (['--region', 'chr1:2000-2010', '--bins', '3:9'],
     "--bins '3:9' is outside the model's 8 output bins"),
    (['--region', 'chr1:2000-2010', '--bins', 'two'], 'is not A:B or A'),
    (['--region', 'chr1:2000-2010', '--head', 'zebrafish'],
     "Unknown head 'zebrafish'; this model has the heads ['human', 'mouse']"),
    (['--region', 'chr1:2000-2010', '--targets', 'TARGETS', '--tracks',
      'h3k27ac'], "--tracks: no track 'h3k27ac' in the targets file"),
    (['--region', 'chr1:2000-2010', '--tracks', '5'],
     '--tracks: track 5 is out of range; the head has 4 tracks'),
    (['--region', 'chr1:2000-2010', '--tracks', 'dnase'],
     'give --targets to choose tracks by identifier'),
    (['--region', 'chr1:2000-2010', '--head', 'mouse', '--targets',
      'TARGETS'], 'lists 4 tracks but head \'mouse\' has 3'),
    (['--region', 'chr1:20000-20010', '--method', 'ism', '--ism_window',
      'chr1:100-110'], '--ism_window chr1:100-110 is not inside the input '
     'window chr1:18981-21029'),
    (['--region', 'chr1:2000-2010', '--method', 'ism', '--ism_window',
      '2040:2050'], 'expected offsets 0 <= A < B <= 2048'),
    (['--region', 'chr1:2000-2010', '--method', 'ism', '--ism_window',
      'somewhere'], 'is not CHR:START-END'),
    (['--region', 'chr1:19000-21000', '--method', 'ism'],
     'choose the bases with --ism_window'),
    (['--region', 'chrX:100-200'], "has no chromosome 'chrX'"),
    (['--region', 'chr1:500000-500010'], 'starts past the end of chr1'),
    (['--region', 'chr1:20-10'], 'has END <= START'),
    (['--region', 'chr1:2000-2010', '--method', 'saliency'],
     "--method 'saliency' is not one of grad, ism, attention or all"),
    (['--region', 'chr1:2000-2010', '--batch_size', '0'],
     '--batch_size must be positive'),
])
def test_bad_input_is_one_line_on_stderr(files, tmp_path, monkeypatch,
                                         capsys, extra, message):
  monkeypatch.setattr(models, 'load_model', lambda path: files['loaded'])
  extra = [files['targets'] if e == 'TARGETS' else e for e in extra]
  out_dir = tmp_path / 'out'
  assert contrib_cli.main(base_args(files, out_dir, *extra)) == 1
  stderr = capsys.readouterr().err
  assert stderr.startswith('enformer-contrib: error: ')
  assert stderr.count('\n') == 1 and 'Traceback' not in stderr
  assert message in stderr
  assert os.listdir(tmp_path) == []  # Nothing written, not even partly.


def test_a_missing_model_or_argument_is_reported(files, tmp_path, capsys):
  assert contrib_cli.main(['--model', str(tmp_path / 'none.keras'),
                           '--fasta', files['fasta'], '--region',
                           'chr1:1-10', '--head', 'human', '--out_dir',
                           str(tmp_path / 'out')]) == 1
  assert 'No .keras model file at' in capsys.readouterr().err
  with pytest.raises(SystemExit) as exit_info:
    contrib_cli.main(['--model', files['model'], '--head', 'human'])
  assert exit_info.value.code == 2
  stderr = capsys.readouterr().err
  assert stderr.startswith('enformer-contrib: error: the following '
                           'arguments are required')
  assert stderr.count('\n') == 1
