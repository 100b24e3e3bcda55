"""Genome-scale jobs on Apache Beam: sharded, resumable, same numbers.

`driver.run_job` runs a job of `jobs` (variant scores of a VCF: the work
of `enformer-score-variants`) on Beam's `RunInference`, locally with the
DirectRunner's engine in several worker processes or on any Beam runner,
into sharded files with a manifest, then merges them into the single file
the single-process command writes, byte for byte. See docs/distributed.md.

  shards.py      work units, the manifest, the checks of a restart
  jobs.py        the jobs: plan, load, score a unit, merge
  devices.py     several local devices in one worker (one replica each)
  faults.py      the test hook that makes one shard fail once
  beam_jobs.py   the Beam pipeline and its ModelHandler (imports Beam)
  driver.py      plan, resume, run, verify, merge

Apache Beam is an optional extra (`pip install 'enformer_tf[beam]'`):
only `beam_jobs` imports it, when a job runs.
"""
