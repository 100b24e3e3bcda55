"""Putting a finished output directory in place in one step."""
import os
import shutil
import uuid


def swap_into_place(new_dir: str, out_dir: str) -> None:
  """Renames `new_dir` to `out_dir`, replacing whatever `out_dir` holds.

  The old `out_dir` is renamed aside first and restored if the final rename
  fails, so readers see either the old directory or the new one, never a
  mixture or nothing. `new_dir` must be on the same filesystem (a sibling).
  """
  if not os.path.lexists(out_dir):
    os.rename(new_dir, out_dir)
    return
  parent, name = os.path.split(os.path.abspath(out_dir))
  old = os.path.join(parent, f'.{name}.old-{uuid.uuid4().hex[:8]}')
  os.rename(out_dir, old)
  try:
    os.rename(new_dir, out_dir)
  except BaseException:
    os.rename(old, out_dir)
    raise
  if os.path.isdir(old) and not os.path.islink(old):
    shutil.rmtree(old)
  else:
    os.remove(old)
