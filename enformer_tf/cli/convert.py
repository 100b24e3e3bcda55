"""`enformer-convert`: DeepMind's Sonnet checkpoint -> a `.keras` Enformer.

  enformer-convert --checkpoint /ckpt/enformer-fine-tuned-human-1 \
      --output enformer.keras [--export_dir serving/enformer/1]

The configuration (width, depth, heads, pooling) is read off the checkpoint.
The `.keras` file is written beside `--output` and renamed into place only
when everything (the export too) has succeeded, so a failed run leaves an
existing `--output` as it was and no partial file. Errors are one line on
stderr and a non-zero exit status.
"""
import os
import sys
from typing import Optional, Sequence

from enformer_tf import atomic
from enformer_tf.cli import common

PROG = 'enformer-convert'


def _parser() -> common.Parser:
  parser = common.Parser(
      PROG, 'Convert the official Enformer weights (the Sonnet checkpoint of '
      'deepmind-research/enformer) to a tf-keras .keras model.')
  parser.add_argument(
      '--checkpoint', required=True,
      help='checkpoint prefix (e.g. /dir/enformer-fine-tuned-human-1), one of '
           'its files, or its directory')
  parser.add_argument('--output', required=True,
                      help='the .keras file to write')
  parser.add_argument('--export_dir', default=None,
                      help='also export a serving SavedModel to this '
                           'directory')
  return parser


def convert_checkpoint(checkpoint: str, output: str,
                       export_dir: Optional[str] = None, **model_kwargs):
  """Converts a DeepMind checkpoint to a `.keras` file (and a SavedModel).

  `output` is written in one rename at the end: the model is saved to a
  hidden sibling and moved into place after the conversion and the optional
  export succeeded; on any failure the sibling is removed.

  Args:
    checkpoint: as in `enformer_tf.io.load_deepmind_checkpoint`.
    output: the `.keras` file to write.
    export_dir: if given, also export a serving SavedModel there.
    **model_kwargs: as in `enformer_tf.from_deepmind_checkpoint`.

  Returns:
    The converted model.
  """
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  from enformer_tf.export.saved_model import export_saved_model
  from enformer_tf.io import deepmind_checkpoint

  output = os.fspath(output)
  if not output.endswith('.keras'):  # Before the minutes of conversion.
    raise ValueError(f'output must be a .keras file, got {output!r}.')
  model = deepmind_checkpoint.enformer_from_deepmind_checkpoint(
      checkpoint, **model_kwargs)
  os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
  with atomic.atomic_path(output) as temporary:
    model.save(temporary)
    if export_dir is not None:
      export_saved_model(model, os.fspath(export_dir))
  return model


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    model = convert_checkpoint(args.checkpoint, args.output,
                               export_dir=args.export_dir)
  except (ValueError, TypeError, OSError, ImportError,
          tf.errors.OpError) as error:
    # The first line: a WeightImportError lists every weight after it.
    print(f'{PROG}: error: {common.first_line(error)}', file=sys.stderr)
    return common.EXIT_USER_ERROR
  print(f'Wrote {args.output} (channels={model.channels}, '
        f'{model.num_transformer_layers} transformer layers, heads '
        f'{model.heads})'
        + (f' and SavedModel {args.export_dir}' if args.export_dir else '')
        + '.')
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
