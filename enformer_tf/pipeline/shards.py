"""Work units, the manifest of a sharded job, and the checks of a restart.

A job's inputs (VCF records, regions, genes) are cut into `WorkUnit`s, each
scored into its own shard files under `WORK_DIR/shards/`. Every shard file
is written atomically (`enformer_tf.atomic`) with content that depends only
on the unit's inputs and the job's options, so a retried or repeated unit
rewrites the same bytes under the same name: never a duplicate row.

The manifest, `WORK_DIR/manifest.json`:

  {"format": "enformer_tf.pipeline/1", "job": "variants",
   "fingerprint": {...options, sha256 of model, FASTA, inputs...},
   "fingerprint_sha256": "...",
   "shards": [{"index": 0, "first": "VCF line 3", "last": "VCF line 40",
               "num_inputs": 25, "inputs_sha256": "...",
               "outputs": {"scores": {"file": "shards/shard-00000.scores.tsv",
                                      "rows": 25, "sha256": "..."}}}, ...],
   "merged": {"scores": {"file": "/abs/scores.tsv", "rows": 80,
                         "sha256": "..."}}}

A worker records each finished shard in `shards/shard-NNNNN.json` (its
manifest entry, written after its files), so a job that dies midway keeps
the shards it finished; the driver folds these entries into the manifest.
A shard counts as done only if its entry names the same inputs
(`inputs_sha256`) and job (`fingerprint_sha256`) and every output file
exists with the recorded row count and sha256: not by file existence alone.
"""
import dataclasses
import hashlib
import json
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from enformer_tf import atomic

FORMAT = 'enformer_tf.pipeline/1'
MANIFEST = 'manifest.json'
SHARD_DIR = 'shards'
_CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class WorkUnit:
  """One shard's inputs, scored by one worker in one go.

  Attributes:
    index: the shard's position in the job (merge order).
    items: the inputs, in order (e.g. `vcf.VcfRecord`s).
    first, last: labels of the first and last input (`'VCF line 3'`).
    inputs_sha256: sha256 of the inputs' canonical text (`inputs_digest`).
  """
  index: int
  items: Tuple[Any, ...]
  first: str
  last: str
  inputs_sha256: str

  def plan_entry(self) -> Dict[str, Any]:
    """The unit's manifest entry before it is scored."""
    return dict(index=self.index, first=self.first, last=self.last,
                num_inputs=len(self.items), inputs_sha256=self.inputs_sha256)


def inputs_digest(items: Sequence[Any], key: Callable[[Any], str] = repr
                  ) -> str:
  """sha256 of the inputs, one `key(item)` line each."""
  digest = hashlib.sha256()
  for item in items:
    digest.update(key(item).encode('utf-8') + b'\n')
  return digest.hexdigest()


def make_units(chunks: Sequence[Sequence[Any]], label: Callable[[Any], str],
               key: Callable[[Any], str] = repr) -> List[WorkUnit]:
  """`WorkUnit`s of consecutive input chunks (none of them empty)."""
  return [WorkUnit(i, tuple(chunk), label(chunk[0]), label(chunk[-1]),
                   inputs_digest(chunk, key))
          for i, chunk in enumerate(chunks)]


def file_sha256(path: str) -> str:
  """sha256 of a file, or of a directory's files (names and contents)."""
  digest = hashlib.sha256()
  if os.path.isdir(path):
    for directory, folders, files in sorted(os.walk(path)):
      folders.sort()
      for name in sorted(files):
        full = os.path.join(directory, name)
        digest.update(os.path.relpath(full, path).encode('utf-8') + b'\0')
        digest.update(file_sha256(full).encode('ascii'))
    return digest.hexdigest()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(_CHUNK), b''):
      digest.update(chunk)
  return digest.hexdigest()


def count_rows(path: str, header_lines: int = 1) -> int:
  """Data lines of a text table (lines after the header)."""
  with open(path, 'rb') as f:
    return sum(1 for _ in f) - header_lines


def shard_file(index: int, name: str, suffix: str = '.tsv') -> str:
  """`shards/shard-00007.scores.tsv`, relative to the work directory."""
  return os.path.join(SHARD_DIR, f'shard-{index:05d}.{name}{suffix}')


def entry_file(work_dir: str, index: int) -> str:
  """Where a worker records shard `index` as done."""
  return os.path.join(work_dir, SHARD_DIR, f'shard-{index:05d}.json')


def output_record(work_dir: str, relative: str) -> Dict[str, Any]:
  """`{'file', 'rows', 'sha256'}` of a written shard file."""
  path = os.path.join(work_dir, relative)
  return dict(file=relative, rows=count_rows(path), sha256=file_sha256(path))


def write_entry(work_dir: str, unit: WorkUnit, fingerprint_sha256: str,
                outputs: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
  """Records shard `unit` as done (after its files) and returns the entry."""
  entry = dict(unit.plan_entry(), fingerprint_sha256=fingerprint_sha256,
               outputs=outputs)
  atomic.write_atomically(entry_file(work_dir, unit.index),
                          json.dumps(entry, indent=1, sort_keys=True) + '\n')
  return entry


def read_entry(work_dir: str, index: int) -> Optional[Dict[str, Any]]:
  """A worker's entry for shard `index`, or `None` (missing, unreadable)."""
  try:
    with open(entry_file(work_dir, index), encoding='utf-8') as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def check_entry(work_dir: str, unit: WorkUnit, fingerprint_sha256: str,
                entry: Optional[Dict[str, Any]]) -> Optional[str]:
  """`None` if `entry` proves shard `unit` done, else why it does not.

  Done means: the entry names this unit's inputs and this job, and every
  output file it lists exists with its recorded row count and sha256.
  """
  if entry is None:
    return 'not done'
  if entry.get('inputs_sha256') != unit.inputs_sha256:
    return 'its inputs changed'
  if entry.get('fingerprint_sha256') != fingerprint_sha256:
    return 'written by another job (options, model or inputs)'
  outputs = entry.get('outputs')
  if not isinstance(outputs, dict) or not outputs:
    return 'no outputs recorded'
  for name, record in outputs.items():
    path = os.path.join(work_dir, str(record.get('file')))
    if not os.path.isfile(path):
      return f'{name} file {record.get("file")} is missing'
    if count_rows(path) != record.get('rows'):
      return f'{name} file {record.get("file")} has another row count'
    if file_sha256(path) != record.get('sha256'):
      return f'{name} file {record.get("file")} has another sha256'
  return None


def fingerprint_digest(fingerprint: Dict[str, Any]) -> str:
  """sha256 of a fingerprint's canonical JSON."""
  text = json.dumps(fingerprint, sort_keys=True, separators=(',', ':'))
  return hashlib.sha256(text.encode('utf-8')).hexdigest()


def read_manifest(work_dir: str) -> Optional[Dict[str, Any]]:
  """The work directory's manifest, or `None` if it has none.

  Raises:
    ValueError: the manifest is not a manifest of this format.
  """
  path = os.path.join(work_dir, MANIFEST)
  if not os.path.exists(path):
    return None
  try:
    with open(path, encoding='utf-8') as f:
      manifest = json.load(f)
  except ValueError as e:
    raise ValueError(f'{path} is not valid JSON ({e}); remove the work '
                     'directory to start over.') from None
  if not isinstance(manifest, dict) or manifest.get('format') != FORMAT:
    raise ValueError(f'{path} is not a manifest of {FORMAT}; give a work '
                     'directory of its own.')
  return manifest


def check_same_job(manifest: Dict[str, Any], job: str,
                   fingerprint: Dict[str, Any], work_dir: str) -> None:
  """Raises unless `manifest` is of the same job, options and inputs.

  A restart with other options, another model or other inputs would mix
  scores of two jobs in one output: it is refused, naming what changed.

  Raises:
    ValueError: the job or its fingerprint differs.
  """
  old = manifest.get('fingerprint') or {}
  if manifest.get('job') == job and old == fingerprint:
    return
  changed = sorted(k for k in set(old) | set(fingerprint)
                   if old.get(k) != fingerprint.get(k))
  if manifest.get('job') != job:
    changed.insert(0, 'job')
  raise ValueError(
      f'--work_dir {work_dir} holds another job ({manifest.get("job")}; '
      f'differs in: {", ".join(changed)}); its shards cannot be mixed with '
      'this one. Give a new --work_dir, or remove this one to recompute.')


def write_manifest(work_dir: str, job: str, fingerprint: Dict[str, Any],
                   entries: Sequence[Dict[str, Any]],
                   merged: Optional[Dict[str, Any]] = None) -> str:
  """Writes `manifest.json` atomically; returns its path."""
  manifest = dict(format=FORMAT, job=job, fingerprint=fingerprint,
                  fingerprint_sha256=fingerprint_digest(fingerprint),
                  num_shards=len(entries), shards=list(entries))
  if merged is not None:
    manifest['merged'] = merged
  path = os.path.join(work_dir, MANIFEST)
  atomic.write_atomically(path, json.dumps(manifest, indent=1,
                                           sort_keys=True) + '\n')
  return path


def merge_tables(work_dir: str, entries: Sequence[Dict[str, Any]], name: str,
                 out: str, header: str) -> Dict[str, Any]:
  """Concatenates the shards' `name` tables into `out` (one header).

  Args:
    work_dir: the job's work directory.
    entries: the shards' entries, in merge order.
    name: the output's key in each entry's `outputs`.
    out: the merged table, written atomically.
    header: the header line (with its newline) every shard must start with.

  Returns:
    `{'file', 'rows', 'sha256'}` of `out`.

  Raises:
    ValueError: a shard with another header (a mixed job).
  """
  rows = 0
  with atomic.atomic_path(out) as temporary:
    with open(temporary, 'w', encoding='utf-8', newline='') as merged:
      merged.write(header)
      for entry in entries:
        path = os.path.join(work_dir, entry['outputs'][name]['file'])
        with open(path, encoding='utf-8', newline='') as shard:
          if shard.readline() != header:
            raise ValueError(f'Shard {path} has another header than the '
                             'job; remove the work directory to recompute.')
          for line in shard:
            merged.write(line)
            rows += 1
  return dict(file=os.path.abspath(out), rows=rows, sha256=file_sha256(out))
