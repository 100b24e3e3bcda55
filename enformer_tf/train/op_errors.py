"""Runtime errors from inside the train step, as a person reads them.

A corrupt TFRecord file or a record of the wrong size fails inside the
traced step with TensorFlow's message: graph noise around what went wrong.
`at_step` rebuilds the error (same type, so callers can still tell
`DataLossError` from an out-of-memory error) with a clean one-line message
that also names the global step and the checkpoint to resume from.
"""
import re
from typing import Optional

import tensorflow as tf

from enformer_tf.errors import one_line


def clean_message(message: str) -> str:
  """A TensorFlow runtime error message on one line, without graph noise.

  An `Assert` from the input pipeline (a corrupt TFRecord file, a record of
  the wrong size) carries a message written for people: that is kept
  alone. Otherwise the "Graph execution error", node stack traces, function
  names and op names are dropped.
  """
  assertion = re.search(r'assertion failed: \[(.*?)\]\s*(?:\n|$)', message,
                        flags=re.S)
  if assertion:
    message = assertion.group(1)
  else:
    lines = [line for line in message.splitlines()
             if line.strip() and not line.startswith((' ', '\t'))
             and not line.startswith('Detected at node')
             and line.strip() != '<stack traces unavailable>']
    message = re.sub(r'^Graph execution error:', '', ' '.join(lines))
  message = re.sub(r'\[\[[^\]]*\]\]|\[Op:[^\]]*\]', '', message)
  # Assert prints its string data with quotes escaped.
  message = message.replace("\\'", "'")
  # one_line drops `{{function_node ...}}` and joins the rest.
  return one_line(RuntimeError(message)) if message.strip() else ''


def at_step(error: tf.errors.OpError, step: int,
            latest_checkpoint: Optional[str]) -> tf.errors.OpError:
  """`error` again, its message cleaned and naming the step and checkpoint.

  The base class `tf.errors.OpError` has no error code to rebuild it with:
  it is returned as it is.
  """
  # pylint: disable-next=unidiomatic-typecheck
  if type(error) is tf.errors.OpError:
    return error
  return type(error)(
      error.node_def, error.op,
      f'Training stopped at global step {step}: '
      f'{clean_message(error.message)} Nothing from this step was '
      f'checkpointed (latest checkpoint: {latest_checkpoint or "none"}).')
