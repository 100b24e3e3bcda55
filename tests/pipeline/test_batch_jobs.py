"""The interval, gene and enhancer jobs on Beam equal their single-process
commands' files, and resume from their manifests."""
import os
import shutil

import h5py
import numpy as np
import pytest

pytest.importorskip('apache_beam')

# pylint: disable=g-import-not-at-top
from enformer_tf.cli import pipeline as cli
from enformer_tf.genomics import enhancer_files, gene_files, interval_files
from enformer_tf.pipeline import driver, enhancer_job, gene_job, interval_job
from enformer_tf.pipeline import shards
from enhancer_helpers import GENES_BED, HEADER, small_enformer
from enformer_tf.data.synthetic import writers

# Wide regions span several 512-bp output spans: 3 + 1 + 4 + 3 = 11
# windows in all, so
# batches of 2 windows cut inside a region and across regions.
REGIONS = ('chr1:100-1400', 'chr1:2000-2100', 'chr2:0-1600', 'chr1:4000-5500')
# A gene with TSSs 4 kb apart (windows not contiguous) keeps the genes
# between them in its unit.
GENES = ('chr1\t300\t301\tg1\t0\t+\tG1\n'
         'chr1\t4300\t4301\tg1\t0\t+\tG1\n'
         'chr1\t350\t351\tg2\t0\t-\tG2\n'
         'chr1\t1500\t1501\tg3\t0\t+\tG3\n'
         'chr1\t2500\t2501\tg4\t0\t+\tG4\n'
         'chr1\t5200\t5201\tg5\t0\t-\tG5\n'
         'chr2\t700\t701\tg6\t0\t+\tG6\n'
         'chr2\t2900\t2901\tg7\t0\t+\tG7\n')


def run(job, work, **kwargs):
  return driver.run_job(job, str(work), num_workers=1,
                        running_mode='in_memory', **kwargs)


def files(directory):
  return {name: (directory / name).read_bytes()
          for name in sorted(os.listdir(directory))}


def assert_same_npz(first, second):
  with np.load(first) as a, np.load(second) as b:
    assert sorted(a.files) == sorted(b.files)
    for key in a.files:
      np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.fixture(name='interval_run', scope='module')
def _interval_run(inputs, tmp_path_factory):
  """The command's directory and a pipeline run's: (command, job, work)."""
  root = tmp_path_factory.mktemp('intervals')
  options = dict(regions=REGIONS, formats=('bigwig', 'bedgraph'), rc=True,
                 batch_size=2)
  interval_files.predict_to_files(inputs['model'], inputs['fasta'], 'human',
                                  str(root / 'cli'), **options)
  job = interval_job.IntervalJob(inputs['model'], inputs['fasta'], 'human',
                                 str(root / 'pipeline'), windows_per_shard=2,
                                 **options)
  summary = run(job, root / 'work')
  return root, job, summary


def test_interval_job_writes_the_commands_directory(interval_run):
  root, _, summary = interval_run
  assert len(summary.plan.units) == 6 and summary.plan.num_inputs == 11
  cli_files, job_files = files(root / 'cli'), files(root / 'pipeline')
  assert sorted(cli_files) == sorted(job_files) == [
      'predictions.npz', 'predictions.tsv', 'track_0.bedgraph',
      'track_0.bw', 'track_1.bedgraph', 'track_1.bw', 'track_2.bedgraph',
      'track_2.bw']
  for name in cli_files:
    if name.endswith('.npz'):  # A zip: its entries carry the time.
      assert_same_npz(root / 'cli' / name, root / 'pipeline' / name)
    else:
      assert job_files[name] == cli_files[name], name


def test_interval_restart_recomputes_only_the_deleted_shard(interval_run,
                                                            tmp_path):
  root, job, _ = interval_run
  work = tmp_path / 'work'
  shutil.copytree(root / 'work', work)
  os.remove(work / shards.shard_file(3, 'predictions'))
  job = interval_job.IntervalJob(**dict(
      vars(job), out_dir=str(tmp_path / 'out')))
  summary = run(job, work)
  assert summary.computed == (3,) and summary.reused == (0, 1, 2, 4, 5)
  assert (tmp_path / 'out' / 'track_1.bw').read_bytes() == (
      root / 'cli' / 'track_1.bw').read_bytes()


def test_interval_job_refuses_what_the_command_refuses(inputs, tmp_path):
  job = interval_job.IntervalJob(inputs['model'], inputs['fasta'], 'human',
                                 str(tmp_path / 'out'), regions=('chr9:1-5',))
  with pytest.raises(ValueError, match='chr9'):
    run(job, tmp_path / 'work')


def test_gene_job_equals_predict_genes(inputs, tmp_path):
  annotation = tmp_path / 'genes.bed'
  annotation.write_text(GENES)
  options = dict(gene_types=None, max_tss_offset=0, flank_bins=0,
                 rc=True, batch_size=2)
  gene_files.predict_genes_to_files(
      inputs['model'], inputs['fasta'], str(annotation), 'human',
      str(tmp_path / 'cli.tsv'), h5=str(tmp_path / 'cli.h5'), **options)
  job = gene_job.GeneJob(inputs['model'], inputs['fasta'], str(annotation),
                         'human', str(tmp_path / 'genes.tsv'),
                         h5=str(tmp_path / 'genes.h5'), windows_per_shard=1,
                         **options)
  summary = run(job, tmp_path / 'work')
  expected = (tmp_path / 'cli.tsv').read_bytes()
  assert (tmp_path / 'genes.tsv').read_bytes() == expected
  assert expected.count(b'\n') == 8  # Header and 7 genes.
  # G1's windows (TSSs 300 and 4300) keep the windows between them in its
  # unit, and the unit ends at a batch boundary (2 windows).
  units = [[g.gene_id for _, genes in u.items for g in genes]
           for u in summary.plan.units]
  assert units == [['g1', 'g2', 'g3', 'g4', 'g1', 'g5'], ['g6', 'g7']]
  with h5py.File(tmp_path / 'cli.h5') as a, h5py.File(
      tmp_path / 'genes.h5') as b:
    assert sorted(a) == sorted(b) and dict(a.attrs) == dict(b.attrs)
    for key in a:
      np.testing.assert_array_equal(a[key][()], b[key][()], err_msg=key)


def test_gene_units_end_where_no_gene_straddles():
  window = lambda *genes: gene_job.genes_lib.GeneWindow(
      'chr1', 0, 0, tuple((g, (0,)) for g in genes))
  windows = [window(0, 1), window(2), window(0), window(3)]
  assert gene_job.cut_allowed(windows) == [False, False, True, True]


@pytest.fixture(name='enhancer_inputs', scope='module')
def _enhancer_inputs(tmp_path_factory):
  root = tmp_path_factory.mktemp('enhancer_job')
  rng = np.random.default_rng(9)
  sequence = np.frombuffer(b'ACGT', np.uint8)[rng.integers(0, 4, 20_000)]
  writers.write_fasta(str(root / 'genome.fa'), [('chr1', sequence.copy())])
  (root / 'genes.bed').write_text(GENES_BED)
  rows = [(5100, 5160, 'GENEA', 'TRUE'), (5990, 6010, 'GENEA', 'FALSE'),
          (6500, 6700, 'GENEA', 'TRUE'), (11800, 11830, 'GENEB', 'TRUE'),
          (12300, 12350, 'GENEB', 'FALSE'), (3000, 3050, 'GENEC', 'FALSE'),
          (15000, 15050, 'GENEA', 'FALSE')]
  (root / 'pairs.tsv').write_text(HEADER + ''.join(
      f'chr1\t{s}\t{e}\tel{i}\t{g}\t.\t{label}\t-0.1\tK562\n'
      for i, (s, e, g, label) in enumerate(rows)) + 'chr1\t100\n')
  small_enformer().save(str(root / 'model.keras'))
  return root


def test_enhancer_job_equals_prioritize_enhancers(enhancer_inputs, tmp_path):
  root = enhancer_inputs
  args = (str(root / 'model.keras'), str(root / 'genome.fa'),
          str(root / 'genes.bed'), str(root / 'pairs.tsv'), 'human')
  options = dict(tracks='1,2', n_bootstrap=20, batch_size=2)
  expected = enhancer_files.prioritize_enhancers_to_files(
      *args, str(tmp_path / 'cli'), **options)
  job = enhancer_job.EnhancerJob(*args, str(tmp_path / 'out'),
                                 genes_per_shard=1, **options)
  summary = run(job, tmp_path / 'work')
  assert len(summary.plan.units) == 2  # GENEA, GENEB (GENEC: not found).
  for name in ('pair_scores.tsv', 'main_tss.tsv', 'problems.tsv',
               'evaluation.tsv'):
    assert (tmp_path / 'out' / name).read_bytes() == (
        tmp_path / 'cli' / name).read_bytes(), name
  assert (tmp_path / 'out' / 'pr_curves.png').exists()
  assert job.summary(summary.plan).message() == (
      f'scored {expected["scored"]} pairs, {expected["problems"]} not '
      'scored (see problems.tsv)')


def test_cli_runs_the_interval_job(inputs, interval_run, tmp_path, capsys):
  root, _, _ = interval_run
  shutil.copytree(root / 'work', tmp_path / 'work')  # Done: merge only.
  argv = ['intervals', '--model', inputs['model'], '--fasta',
          inputs['fasta'], '--head', 'human', '--out_dir',
          str(tmp_path / 'out'), '--format', 'both', '--rc',
          '--batch_size', '2', '--windows_per_shard', '2', '--work_dir',
          str(tmp_path / 'work'), '--workers', '1']
  for region in REGIONS:
    argv += ['--region', region]
  code = cli.main(argv)
  captured = capsys.readouterr()
  assert code == 0, captured.err
  assert '0 shards computed, 6 reused' in captured.out
  assert 'over 4 region(s), 44 bins' in captured.out
  assert (tmp_path / 'out' / 'predictions.tsv').read_bytes() == (
      root / 'cli' / 'predictions.tsv').read_bytes()
