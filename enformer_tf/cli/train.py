"""`enformer-train`: train Enformer from gin files.

  enformer-train --gin_file experiments/paper.gin --model_dir runs/paper
  enformer-train --gin_file experiments/small_cpu_synthetic.gin \\
      --gin_param 'train.num_steps = 500' --model_dir runs/small

`--gin_file` paths and the gin files' `include` lines are looked up as given
(absolute, or relative to the working directory), then in each
`--gin_search_path DIR` (repeatable), then in the folders of the
`ENFORMER_GIN_PATH` environment variable, then in the gin files bundled with
the package (`enformer_tf/gin/`): a user's `model/enformer_small.gin` wins
over the bundled one. Running again with the same `--model_dir` resumes from
the newest readable checkpoint.

Exit status: 0 when done; 1 on an error (one line on stderr); on SIGINT or
SIGTERM the current step is finished and checkpointed, then 130 (SIGINT) or
143 (SIGTERM).
"""
import logging
import re
import sys
from typing import Optional, Sequence

import tensorflow as tf

from enformer_tf.cli import common
from enformer_tf.errors import one_line
from enformer_tf.train import Trainer
from enformer_tf.train import TrainingInterrupted
from enformer_tf.train import config

PROG = 'enformer-train'
# Errors a user can cause (bad binding, missing file, diverging run); they are
# reported as one line. Anything else is a bug and keeps its traceback.
USER_ERRORS = (ValueError, TypeError, OSError, FloatingPointError,
               tf.errors.OpError)


def _parser() -> common.Parser:
  parser = common.Parser(PROG, __doc__.split('\n')[0])
  common.add_gin_arguments(parser)
  parser.add_argument('--gin_search_path', action='append', default=[],
                      metavar='DIR',
                      help='a folder of your own gin files, searched before '
                           'the bundled ones (repeatable; also '
                           f'{config.GIN_PATH_ENV}).')
  parser.add_argument('--model_dir', default=None,
                      help='checkpoints and summaries (overrides '
                           'train.model_dir).')
  return parser


def _one_line(error: BaseException) -> str:
  """`Type: message` on one line, without gin's call-site noise."""
  text = one_line(error, with_type=True)
  # gin appends where it called in; the entry point `train` says nothing,
  # and object reprs (`<function ... at 0x...>`) are noise.
  text = re.sub(r"\s*In call to configurable 'train' \(<[^>]*>\)$", '',
                text)
  text = re.sub(r' \(<(?:function|class) [^>]*>\)', '', text)
  name = type(error).__name__
  return name if text == f'{name}:' else text


def _print_summary(trainer: Trainer) -> None:
  """Where the run ended, what it skipped, and the final evaluation."""
  print(f'Trained to step {int(trainer.step.numpy())}; checkpoints in '
        f'{trainer.model_dir}.')
  for head, skipped in trainer.skipped_updates.items():
    if skipped:
      print(f'{head}: skipped {skipped} update{"s" * (skipped != 1)} with a '
            'non-finite loss or gradient.')
  for name, report in trainer.read_reports.items():
    if report.num_skipped:
      print(f'{name} data: {report.summary()}.')
  for head, result in (trainer.last_eval or {}).items():
    print(f'{head}: mean Pearson R {result.mean_pearson_r:.4f}, '
          f'mean R2 {result.mean_r2:.4f} over {len(result.pearson_r)} tracks')


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  logging.basicConfig(level=logging.WARNING,
                      format='%(levelname)s %(name)s: %(message)s')
  logging.getLogger('enformer_tf').setLevel(logging.INFO)
  try:
    trainer = config.train_from_gin(args.gin_file, args.gin_param,
                                    args.model_dir, args.gin_search_path)
  except USER_ERRORS as error:
    hint = ''
    if isinstance(error, tf.errors.OpError) and (
        'skip_corrupt=True' in error.message):
      hint = (" To skip them here: --gin_param 'enformer_tf.train."
              "basenji_datasets.skip_corrupt = True'.")
    print(f'{PROG}: error: {_one_line(error)}{hint}', file=sys.stderr)
    return common.EXIT_USER_ERROR
  except TrainingInterrupted as stop:
    print(f'{PROG}: {stop}; run the same command to resume.',
          file=sys.stderr)
    return stop.exit_code
  except KeyboardInterrupt:
    print(f'{PROG}: interrupted; resume with the same --model_dir.',
          file=sys.stderr)
    return common.EXIT_INTERRUPTED
  _print_summary(trainer)
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
