"""What every console script shares: the parser, gin options, one-line
errors and exit codes."""
import argparse
import sys
from typing import Callable, Tuple, Type

from enformer_tf.errors import one_line

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
  """An argument parser whose errors are one line, not usage + error.

  The description's first paragraph is the `--help` summary; the rest of a
  module docstring passed as `description` is shown as written.
  """

  def __init__(self, prog: str, description: str = '', **kwargs):
    kwargs.setdefault('formatter_class',
                      argparse.RawDescriptionHelpFormatter)
    super().__init__(prog=prog, description=description, **kwargs)

  def error(self, message):
    self.exit(EXIT_USAGE,
              f'{self.prog}: error: {message} (see {self.prog} --help)\n')


def add_gin_arguments(parser: argparse.ArgumentParser,
                      required: bool = True) -> None:
  """`--gin_file` and `--gin_param` (both repeatable)."""
  parser.add_argument('--gin_file', action='append', default=[],
                      required=required, help='gin file (repeatable).')
  parser.add_argument('--gin_param', action='append', default=[],
                      help="gin binding, e.g. 'train.num_steps = 10' "
                           '(repeatable).')


def add_model_argument(parser: argparse.ArgumentParser) -> None:
  """`--model`: any saved Enformer (`enformer_tf.io.load_model`)."""
  parser.add_argument('--model', required=True, metavar='PATH',
                      help='a .keras file, an enformer-train directory or a '
                      'checkpoint prefix in one')


def fail(prog: str, error: BaseException, hint: str = '') -> int:
  """Prints `prog: error: <one line>` to stderr; returns the exit code."""
  print(f'{prog}: error: {one_line(error)}{hint}', file=sys.stderr)
  return EXIT_USER_ERROR


def run_or_fail(prog: str, function: Callable[[], int],
                user_errors: Tuple[Type[BaseException], ...]) -> int:
  """`function()`'s exit code, or a one-line error for `user_errors` and
  130 on Ctrl-C; any other exception is a bug and keeps its traceback."""
  try:
    return function()
  except user_errors as error:
    return fail(prog, error)
  except KeyboardInterrupt:
    print(f'{prog}: interrupted.', file=sys.stderr)
    return EXIT_INTERRUPTED


def first_line(error: BaseException) -> str:
  """The first line of a multi-line message (e.g. a weight-by-weight list
  after a summary), on one line."""
  lines = str(error).strip().splitlines()
  return ' '.join(lines[0].split()) if lines else type(error).__name__


__all__ = ['EXIT_INTERRUPTED', 'EXIT_OK', 'EXIT_USAGE', 'EXIT_USER_ERROR',
           'Parser', 'add_gin_arguments', 'add_model_argument', 'fail',
           'first_line', 'one_line', 'run_or_fail']
