"""The Apache Beam side: work units through `RunInference`, one shard each.

  Create(units) -> Reshuffle -> RunInference(ShardModelHandler)

`RunInference` is Beam's transform for models: its `ModelHandler` loads the
model once per worker process (`load_model`, shared by the process's
threads through `apache_beam.utils.shared`) and reports load and batch
latencies as Beam metrics. Its batching is set to one element per call
(`min_batch_size=max_batch_size=1`): the element is a whole work unit, a
shard written atomically with its manifest entry, and the shard's model
batches are the single-process run's (the job cuts units between them).
The "model" a worker loads is a `devices.Replicas` of the job's scorer, one
per local device.

Locally the job runs on the Python DirectRunner's portable engine, the
`FnApiRunner`, in multi-process mode (`direct_running_mode=
multi_processing`, `direct_num_workers=N`: N worker processes). The
`DirectRunner` name is not used: in Beam 2.77 it first tries the Prism
runner, which downloads a Go binary. Extra arguments (`beam_args`, e.g.
`--runner=DataflowRunner --project=...`) go to `PipelineOptions` unchanged
and override these defaults; the work directory must then be visible to
every worker.

The local engine does not retry a failed bundle: the error fails the job
(Dataflow retries a bundle 4 times). The driver's `attempts` re-runs the
job instead, and the rerun recomputes only the shards not done.
"""
from typing import Any, Dict, Iterable, List, Optional, Sequence

try:
  import apache_beam as beam
  from apache_beam.ml.inference import base as inference
  from apache_beam.options import pipeline_options
except ImportError as e:  # pragma: no cover - depends on the install.
  raise ImportError(
      "enformer_tf.pipeline needs Apache Beam: pip install "
      "'enformer_tf[beam]' (apache-beam 2.77).") from e

from enformer_tf.pipeline import devices as devices_lib
from enformer_tf.pipeline import shards

RUNNING_MODES = ('multi_processing', 'multi_threading', 'in_memory')


class ShardModelHandler(inference.ModelHandler):
  """Scores whole work units: loads the job's scorers, writes shards.

  Args:
    job: the job (`jobs.VariantJob`, ...): picklable paths and options.
    work_dir: the job's work directory.
    fingerprint_sha256: the job's fingerprint, recorded in each entry.
    devices: `--devices` (default every GPU, else every CPU device).
    cpu_devices: split the CPU into this many logical devices first.
  """

  def __init__(self, job, work_dir: str, fingerprint_sha256: str,
               devices: Optional[str] = None,
               cpu_devices: Optional[int] = None):
    super().__init__(min_batch_size=1, max_batch_size=1)
    self.job = job
    self.work_dir = work_dir
    self.fingerprint_sha256 = fingerprint_sha256
    self.devices = devices
    self.cpu_devices = cpu_devices

  def load_model(self) -> devices_lib.Replicas:
    if self.cpu_devices:
      devices_lib.configure_cpu_devices(self.cpu_devices)
    return devices_lib.Replicas(self.job.load,
                                devices_lib.local_devices(self.devices))

  def run_inference(self, batch: Sequence[shards.WorkUnit],
                    model: devices_lib.Replicas,
                    inference_args: Optional[Dict[str, Any]] = None
                    ) -> Iterable[inference.PredictionResult]:
    for unit in batch:
      outputs = self.job.score(model, unit, self.work_dir)
      entry = shards.write_entry(self.work_dir, unit,
                                 self.fingerprint_sha256, outputs)
      yield inference.PredictionResult(unit.index, entry)

  def get_num_bytes(self, batch: Sequence[shards.WorkUnit]) -> int:
    return sum(len(unit.items) for unit in batch)  # Inputs, not bytes.

  def get_metrics_namespace(self) -> str:
    return 'enformer_tf_pipeline'


def options(num_workers: int, running_mode: str = 'multi_processing',
            beam_args: Sequence[str] = ()
            ) -> pipeline_options.PipelineOptions:
  """Local FnApiRunner options, overridden by `beam_args`.

  Raises:
    ValueError: `num_workers` < 1 or an unknown running mode.
  """
  if num_workers < 1:
    raise ValueError(f'--workers must be at least 1, got {num_workers}.')
  if running_mode not in RUNNING_MODES:
    raise ValueError(f'running mode {running_mode!r}: expected one of '
                     f'{", ".join(RUNNING_MODES)}.')
  args = ['--runner=FnApiRunner', f'--direct_running_mode={running_mode}',
          f'--direct_num_workers={num_workers}'] + list(beam_args)
  return pipeline_options.PipelineOptions(args)


def run(handler: ShardModelHandler, units: List[shards.WorkUnit],
        num_workers: int, running_mode: str = 'multi_processing',
        beam_args: Sequence[str] = ()) -> None:
  """Scores `units` on Beam; each worker writes its shards and entries.

  Raises:
    Exception: whatever failed a bundle (the local runner does not retry).
  """
  with beam.Pipeline(options=options(num_workers, running_mode,
                                     beam_args)) as pipeline:
    _ = (pipeline
         | 'Units' >> beam.Create(units)
         | 'Score' >> inference.RunInference(handler))
