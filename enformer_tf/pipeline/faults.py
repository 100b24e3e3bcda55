"""A test hook that makes one shard fail once, as a dying worker would.

`ENFORMER_PIPELINE_FAIL_ONCE=INDEX:MARKER` makes the worker scoring shard
INDEX raise in the middle of writing it, the first time only: the failure
creates the file MARKER, and a later attempt that finds it goes on. The
environment reaches the Beam worker processes, which inherit it.
"""
import os

FAIL_ONCE_ENV = 'ENFORMER_PIPELINE_FAIL_ONCE'


class InjectedFault(RuntimeError):
  """The failure `maybe_fail` raises."""


def maybe_fail(index: int) -> None:
  """Raises `InjectedFault` for shard `index` if the hook asks for it and
  its marker file does not exist yet (then creates it).

  Raises:
    ValueError: the variable is not `INDEX:MARKER`.
  """
  value = os.environ.get(FAIL_ONCE_ENV)
  if not value:
    return
  text, _, marker = value.partition(':')
  if not text.strip().isdigit() or not marker:
    raise ValueError(f'{FAIL_ONCE_ENV}={value!r}: expected INDEX:MARKER, '
                     'e.g. 1:/tmp/failed-once.')
  if int(text) != index:
    return
  try:  # Exclusive creation: of two attempts at once, one fails.
    with open(marker, 'x', encoding='utf-8') as f:
      f.write(f'shard {index} failed once (pid {os.getpid()})\n')
  except FileExistsError:
    return
  raise InjectedFault(f'{FAIL_ONCE_ENV}: shard {index} fails once.')
