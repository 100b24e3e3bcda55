"""Genome-scale jobs on Apache Beam: sharded, resumable, same numbers.

`driver.run_job` runs a job (`jobs.VariantJob`: variant scores of a VCF,
as `enformer-score-variants`; `interval_job.IntervalJob`,
`gene_job.GeneJob`, `enhancer_job.EnhancerJob`: `enformer-predict`,
`-predict-genes`, `-prioritize-enhancers`) on Beam's `RunInference`,
locally with the DirectRunner's engine in several worker processes or on
any Beam runner,
into sharded files with a manifest, then merges them into the files the
single-process command writes, byte for byte. See docs/distributed.md.

  shards.py      work units, the manifest, the checks of a restart
  jobs.py        the job interface, its helpers, and the variant job
  interval_job.py, gene_job.py, enhancer_job.py   the other jobs
  devices.py     several local devices in one worker (one replica each)
  faults.py      the test hook that makes one shard fail once
  beam_jobs.py   the Beam pipeline and its ModelHandler (imports Beam)
  driver.py      plan, resume, run, verify, merge

Apache Beam is an optional extra (`pip install 'enformer_tf[beam]'`):
only `beam_jobs` imports it, when a job runs.
"""
