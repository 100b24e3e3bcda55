"""The driver of a sharded job: plan, resume, run on Beam, verify, merge.

  summary = run_job(jobs.VariantJob('model.keras', 'genome.fa',
                                    'cohort.vcf.gz', 'human', 'scores.tsv'),
                    'work/', num_workers=4)

1. `job.plan()` reads and checks the inputs and cuts them into work units;
   its fingerprint (options, sha256 of model, FASTA and inputs) must equal
   the one in `WORK_DIR/manifest.json` if there is one: another job in
   the same directory is an error (never a silent mix, never a silent
   full recompute).
2. Each unit whose entry and files check out (`shards.check_entry`: same
   inputs, same job, row count and sha256 of every file) is kept; the
   others run on Beam (`beam_jobs.run`), each worker writing its shard
   files atomically and then its entry.
3. If the Beam job fails, it is run again up to `attempts` times in all;
   each run recomputes only what is still not done. This is the driver's
   retry, not the engine's: the local runner does not retry bundles.
4. Every shard is checked once more, the shards are merged into the single
   output in unit order, and the manifest records shards and outputs.
"""
import dataclasses
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from enformer_tf.errors import one_line
from enformer_tf.pipeline import shards


class PipelineFailed(RuntimeError):
  """The Beam job failed on its last attempt; finished shards are kept.

  Attributes:
    pending: indices of the shards still not done.
  """

  def __init__(self, message: str, pending: Sequence[int]):
    super().__init__(message)
    self.pending = tuple(pending)


@dataclasses.dataclass(frozen=True)
class JobSummary:
  """What `run_job` did.

  Attributes:
    plan: the job's plan (units, fingerprint, skip report, ...).
    reused: shards found done and kept.
    computed: shards scored by this run.
    attempts: Beam runs made (0 if every shard was done already).
    manifest: the manifest's path.
    merged: `{name: {'file', 'rows', 'sha256'}}` of the merged outputs.
  """
  plan: Any
  reused: Tuple[int, ...]
  computed: Tuple[int, ...]
  attempts: int
  manifest: str
  merged: Dict[str, Any]


def _check_all(work_dir: str, units, fingerprint_sha256: str,
               known: Dict[int, Dict[str, Any]]
               ) -> Tuple[Dict[int, Dict[str, Any]], List[int]]:
  """`(done entries by index, pending indices)`; a worker's entry file is
  preferred to the manifest's copy (it is newer)."""
  done, pending = {}, []
  for unit in units:
    entry = shards.read_entry(work_dir, unit.index) or known.get(unit.index)
    if shards.check_entry(work_dir, unit, fingerprint_sha256, entry) is None:
      done[unit.index] = entry
    else:
      pending.append(unit.index)
  return done, pending


def run_job(job, work_dir: str, *, num_workers: int = 2,
            running_mode: str = 'multi_processing', attempts: int = 1,
            devices: Optional[str] = None, cpu_devices: Optional[int] = None,
            beam_args: Sequence[str] = (),
            on_skip: Optional[Callable[[Any], None]] = None,
            log: Optional[Callable[[str], None]] = None) -> JobSummary:
  """Runs `job` sharded on Beam into `work_dir`, then merges its outputs.

  Args:
    job: a job of `jobs` (e.g. `jobs.VariantJob`).
    work_dir: shards, their entries and `manifest.json` (made if missing).
    num_workers: local worker processes (`direct_num_workers`).
    running_mode: `multi_processing` (default), `multi_threading` or
      `in_memory` (one process: tests).
    attempts: Beam runs at most, each resuming from the shards done.
    devices: devices per worker (`devices.local_devices`).
    cpu_devices: split each worker's CPU into this many logical devices.
    beam_args: extra Beam pipeline options (`--runner=...`).
    on_skip: called with each skipped input as the plan meets it.
    log: called with one line per step (resume, attempts).

  Returns:
    A `JobSummary`.

  Raises:
    ValueError, FileNotFoundError: bad options or inputs, or a work
      directory of another job; found before any scoring.
    PipelineFailed: the Beam job failed `attempts` times.
  """
  log = log or (lambda line: None)
  if attempts < 1:
    raise ValueError(f'--attempts must be at least 1, got {attempts}.')
  plan = job.plan(on_skip)
  fingerprint_sha256 = shards.fingerprint_digest(plan.fingerprint)
  work_dir = os.path.abspath(work_dir)
  if os.path.isfile(work_dir):
    raise ValueError(f'--work_dir {work_dir} is a file; expected a '
                     'directory.')
  os.makedirs(os.path.join(work_dir, shards.SHARD_DIR), exist_ok=True)
  manifest = shards.read_manifest(work_dir)
  known = {}
  if manifest is not None:
    shards.check_same_job(manifest, job.name, plan.fingerprint, work_dir)
    known = {e.get('index'): e for e in manifest.get('shards', [])}
  done, pending = _check_all(work_dir, plan.units, fingerprint_sha256, known)
  reused = tuple(sorted(done))
  if reused:
    log(f'{len(reused)} of {len(plan.units)} shards already done; '
        f'{len(pending)} to compute')
  shards.write_manifest(work_dir, job.name, plan.fingerprint, [
      done.get(unit.index, unit.plan_entry()) for unit in plan.units])
  computed, runs = tuple(pending), 0
  while pending:
    runs += 1
    from enformer_tf.pipeline import beam_jobs  # Beam only when needed.
    handler = beam_jobs.ShardModelHandler(job, work_dir, fingerprint_sha256,
                                          devices, cpu_devices)
    by_index = {unit.index: unit for unit in plan.units}
    try:
      beam_jobs.run(handler, [by_index[i] for i in pending], num_workers,
                    running_mode, beam_args)
      error = None
    except Exception as e:  # pylint: disable=broad-except
      error = e
    done, pending = _check_all(work_dir, plan.units, fingerprint_sha256,
                               known)
    if error is None and pending:
      error = RuntimeError(f'shards {pending} were not written')
    if error is not None:
      if runs >= attempts:
        raise PipelineFailed(
            f'the Beam job failed ({one_line(error)}); {len(done)} of '
            f'{len(plan.units)} shards are done and kept in {work_dir}; run '
            'again to compute the other '
            f'{len(pending)}', pending) from error
      log(f'attempt {runs} failed ({one_line(error)}); running the '
          f'{len(pending)} shards not done again')
  entries = [done[unit.index] for unit in plan.units]
  merged = job.merge(plan, entries, work_dir)
  path = shards.write_manifest(work_dir, job.name, plan.fingerprint, entries,
                               merged)
  return JobSummary(plan, reused, computed, runs, path, merged)
