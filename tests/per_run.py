"""What the tests share across one pytest run's xdist workers: the run's
temporary directory, and a file lock under which the first worker makes a
shared thing (a trained model, an export, a CLI run) while the others wait,
then read it."""
import contextlib
import fcntl
import os


def run_dir(tmp_path_factory) -> str:
  """This pytest run's temporary directory, shared by its xdist workers."""
  base = tmp_path_factory.getbasetemp()
  if os.environ.get('PYTEST_XDIST_WORKER'):
    base = base.parent  # Each worker's basetemp is a child of the run's.
  return str(base)


@contextlib.contextmanager
def locked(lock_path: str):
  """Holds an exclusive lock on `lock_path` (created if missing)."""
  with open(lock_path, 'w') as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    yield
