"""TF Serving version directories: numbering and publishing a finished one.

TF Serving watches `EXPORT_DIR/` and loads the integer-named directories in
it. An export is written into a hidden sibling (`temporary_dir`: TF Serving
only loads integer names), flushed to disk, then moved into place with one
rename (`publish`), so TF Serving never sees a half-written version, an
export that crashes (or is killed) part-way leaves no version directory, and
after a power loss a version is complete or absent. The rename needs a local
(POSIX) file system.
"""
import os
import shutil
from typing import List

import numpy as np

from enformer_tf import atomic

TMP_PREFIX = '.tmp-'


def version_numbers(export_dir: str) -> List[int]:
  """The integer-named version directories in `export_dir`, ascending."""
  if not os.path.isdir(export_dir):
    return []
  return sorted(int(name) for name in os.listdir(export_dir)
                if name.isdigit() and
                os.path.isdir(os.path.join(export_dir, name)))


def next_version(export_dir: str) -> int:
  """1 + the highest existing version in `export_dir` (1 if there is none)."""
  versions = version_numbers(export_dir)
  return versions[-1] + 1 if versions else 1


def check_version(version) -> int:
  """`version` as an int.

  Raises:
    ValueError: not a non-negative integer (bools included).
  """
  if isinstance(version, bool) or not isinstance(version, (int, np.integer)):
    raise ValueError(f'version must be a non-negative integer (TF Serving '
                     f'version directories are integers); got {version!r}.')
  if version < 0:
    raise ValueError(f'version must be a non-negative integer, got {version}.')
  return int(version)


def check_local(export_dir: str) -> str:
  """`export_dir` as a path string.

  Raises:
    ValueError: empty, or not on the local file system (`gs://...`).
  """
  if not export_dir:
    raise ValueError('export_dir is empty; give the model base directory TF '
                     'Serving watches, e.g. /models/enformer.')
  if '://' in str(export_dir):
    raise ValueError(
        f'export_dir={export_dir!r} is not a local path; the export is made '
        'atomic with os.rename, which needs a local file system. Export '
        'locally, then copy the version directory.')
  return os.fspath(export_dir)


def temporary_dir(export_dir: str, version: int) -> str:
  """The hidden directory version `version` is written into before
  `publish`: `.tmp-<version>-<pid>`, so a leftover one says which export
  (version and process) it was."""
  return os.path.join(export_dir, f'{TMP_PREFIX}{version}-{os.getpid()}')


def _fsync_path(path: str) -> None:
  fd = os.open(path, os.O_RDONLY)
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


def _fsync_tree(directory: str) -> None:
  """Flushes every file and directory under `directory` to disk, so that
  after a power loss the renamed version is complete or absent."""
  for root, _, files in os.walk(directory, topdown=False):
    for name in files:
      _fsync_path(os.path.join(root, name))
    _fsync_path(root)


def publish(tmp_dir: str, final_dir: str, overwrite: bool) -> None:
  """Moves the finished export `tmp_dir` into place as `final_dir`.

  The swap is `atomic.swap_into_place` (an existing version is renamed
  aside and put back if the move fails), but not in `atomic_directory`: a
  version also needs everything flushed to disk before the rename and the
  rename after it, a version another export published meanwhile kept unless
  `overwrite`, and its temporaries named `.tmp-*` (`temporary_dir`), the
  names the serving kit tells users they may delete.

  Raises:
    FileExistsError: `final_dir` exists and `overwrite` is False, or the
      rename failed.
  """
  _fsync_tree(tmp_dir)
  aside = None
  if os.path.exists(final_dir):
    if not overwrite:  # Another export took this version meanwhile.
      raise FileExistsError(
          f'{final_dir} appeared while exporting; not replacing it.')
    aside = os.path.join(
        os.path.dirname(final_dir),
        f'{TMP_PREFIX}old-{os.path.basename(final_dir)}-{os.getpid()}')
    shutil.rmtree(aside, ignore_errors=True)
  try:
    atomic.swap_into_place(tmp_dir, final_dir, aside=aside)
  except OSError as e:
    raise FileExistsError(
        f'Could not move the export into place at {final_dir}: {e}.') from e
  _fsync_path(os.path.dirname(final_dir))  # The rename itself.
