"""`IntervalJob`: interval predictions (`enformer-predict`) on shards.

The driver checks the options with the command's own code
(`interval_files.prepare_request`) and lists every input window of every
region (`intervals.window_starts`), region after region: the windows
`predict_intervals` predicts, in its order. Units hold whole model
batches of those windows (`batch_size` each, from the first window), so a
unit's model calls are the command's; a wide region may span two units. A
worker predicts its windows (`intervals.predict_windows`) and writes them
as a shard of `predictions.tsv` (`track_writers.write_table`, one
prediction per window: the same rows, 9 significant digits, which give
back every float32 exactly). The merge reads the shards' values back,
rebuilds the regions' predictions (`intervals.assemble_predictions`) and
writes the output directory with the command's writer
(`interval_files.write_directory`): track files, table, `.npz` and plots
are the command's, byte for byte. The merge holds every bin of the chosen
tracks in memory, as the command does.
"""
import dataclasses
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from enformer_tf.genomics import interval_files, intervals, track_writers
from enformer_tf.pipeline import faults, jobs, shards


@dataclasses.dataclass
class _Worker:
  """A worker's model calls over its own model copy and FASTA handle."""
  predict: Any
  extractor: Any
  layout: intervals.OutputLayout
  indices: Tuple[int, ...]
  names: Tuple[str, ...]


def _window_key(item: Tuple[intervals.Region, int]) -> str:
  region, start = item
  return f'{region.label}\t{region.chrom}\t{region.start}\t{region.end}\t' \
         f'{start}'


@dataclasses.dataclass(frozen=True)
class IntervalJob:
  """Predicted tracks over regions, as `enformer-predict`.

  Attributes: the options of `interval_files.predict_to_files` of the same
  names (`model` a path, `regions` region strings), plus
  `windows_per_shard`: input windows per work unit (a unit ends at the
  first batch boundary past it).
  """
  model: str
  fasta: str
  head: str
  out_dir: str
  regions: Tuple[str, ...] = ()
  bed: Optional[str] = None
  targets: Optional[str] = None
  tracks: Optional[str] = None
  formats: Tuple[str, ...] = ('bigwig',)
  overlap: str = 'error'
  plot: bool = False
  observed: bool = False
  rc: bool = False
  batch_size: int = 4
  sequence_length: Optional[int] = None
  overwrite: bool = False
  windows_per_shard: int = 64

  name = 'intervals'

  def _tracks(self, model, request_indices, request_names):
    num_tracks = model.heads[self.head]
    return intervals.select_tracks(num_tracks, request_indices,
                                   request_names)

  def plan(self, on_skip=None) -> jobs.Plan:
    """Checks the options as the command does, lists the windows and cuts
    them into units of whole batches.

    Raises:
      FileNotFoundError, ValueError: bad options or inputs.
    """
    from enformer_tf.data import genome
    del on_skip  # Nothing is skipped: a bad region is an error.
    if self.windows_per_shard < 1:
      raise ValueError(f'--windows_per_shard must be positive, got '
                       f'{self.windows_per_shard}.')
    model_sha = jobs.model_sha256(self.model)
    with genome.FastaExtractor(self.fasta) as extractor:
      request = interval_files.prepare_request(
          self.model, extractor, self.head, self.out_dir,
          regions=self.regions, bed=self.bed, targets=self.targets,
          tracks=self.tracks, formats=self.formats, plot=self.plot,
          observed=self.observed, batch_size=self.batch_size,
          overwrite=self.overwrite)
      model = request.model
      pairs = request.strand_pairs if self.rc else None
      # The command's own checks of rc, strand pairs and tracks, on no
      # region: no model call.
      intervals.predict_intervals(
          model, extractor, [], self.head, tracks=request.indices,
          track_names=request.identifiers, batch_size=self.batch_size,
          average_reverse_complement=self.rc, strand_pairs=pairs,
          sequence_length=self.sequence_length)
    layout = intervals.output_layout(model, self.sequence_length)
    indices, names = self._tracks(model, request.indices,
                                  request.identifiers)
    starts = [intervals.window_starts(r, layout) for r in request.regions]
    items = [(region, int(s)) for region, region_starts
             in zip(request.regions, starts) for s in region_starts]
    size = self.batch_size
    chunks = jobs.cut_batches([items[i:i + size] for i in range(
        0, len(items), size)], self.windows_per_shard)
    units = shards.make_units(
        chunks, lambda item: f'{item[0].label} window {item[1]}',
        _window_key)
    options = {k: v for k, v in dataclasses.asdict(self).items()
               if k not in ('model', 'fasta', 'bed', 'targets', 'out_dir',
                            'overwrite', 'plot', 'observed', 'overlap',
                            'formats')}
    options['regions'] = list(self.regions)
    fingerprint = dict(options, job=self.name, model=model_sha,
                       fasta=jobs.optional_sha256(self.fasta),
                       bed=jobs.optional_sha256(self.bed),
                       targets=jobs.optional_sha256(self.targets))
    header = '\t'.join(('region', 'chrom', 'start', 'end', *names)) + '\n'
    request.model = None  # The merge needs no model; free it.
    return jobs.Plan(units, fingerprint, None, header, len(items), names,
                     context=dict(request=request, starts=starts,
                                  layout=layout, indices=indices))

  def load(self) -> _Worker:
    """The model, a FASTA handle and the predictor of the chosen tracks."""
    from enformer_tf import io as models
    from enformer_tf.data import genome
    from enformer_tf.genomics import tracks as tracks_lib
    model = models.load_model(self.model)
    chosen = tracks_lib.choose_tracks(
        tracks_lib.head_num_tracks(model, self.head), self.head,
        self.tracks, self.targets)
    predict = intervals.window_predictor(
        model, self.head, self.rc,
        chosen.strand_pairs() if self.rc else None, self.batch_size)
    indices, names = self._tracks(model, chosen.indices, chosen.identifiers)
    return _Worker(predict, genome.FastaExtractor(self.fasta),
                   intervals.output_layout(model, self.sequence_length),
                   indices, names)

  def score(self, replicas, unit: shards.WorkUnit, work_dir: str
            ) -> Dict[str, Dict[str, Any]]:
    """Predicts `unit`'s windows on the device replicas into its shard."""
    size = self.batch_size
    batches = [unit.items[i:i + size] for i in range(0, len(unit.items),
                                                      size)]
    parts = replicas.map(lambda w, batch: intervals.predict_windows(
        w.predict, w.extractor, [(r.chrom, s) for r, s in batch], w.layout,
        w.indices, size), batches)
    worker = replicas.replicas[0]
    windows = intervals.assemble_predictions(
        [r for r, _ in unit.items],
        [np.array([s], np.int64) for _, s in unit.items],
        [output for part in parts for output in part], worker.layout,
        self.head, dict(worker.extractor.chromosome_sizes), worker.indices,
        worker.names)
    faults.maybe_fail(unit.index)  # Tests: a bundle dies before its shard.
    relative = shards.shard_file(unit.index, 'predictions')
    os.makedirs(os.path.join(work_dir, shards.SHARD_DIR), exist_ok=True)
    track_writers.write_table(os.path.join(work_dir, relative), windows)
    return {'predictions': shards.output_record(work_dir, relative)}

  def _values(self, plan: jobs.Plan, entries: Sequence[Dict[str, Any]],
              work_dir: str) -> List[np.ndarray]:
    """Each window's `[bins, tracks]` float32 values, read from the shards
    (9 significant digits: every float32 back exactly)."""
    layout = plan.context['layout']
    outputs = []
    for entry in entries:
      path = os.path.join(work_dir, entry['outputs']['predictions']['file'])
      with open(path, encoding='utf-8', newline='') as f:
        if f.readline() != plan.header:
          raise ValueError(f'Shard {path} has another header than the job; '
                           'remove the work directory to recompute.')
        rows = [line.rstrip('\n').split('\t')[4:] for line in f]
      values = np.array(rows, np.float64).astype(np.float32).reshape(
          -1, layout.num_bins, len(plan.track_names))  # [w, bins, T]
      outputs.extend(values)
    return outputs

  def merge(self, plan: jobs.Plan, entries: Sequence[Dict[str, Any]],
            work_dir: str) -> Dict[str, Any]:
    """The command's output directory, from the shards' values."""
    context = plan.context
    request = context['request']
    predictions = intervals.assemble_predictions(
        request.regions, context['starts'],
        self._values(plan, entries, work_dir), context['layout'], self.head,
        request.chrom_sizes, context['indices'], plan.track_names)
    written = interval_files.write_directory(
        request, predictions, self.formats, overlap=self.overlap,
        plot=self.plot, observed=self.observed)
    context['written'] = written
    merged = {}
    for name in ['predictions.tsv', 'predictions.npz'] + written['bigwig'] \
        + written['bedgraph']:
      path = os.path.join(request.out_dir, name)
      merged[name] = dict(file=path, sha256=shards.file_sha256(path))
    merged['predictions.tsv']['rows'] = written['bins']
    return merged

  def outputs(self) -> Tuple[str, ...]:
    return (self.out_dir,)

  def summary(self, plan: jobs.Plan) -> jobs.Summary:
    """`enformer-predict`'s closing line (after the merge)."""
    written = (plan.context or {}).get('written')
    if written is None:
      return jobs.Summary(f'{plan.num_inputs} windows planned')
    files = written['bigwig'] + written['bedgraph']
    return jobs.Summary(
        f'{self.head} tracks {", ".join(written["tracks"])} over '
        f'{written["regions"]} region(s), {written["bins"]} bins -> '
        f'{written["out_dir"]}: {len(files)} track file(s), '
        'predictions.tsv, predictions.npz'
        + (f', {len(written["plots"])} plot(s)' if written['plots'] else ''))
