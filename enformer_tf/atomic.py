"""Atomic file and directory writes: readers see the old output or the new
one, never a part, and a crash leaves no partial file under the real name.

Every writer in the package goes through here:

  write_atomically(path, data)    a small file (also on gs:// through gfile)
  with atomic_path(path) as tmp:  a file another library writes (pyBigWig,
                                  h5py, matplotlib, Keras)
  with atomic_directory(out) as tmp:  a whole output directory
  swap_into_place(new_dir, out)   the rename that ends `atomic_directory`

Temporaries are hidden siblings (`.NAME.tmp-XXXXXXXX`): the same file system,
so the final rename is atomic, and no glob of the real names matches them.
"""
import contextlib
import os
import shutil
import uuid
from typing import Iterator, Optional, Union


def temporary_sibling(path: str) -> str:
  """A hidden, unique name beside `path`, keeping its extension.

  The extension is kept because some writers choose the format by it
  (`model.save('x.keras')`, `savefig('x.png')`).
  """
  directory, name = os.path.split(os.path.abspath(os.fspath(path)))
  stem, extension = os.path.splitext(name)
  return os.path.join(directory,
                      f'.{stem}.tmp-{uuid.uuid4().hex[:8]}{extension}')


def _remove(path: str) -> None:
  if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path, ignore_errors=True)
  elif os.path.lexists(path):
    os.remove(path)


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
  """Yields a temporary path beside `path`; renames it to `path` on success.

  On an exception the temporary file is removed and `path` is untouched.
  """
  path = os.fspath(path)
  temporary = temporary_sibling(path)
  try:
    yield temporary
    os.replace(temporary, path)
  finally:
    if os.path.lexists(temporary):
      _remove(temporary)


def write_atomically(path: str, data: Union[str, bytes]) -> None:
  """Writes `path` (local or any `tf.io.gfile` file system) in one rename."""
  import tensorflow as tf  # gfile: checkpoints and records may be on gs://.

  path = os.fspath(path)
  directory, name = os.path.split(path)
  temporary = os.path.join(directory, f'.{name}.tmp-{uuid.uuid4().hex[:8]}')
  try:
    with tf.io.gfile.GFile(temporary, 'wb') as f:
      f.write(data.encode('utf-8') if isinstance(data, str) else data)
    tf.io.gfile.rename(temporary, path, overwrite=True)
  finally:
    if tf.io.gfile.exists(temporary):
      tf.io.gfile.remove(temporary)


def swap_into_place(new_dir: str, out_dir: str,
                    aside: Optional[str] = None) -> None:
  """Renames `new_dir` to `out_dir`, replacing whatever `out_dir` holds.

  The old `out_dir` is renamed aside first (to `aside`, default a hidden
  `.NAME.old-XXXXXXXX` sibling) and restored if the final rename fails, so
  readers see either the old directory or the new one, never a mixture or
  nothing. `new_dir` must be on the same filesystem (a sibling).
  """
  if not os.path.lexists(out_dir):
    os.rename(new_dir, out_dir)
    return
  parent, name = os.path.split(os.path.abspath(out_dir))
  old = aside or os.path.join(parent, f'.{name}.old-{uuid.uuid4().hex[:8]}')
  os.rename(out_dir, old)
  try:
    os.rename(new_dir, out_dir)
  except BaseException:
    os.rename(old, out_dir)
    raise
  _remove(old)


@contextlib.contextmanager
def atomic_directory(out_dir: str) -> Iterator[str]:
  """Yields a new empty directory beside `out_dir`; swaps it into place on
  success (`swap_into_place`), removes it on an exception.

  The caller decides beforehand whether an existing `out_dir` may be
  replaced; it is replaced only once everything has been written.
  """
  out_dir = os.fspath(out_dir)
  parent = os.path.dirname(os.path.abspath(out_dir))
  os.makedirs(parent, exist_ok=True)
  work = temporary_sibling(out_dir.rstrip(os.sep))
  os.mkdir(work)
  try:
    yield work
    swap_into_place(work, out_dir)
  finally:
    if os.path.lexists(work):
      _remove(work)
