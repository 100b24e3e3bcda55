"""Errors as the user reads them: one line, no traceback."""
import re

_FUNCTION_NODE = re.compile(r'\{\{function_node [^}]*\}\}\s*')


def one_line(error: BaseException, with_type: bool = False,
             limit: int = 0) -> str:
  """An exception's message on one line (its type if it has none).

  Args:
    error: the exception.
    with_type: prefix the type (`ValueError: ...`), for logs where the kind
      of failure matters.
    limit: cut to this many characters (0: no limit).
  """
  text = ' '.join(_FUNCTION_NODE.sub('', str(error)).split())
  if with_type or not text:
    text = f'{type(error).__name__}: {text}' if text else type(error).__name__
  return text[:limit] if limit else text
