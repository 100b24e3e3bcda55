"""Checkpoints that survive crashes and damage: restore the newest readable.

`tf.train.CheckpointManager.save` writes `ckpt-N.data-*` and `ckpt-N.index`
first and rewrites the `checkpoint` state file (atomically: a temporary file
renamed over it) only once they are complete. A process killed before that
rename leaves the previous checkpoint selected; one killed after it leaves a
complete ckpt-N (tests/reliability/test_checkpoint_write.py kills a training
process at that point).

What remains is damage after the fact: a truncated copy, a bad disk, a state
file that was lost or edited. `restore_newest_readable` tries the
checkpoints newest first and falls back to an older one with a warning,
rather than crash or silently start from scratch, and rewrites the state file
so that the damaged checkpoint is no longer selected. A checkpoint that reads
but does not match the model (another configuration) is an error, never a
reason to fall back.
"""
import logging
import os
import re
from typing import List, Optional, Sequence, Tuple

import tensorflow as tf
import tf_keras as keras

from enformer_tf.atomic import write_atomically
from enformer_tf.errors import one_line

logger = logging.getLogger(__name__)

STATE_FILE = 'checkpoint'  # What tf.train.CheckpointManager writes.


class UnreadableCheckpointError(OSError):
  """Every checkpoint in a directory is damaged; nothing was restored."""


def checkpoint_number(prefix: str) -> int:
  """N of a `.../name-N` checkpoint prefix (-1 if it has none)."""
  match = re.search(r'-(\d+)$', prefix)
  return int(match.group(1)) if match else -1


def _on_disk(directory: str, name: str) -> List[str]:
  """Prefixes of `name-N.index` files in `directory`, newest first."""
  prefixes = [path[:-len('.index')] for path in tf.io.gfile.glob(
      os.path.join(directory, f'{name}-*.index'))]
  return sorted((p for p in prefixes if checkpoint_number(p) >= 0),
                key=checkpoint_number, reverse=True)


def candidates(directory: str, name: str = 'ckpt'
               ) -> Tuple[List[str], Optional[str]]:
  """The checkpoints to try, newest first, and what is wrong with the state.

  The state file decides when it can be read; files it does not list (a
  save interrupted before the state was updated) are left out. Without a
  readable state file, every `name-N.index` in the directory is a
  candidate.

  Args:
    directory: the checkpoint directory.
    name: the checkpoint name given to the `CheckpointManager`.

  Returns:
    (prefixes newest first, None or a sentence saying why the state file
    was not used).
  """
  try:
    state = tf.train.get_checkpoint_state(directory)
    problem = None
  except ValueError as error:  # A state file without a latest checkpoint.
    state, problem = None, str(error)
  if state is not None:
    latest = state.model_checkpoint_path
    older = [p for p in reversed(state.all_model_checkpoint_paths)
             if p != latest]
    return [latest] + older, None
  on_disk = _on_disk(directory, name)
  state_path = os.path.join(directory, STATE_FILE)
  if not on_disk:
    return [], problem
  if problem is None:
    problem = (f'the state file {state_path} cannot be parsed'
               if tf.io.gfile.exists(state_path)
               else f'there is no state file {state_path}')
  return on_disk, problem


def restore_newest_readable(checkpoint: tf.train.Checkpoint, directory: str,
                            name: str = 'ckpt',
                            repair_state: bool = True) -> Optional[str]:
  """Restores the newest checkpoint in `directory` that can be read.

  Args:
    checkpoint: what to restore; every object it tracks must exist already
      (built model and optimizer), so that a restore is complete or fails.
    directory: the checkpoint directory.
    name: the checkpoint name given to the `CheckpointManager`.
    repair_state: after a fallback, rewrite the state file so that it
      selects the checkpoint restored (the chief only, in a cluster).

  Returns:
    The prefix restored, or None if the directory has no checkpoint.

  Raises:
    AssertionError: a checkpoint was read but does not match `checkpoint`
      (another model or optimizer configuration).
    UnreadableCheckpointError: there are checkpoints and none can be read;
      the message lists each one's error.
  """
  paths, state_problem = candidates(directory, name)
  if state_problem and not paths:
    # Names no checkpoint, and CheckpointManager would fail on it.
    logger.warning('Checkpoint state: %s, and there are no checkpoint files; '
                   'removing it and starting from scratch.', state_problem)
    if repair_state:
      tf.io.gfile.remove(os.path.join(directory, STATE_FILE))
    return None
  if state_problem:
    logger.warning('Checkpoint state: %s; trying the checkpoint files in '
                   '%s newest first.', state_problem, directory)
  failures, failed = [], set()
  for path in paths:
    try:
      checkpoint.restore(path).assert_existing_objects_matched()
    except AssertionError:
      raise  # Readable, but made for another model: not damage.
    except Exception as error:  # pylint: disable=broad-except
      # Damage shows up as DataLossError (checksum), OpError (bad index),
      # NotFoundError (missing file) or even IndexError (short data file).
      message = one_line(error, with_type=True, limit=500)
      failures.append(f'{path}: {message}')
      failed.add(path)
      logger.warning('Cannot read checkpoint %s (%s); trying the one before.',
                     path, message)
      continue
    if failures:
      logger.warning(
          'Restored %s instead of a newer, unreadable checkpoint (%d '
          'skipped). Training continues from its step; the damaged files are '
          'left in place and overwritten when that step is saved again.',
          path, len(failures))
    if failures or state_problem:
      if repair_state:
        keep = [p for p in reversed(paths) if p not in failed
                and checkpoint_number(p) <= checkpoint_number(path)]
        write_state(directory, path, keep)
    return path
  if paths:
    raise UnreadableCheckpointError(
        f'No checkpoint in {directory} can be read, so training cannot '
        f'resume: {"; ".join(failures)}. Restore them from a copy, or move '
        'them away to start from scratch.')
  return None


def write_state(directory: str, latest: str, all_paths: Sequence[str]):
  """Writes the `checkpoint` state file atomically, with relative paths.

  Args:
    directory: the checkpoint directory.
    latest: the prefix to select.
    all_paths: the prefixes to keep listed, oldest first (`latest` is added
      last if missing).
  """
  names = [os.path.basename(p) for p in all_paths if p != latest]
  names.append(os.path.basename(latest))
  text = f'model_checkpoint_path: "{os.path.basename(latest)}"\n' + ''.join(
      f'all_model_checkpoint_paths: "{n}"\n' for n in names)
  write_atomically(os.path.join(directory, STATE_FILE), text)


def dropout_generators(model: keras.Model) -> List[tf.random.Generator]:
  """The `tf.random.Generator`s behind the model's dropout layers, in order.

  They exist when `keras.backend.experimental.enable_tf_random_generator()`
  was called before the model was built (`Trainer(deterministic=True)` does).
  tf_keras keeps them in each layer's `_random_generator` but leaves them
  out of checkpoints; the trainer saves them so that a resumed run draws the
  same dropout masks as an uninterrupted one.
  """
  generators = []
  for layer in model.submodules:
    generator = getattr(getattr(layer, '_random_generator', None),
                        '_generator', None)
    if isinstance(generator, tf.random.Generator):
      generators.append(generator)
  return generators
