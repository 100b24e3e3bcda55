"""The variant job on Beam equals `enformer-score-variants`, survives a
failing bundle and resumes from its manifest."""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip('apache_beam')

from enformer_tf.cli import pipeline as cli  # pylint: disable=g-import-not-at-top
from enformer_tf.pipeline import driver, faults, jobs, shards

OPTIONS = dict(rc=True, shifts=(0, 1), batch_size=4)
NUM_SCORED = 16  # Scorable variants in the conftest VCF.


def make_job(inputs, directory, **overrides):
  kwargs = dict(OPTIONS, skipped=os.path.join(directory, 'skipped.tsv'),
                records_per_shard=4)
  kwargs.update(overrides)
  return jobs.VariantJob(inputs['model'], inputs['fasta'],
                         inputs['vcf_path'], inputs['head'],
                         os.path.join(directory, 'scores.tsv'), **kwargs)


def read(path):
  with open(path, 'rb') as f:
    return f.read()


def assert_same_as_cli(job, cli_outputs):
  scores, skipped = cli_outputs
  assert read(job.out) == scores
  assert read(job.skipped) == skipped


@pytest.fixture(name='done_run', scope='module')
def _done_run(inputs, tmp_path_factory):
  """A complete in-process run: (job, summary, its directory)."""
  directory = str(tmp_path_factory.mktemp('done'))
  job = make_job(inputs, directory)
  summary = driver.run_job(job, os.path.join(directory, 'work'),
                           num_workers=1, running_mode='in_memory')
  return job, summary, directory


def copy_run(done_run, tmp_path):
  """The done run's work directory copied, and a job writing beside it."""
  _, _, directory = done_run
  work = str(tmp_path / 'work')
  shutil.copytree(os.path.join(directory, 'work'), work)
  return work


def test_in_process_run_equals_the_cli_and_writes_a_manifest(done_run,
                                                             cli_outputs):
  job, summary, directory = done_run
  assert_same_as_cli(job, cli_outputs)
  assert summary.computed == (0, 1, 2, 3) and summary.reused == ()
  manifest = shards.read_manifest(os.path.join(directory, 'work'))
  entries = manifest['shards']
  assert [e['index'] for e in entries] == [0, 1, 2, 3]
  assert sum(e['num_inputs'] for e in entries) == NUM_SCORED
  # Shards end at batch boundaries: a unit is at least records_per_shard.
  assert all(e['num_inputs'] >= 4 for e in entries[:-1])
  assert entries[0]['first'] == 'VCF line 3'
  for entry in entries:
    record = entry['outputs']['scores']
    path = os.path.join(directory, 'work', record['file'])
    assert record['rows'] == entry['num_inputs']
    assert record['sha256'] == shards.file_sha256(path)
  assert manifest['merged']['scores']['rows'] == NUM_SCORED
  assert manifest['merged']['scores']['sha256'] == shards.file_sha256(
      job.out)
  assert manifest['fingerprint']['model'] == shards.file_sha256(
      job.model)


@pytest.mark.slow
def test_two_worker_processes_equal_the_cli(inputs, cli_outputs, tmp_path):
  job = make_job(inputs, str(tmp_path), records_per_shard=2)
  summary = driver.run_job(job, str(tmp_path / 'work'), num_workers=2)
  assert_same_as_cli(job, cli_outputs)
  assert len(summary.computed) == len(summary.plan.units) > 2


def test_a_failing_bundle_is_not_retried_by_the_local_engine_and_the_rerun_resumes(
    inputs, cli_outputs, tmp_path, monkeypatch):
  marker = tmp_path / 'failed-once'
  monkeypatch.setenv(faults.FAIL_ONCE_ENV, f'1:{marker}')
  job = make_job(inputs, str(tmp_path))
  work = str(tmp_path / 'work')
  with pytest.raises(driver.PipelineFailed, match='run again') as failed:
    driver.run_job(job, work, num_workers=1, running_mode='in_memory')
  assert marker.exists()  # The engine ran the bundle once, no retry.
  # The failed bundle's other units may not have run; those done stay.
  pending = failed.value.pending
  assert 1 in pending
  names = sorted(os.listdir(os.path.join(work, 'shards')))
  assert not [n for n in names if n.startswith('.')]  # No temporaries.
  assert 'shard-00001.scores.tsv' not in names
  assert not os.path.exists(job.out)
  summary = driver.run_job(job, work, num_workers=1,
                           running_mode='in_memory')
  assert summary.computed == pending
  assert summary.reused == tuple(i for i in range(4) if i not in pending)
  assert_same_as_cli(job, cli_outputs)


def test_attempts_rerun_the_job_until_every_shard_is_done(
    inputs, cli_outputs, tmp_path, monkeypatch):
  monkeypatch.setenv(faults.FAIL_ONCE_ENV, f'2:{tmp_path / "marker"}')
  lines = []
  job = make_job(inputs, str(tmp_path))
  summary = driver.run_job(job, str(tmp_path / 'work'), num_workers=1,
                           running_mode='in_memory', attempts=2,
                           log=lines.append)
  assert summary.attempts == 2
  assert any('attempt 1 failed' in line and 'shard 2 fails once' in line
             for line in lines), lines
  assert_same_as_cli(job, cli_outputs)
  rows = read(job.out).decode().splitlines()[1:]
  assert len(rows) == len(set(rows)) == NUM_SCORED  # No duplicates.


def test_restart_recomputes_only_missing_or_invalid_shards(
    done_run, inputs, cli_outputs, tmp_path):
  work = copy_run(done_run, tmp_path)
  os.remove(os.path.join(work, shards.shard_file(0, 'scores')))
  corrupt = os.path.join(work, shards.shard_file(2, 'scores'))
  text = read(corrupt)  # Same size, one digit changed: exists but invalid.
  position = text.rindex(b'e-0')
  with open(corrupt, 'wb') as f:
    f.write(text[:position - 1] + (b'1' if text[position - 1:position]
                                   != b'1' else b'2') + text[position:])
  os.remove(shards.entry_file(work, 3))  # Falls back to the manifest entry.
  job = make_job(inputs, str(tmp_path))
  summary = driver.run_job(job, work, num_workers=1,
                           running_mode='in_memory')
  assert summary.computed == (0, 2) and summary.reused == (1, 3)
  assert_same_as_cli(job, cli_outputs)


def test_other_options_in_the_same_work_dir_are_refused(done_run, inputs,
                                                         tmp_path):
  work = copy_run(done_run, tmp_path)
  job = make_job(inputs, str(tmp_path), batch_size=2)
  with pytest.raises(ValueError, match='differs in: batch_size'):
    driver.run_job(job, work, num_workers=1, running_mode='in_memory')
  assert not os.path.exists(job.out)


def test_cli_runs_the_job_and_reports_skips(inputs, cli_outputs, done_run,
                                            tmp_path, capsys):
  work = copy_run(done_run, tmp_path)  # Every shard done: merge only.
  out, skipped = tmp_path / 'scores.tsv', tmp_path / 'skipped.tsv'
  code = cli.main(['variants', '--model', inputs['model'], '--fasta',
                   inputs['fasta'], '--vcf', inputs['vcf_path'], '--head',
                   'human', '--out', str(out), '--skipped', str(skipped),
                   '--rc', '--shifts', '0,1', '--batch_size', '4',
                   '--records_per_shard', '4', '--work_dir', work,
                   '--workers', '1'])
  captured = capsys.readouterr()
  assert code == 0, captured.err
  assert read(out) == cli_outputs[0] and read(skipped) == cli_outputs[1]
  assert 'line 8: malformed' in captured.err
  assert 'scored 16 variants, skipped 5 records' in captured.out
  assert '0 shards computed, 4 reused' in captured.out


def test_cli_errors_are_one_line(inputs, tmp_path, capsys):
  code = cli.main(['variants', '--model', inputs['model'], '--fasta',
                   inputs['fasta'], '--vcf', str(tmp_path / 'none.vcf'),
                   '--head', 'human', '--out', str(tmp_path / 'o.tsv'),
                   '--work_dir', str(tmp_path / 'work')])
  err = capsys.readouterr().err
  assert code == 1 and err.count('\n') == 1 and 'none.vcf not found' in err


@pytest.mark.slow
def test_two_logical_devices_equal_one_and_beam_stays_optional(
    inputs, cli_outputs, tmp_path):
  """In a fresh process: importing the package loads no Beam; a worker
  with 2 logical CPU devices puts one replica on each and writes the
  same TSV."""
  script = textwrap.dedent(f"""
      import sys
      import enformer_tf, enformer_tf.pipeline
      from enformer_tf.pipeline import devices, driver, jobs, shards
      assert 'apache_beam' not in sys.modules, 'Beam imported too early'
      import tensorflow as tf
      devices.configure_cpu_devices(2)
      replicas = devices.Replicas(lambda: None, devices.local_devices())
      placed = replicas.map(lambda r, i: tf.constant(float(i)).device,
                            list(range(4)))
      assert [p[-5:] for p in placed] == ['CPU:0', 'CPU:1'] * 2, placed
      job = jobs.VariantJob({inputs['model']!r}, {inputs['fasta']!r},
                            {inputs['vcf_path']!r}, 'human',
                            {str(tmp_path / 'scores.tsv')!r},
                            skipped={str(tmp_path / 'skipped.tsv')!r},
                            rc=True, shifts=(0, 1), batch_size=4,
                            records_per_shard=8)
      driver.run_job(job, {str(tmp_path / 'work')!r}, num_workers=1,
                     running_mode='in_memory', cpu_devices=2)
      assert len(tf.config.list_logical_devices('CPU')) == 2
  """)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  result = subprocess.run([sys.executable, '-c', script], env=env,
                          capture_output=True, text=True, timeout=300,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert read(tmp_path / 'scores.tsv') == cli_outputs[0]


def test_fault_hook_rejects_a_malformed_value(monkeypatch):
  monkeypatch.setenv(faults.FAIL_ONCE_ENV, 'one')
  with pytest.raises(ValueError, match='INDEX:MARKER'):
    faults.maybe_fail(0)


def test_manifest_of_another_format_is_refused(tmp_path):
  (tmp_path / shards.MANIFEST).write_text(json.dumps({'format': 'x'}))
  with pytest.raises(ValueError, match='not a manifest'):
    shards.read_manifest(str(tmp_path))
