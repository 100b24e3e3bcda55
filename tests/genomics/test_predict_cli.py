"""`enformer-predict`, run in-process through `main(argv)`."""
import os
import re

import numpy as np
import pyBigWig
import pytest

from enformer_tf import Enformer
from enformer_tf.data import synthetic
from enformer_tf import io as models
from enformer_tf.cli import predict as predict_cli
from enformer_tf.genomics import interval_files, intervals, track_writers
from enformer_tf.genomics import tracks
from random_weights import randomise_weights

CHROM_SIZES = {'chr1': 3000, 'chr2': 1500}
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


@pytest.fixture(scope='module')
def files(tmp_path_factory):
  """A tiny random Enformer (.keras), a FASTA and its targets.txt."""
  directory = tmp_path_factory.mktemp('predict_cli')
  rng = np.random.RandomState(0)
  fasta = directory / 'genome.fa'
  with open(fasta, 'w') as f:
    for chrom, size in CHROM_SIZES.items():
      f.write(f'>{chrom}\n' + ''.join(rng.choice(list('ACGT'), size)) + '\n')
  targets = directory / 'targets.txt'
  targets.write_text('index\tidentifier\tfile\tclip\tscale\tsum_stat\t'
                     'description\n'
                     '0\tCAGE:liver\t\t\t1\tsum\tCAGE liver\n'
                     '1\tdnase\t\t\t1\tsum\tDNASE\n'
                     '2\th3k27ac\t\t\t1\tsum\tCHIP\n')
  model = Enformer(channels=24, num_transformer_layers=1, num_heads=2,
                   heads={'human': 3, 'mouse': 2}, sequence_length=1024,
                   target_length=4, conv_tower_divisible_by=4)
  model.build((None, 1024, 4))
  randomise_weights(model, seed=3)
  model_path = directory / 'model.keras'
  model.save(model_path)
  return dict(model=str(model_path), fasta=str(fasta), targets=str(targets),
              dir=directory, loaded={})


@pytest.fixture
def loaded_once(files, monkeypatch):
  """`models.load_model` loads the test model once per module (seconds)."""
  real, cache = models.load_model, files['loaded']

  def load_model(path):
    if path != files['model']:
      return real(path)
    if path not in cache:
      cache[path] = real(path)
    return cache[path]

  monkeypatch.setattr(models, 'load_model', load_model)


def run(files, out_dir, *extra, model=None, fasta=None):
  return predict_cli.main(['--model', model or files['model'],
                           '--fasta', fasta or files['fasta'],
                           '--out_dir', str(out_dir), *extra])


def bigwig_entries(path):
  bigwig = pyBigWig.open(str(path))
  try:
    return list(bigwig.chroms().items()), {
        c: bigwig.intervals(c) or () for c in bigwig.chroms()}
  finally:
    bigwig.close()


def test_writes_tracks_table_and_plots(files, tmp_path, capsys):
  out = tmp_path / 'out'
  assert run(files, out, '--region', 'chr1:0-200', '--region',
             'chr2:1,000-1,400', '--head', 'human', '--targets',
             files['targets'], '--tracks', 'dnase,0', '--format', 'both',
             '--plot') == 0
  assert sorted(os.listdir(out)) == [
      'CAGE_liver.bedgraph', 'CAGE_liver.bw', 'dnase.bedgraph', 'dnase.bw',
      'plots', 'predictions.npz', 'predictions.tsv']
  assert sorted(os.listdir(out / 'plots')) == ['chr1_0-200.png',
                                               'chr2_1000-1400.png']
  for name in os.listdir(out / 'plots'):
    assert (out / 'plots' / name).read_bytes()[:8] == PNG_SIGNATURE
  summary = capsys.readouterr().out
  assert 'human tracks dnase, CAGE:liver over 2 region(s)' in summary

  # The files hold what the library predicts, at the library's coordinates.
  expected = intervals.predict_intervals(
      models.load_model(files['model']), files['fasta'],
      ['chr1:0-200', 'chr2:1000-1400'], 'human', tracks=[1, 0])
  npz = np.load(out / 'predictions.npz')
  np.testing.assert_array_equal(npz['track_indices'], [1, 0])
  np.testing.assert_allclose(
      npz['values'], np.concatenate([p.values for p in expected]), rtol=1e-6)
  np.testing.assert_array_equal(
      npz['start'], np.concatenate([p.bin_starts for p in expected]))
  header, entries = bigwig_entries(out / 'dnase.bw')
  assert header == list(CHROM_SIZES.items())
  for p in expected:
    starts, ends, values = p.clipped()
    got = entries[p.chrom]
    assert [(s, e) for s, e, _ in got] == list(zip(starts, ends))
    np.testing.assert_allclose([v for _, _, v in got], values[:, 0],
                               rtol=1e-6)
  assert entries['chr1'][0][0] == 0  # The window ran off chr1's start.
  with open(out / 'CAGE_liver.bedgraph') as f:
    rows = [line.split('\t') for line in f]
  assert len(rows) == sum(len(p.clipped()[0]) for p in expected)


def test_predict_to_files_takes_a_loaded_model_and_regions(files, tmp_path):
  """The library function the command calls, from Python: a model object,
  `Region`s and the options as keywords."""
  model = models.load_model(files['model'])
  summary = interval_files.predict_to_files(
      model, files['fasta'], 'human', str(tmp_path / 'out'),
      regions=[intervals.Region('chr1', 0, 200, 'start'), 'chr2:100-200'],
      targets=files['targets'], tracks='dnase', formats=('bedgraph',))
  assert summary['tracks'] == ['dnase'] and summary['regions'] == 2
  assert summary['bedgraph'] == ['dnase.bedgraph'] and not summary['bigwig']
  assert sorted(os.listdir(tmp_path / 'out')) == [
      'dnase.bedgraph', 'predictions.npz', 'predictions.tsv']
  assert list(np.load(tmp_path / 'out' / 'predictions.npz')['regions']) == [
      'start', 'chr2:100-200']
  with pytest.raises(ValueError, match='formats must be among'):
    interval_files.predict_to_files(model, files['fasta'], 'human',
                                    str(tmp_path / 'other'),
                                    regions=['chr1:0-10'], formats=('wig',))
  assert sorted(os.listdir(tmp_path)) == ['out']


@pytest.mark.usefixtures('loaded_once')
def test_bed_regions_all_tracks_without_targets(files, tmp_path):
  bed = tmp_path / 'regions.bed'
  bed.write_text('chr2\t100\t200\tenhancer\nchr1\t2900\t3000\tend/of chr1\n')
  out = tmp_path / 'out'
  assert run(files, out, '--bed', str(bed), '--head', 'mouse', '--plot',
             '--rc') == 0
  assert sorted(os.listdir(out)) == ['plots', 'predictions.npz',
                                     'predictions.tsv', 'track_0.bw',
                                     'track_1.bw']
  assert sorted(os.listdir(out / 'plots')) == ['end_of_chr1.png',
                                               'enhancer.png']
  with open(out / 'predictions.tsv') as f:
    header = f.readline().split()
    regions = {line.split('\t')[0] for line in f}
  assert header == ['region', 'chrom', 'start', 'end', 'track_0', 'track_1']
  assert regions == {'enhancer', 'end/of chr1'}


@pytest.mark.usefixtures('loaded_once')
def test_out_dir_is_replaced_only_with_overwrite(files, tmp_path, capsys):
  out = tmp_path / 'out'
  args = ['--region', 'chr1:0-10', '--head', 'human', '--format', 'bedgraph']
  assert run(files, out, *args) == 0
  (out / 'stale.txt').write_text('x')
  assert run(files, out, *args) == 1
  assert 'pass --overwrite' in capsys.readouterr().err
  assert run(files, out, *args, '--overwrite') == 0
  assert 'stale.txt' not in os.listdir(out)
  assert sorted(os.listdir(tmp_path)) == ['out']  # No temporary left.


@pytest.mark.usefixtures('loaded_once')
def test_overlapping_regions_need_overlap_mean(files, tmp_path, capsys):
  args = ['--region', 'chr1:1000-1100', '--region', 'chr1:1200-1300',
          '--head', 'human', '--tracks', '0']
  assert run(files, tmp_path / 'out', *args) == 1
  err = capsys.readouterr().err
  assert 'chr1:1000-1100 and chr1:1200-1300 overlap' in err
  assert not os.listdir(tmp_path)  # Nothing half-written.
  assert run(files, tmp_path / 'out', *args, '--overlap', 'mean') == 0
  _, entries = bigwig_entries(tmp_path / 'out' / 'track_0.bw')
  ends = [e for _, e, _ in entries['chr1']]
  starts = [s for s, _, _ in entries['chr1']]
  assert starts[1:] == ends[:-1]  # Sorted, contiguous, no overlaps.


@pytest.mark.parametrize('args, message', [
    (['--region', 'chrZ:0-10'], "no chromosome 'chrZ'"),
    (['--region', '1:0-10'], "did you mean 'chr1'"),
    (['--region', 'chr1:10'], "Region 'chr1:10' is not CHROM:START-END"),
    (['--region', 'chr1:2900-3100'], 'runs past the end of chr1'),
    (['--region', 'chr1:0-10', '--head', 'rat'], "Unknown head 'rat'"),
    (['--region', 'chr1:0-10', '--tracks', 'nope', '--targets', '{targets}'],
     "no track 'nope' in the targets file"),
    (['--region', 'chr1:0-10', '--tracks', 'dnase'], 'give --targets'),
    (['--region', 'chr1:0-10', '--tracks', '0,3'], 'track 3 is out of range'),
    (['--region', 'chr1:0-10', '--tracks', '0,0'], 'more than once'),
    (['--region', 'chr1:0-10', '--head', 'mouse', '--targets', '{targets}'],
     "lists 3 tracks but head 'mouse' has 2"),
    (['--region', 'chr1:0-10', '--model', '{dir}/none.keras'],
     'No .keras model file'),
    (['--region', 'chr1:0-10', '--model', '{dir}'], 'No checkpoint in'),
    (['--region', 'chr1:0-10', '--fasta', '{dir}/none.fa'],
     "FASTA file '.*none.fa' not found"),
    (['--bed', '{dir}/none.bed'], "BED file '.*none.bed' not found"),
    (['--region', 'chr1:0-10', '--targets', '{dir}/none.txt'],
     "targets file '.*none.txt' not found"),
    (['--region', 'chr1:0-10', '--plot', '--observed'], '--observed needs'),
    (['--region', 'chr1:0-10', '--plot', '--observed', '--targets',
      '{targets}', '--tracks', '1'], "gives no bigWig file for 'dnase'"),
    (['--region', 'chr1:0-10', '--batch_size', '0'], '--batch_size'),
    (['--region', 'chr1:0-10', '--sequence_length', '2048'], 'differs'),
])
@pytest.mark.usefixtures('loaded_once')
def test_bad_input_is_one_line(files, tmp_path, capsys, args, message):
  args = [a.format(**files) for a in args]
  if '--head' not in args:
    args += ['--head', 'human']
  model = fasta = None
  for flag in ('--model', '--fasta'):
    if flag in args:
      i = args.index(flag)
      value = args.pop(i + 1)
      args.pop(i)
      model, fasta = (value, fasta) if flag == '--model' else (model, value)
  assert run(files, tmp_path / 'out', *args, model=model, fasta=fasta) == 1
  captured = capsys.readouterr()
  lines = captured.err.strip().splitlines()
  assert len(lines) == 1, captured.err
  assert lines[0].startswith('enformer-predict: error: ')
  assert re.search(message, lines[0]), lines[0]
  assert not os.path.exists(tmp_path / 'out')


@pytest.mark.parametrize('argv', [
    ['--model', 'm.keras', '--fasta', 'g.fa', '--head', 'human',
     '--out_dir', 'o'],
    ['--model', 'm.keras', '--fasta', 'g.fa', '--head', 'human',
     '--out_dir', 'o', '--region', 'chr1:0-1', '--bed', 'r.bed'],
    ['--model', 'm.keras', '--fasta', 'g.fa', '--head', 'human',
     '--out_dir', 'o', '--region', 'chr1:0-1', '--format', 'wig'],
])
def test_usage_errors_are_one_line(argv, capsys):
  with pytest.raises(SystemExit) as exit_info:
    predict_cli.main(argv)
  assert exit_info.value.code == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith('enformer-predict: error: ')


def test_parse_tracks():
  assert tracks.parse_tracks(None, 5) is None
  assert tracks.parse_tracks('4,0-2', 5) == [4, 0, 1, 2]
  assert tracks.parse_tracks('b, 0', 3, ['a', 'b', 'c']) == [1, 0]
  for text, message in (('2-1', 'decreasing'), ('0,,1', 'empty item'),
                        ('x', 'give --targets'), ('5', 'out of range')):
    with pytest.raises(ValueError, match=message):
      tracks.parse_tracks(text, 5)


def test_readme_example_on_the_synthetic_genome(trained_synthetic, tmp_path):
  """The README command on the trained synthetic model: promoters peak.

  Regions are held-out (chr3) promoters; tracks are chosen by identifier
  and the observed bigWigs are drawn from the targets file the model was
  trained on (scaled).
  """
  files = trained_synthetic.genome['human']
  promoters = [e for e in synthetic.read_elements(files['elements'])
               if e.kind == 'promoter' and e.chrom == 'chr3'
               and e.variant == 'strong']
  bed = tmp_path / 'promoters.bed'
  bed.write_text(''.join(f'{e.chrom}\t{e.start}\t{e.end}\t{e.name}\n'
                         for e in promoters))
  targets = files['targets'].replace('.txt', '_scaled.txt')
  out = tmp_path / 'predictions'
  assert predict_cli.main([
      '--model', trained_synthetic.model_path, '--fasta', files['fasta'],
      '--bed', str(bed), '--head', 'human', '--targets', targets,
      '--tracks', 'cage_promoter,dnase', '--out_dir', str(out),
      '--format', 'both', '--plot', '--observed']) == 0
  assert sorted(os.listdir(out / 'plots')) == sorted(
      f'{e.name}.png' for e in promoters)
  npz = np.load(out / 'predictions.npz')
  assert list(npz['track_names']) == ['cage_promoter', 'dnase']
  for i, element in enumerate(promoters):
    rows = npz['region'] == i
    peak = int(np.argmax(npz['values'][rows, 0]))
    start, end = npz['start'][rows][peak], npz['end'][rows][peak]
    # A promoter centred within a few bp of a bin boundary spreads its
    # signal over both bins; either may hold the maximum.
    assert start - 16 <= element.center < end + 16, (element.name, start)
  header, entries = bigwig_entries(out / 'cage_promoter.bw')
  assert header == list(track_writers.chromosome_sizes(files['fasta'])
                        .items())
  assert len(entries['chr3']) == len(promoters) * 8
