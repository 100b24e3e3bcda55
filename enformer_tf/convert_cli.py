"""`enformer-convert`: DeepMind's Sonnet checkpoint -> a `.keras` Enformer.

  enformer-convert --checkpoint /ckpt/enformer-fine-tuned-human-1 \
      --output enformer.keras [--export_dir serving/enformer/1]

The configuration (width, depth, heads, pooling) is read off the checkpoint.
The `.keras` file is written beside `--output` and renamed into place only
when everything (the export too) has succeeded, so a failed run leaves an
existing `--output` as it was and no partial file. Errors are one line on
stderr and a non-zero exit status.
"""
import argparse
import os
import sys
import uuid
from typing import Optional, Sequence

PROG = 'enformer-convert'


class _Parser(argparse.ArgumentParser):
  """An argument parser whose errors are one line, not usage + error."""

  def error(self, message):
    self.exit(2, f'{PROG}: error: {message} (see {PROG} --help)\n')


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
  parser = _Parser(
      prog=PROG,
      description='Convert the official Enformer weights (the Sonnet '
                  'checkpoint of deepmind-research/enformer) to a tf-keras '
                  '.keras model.')
  parser.add_argument(
      '--checkpoint', required=True,
      help='checkpoint prefix (e.g. /dir/enformer-fine-tuned-human-1), one of '
           'its files, or its directory')
  parser.add_argument('--output', required=True,
                      help='the .keras file to write')
  parser.add_argument('--export_dir', default=None,
                      help='also export a serving SavedModel to this '
                           'directory')
  return parser.parse_args(argv)


def convert_atomically(checkpoint: str, output: str,
                       export_dir: Optional[str] = None):
  """`convert.convert_checkpoint` writing `output` in one rename at the end.

  The model is saved to a hidden sibling of `output` (same filesystem, so
  the rename is atomic) and moved into place after the conversion and the
  optional export succeeded; on any failure the sibling is removed.

  Returns:
    The converted model.
  """
  from enformer_tf.export import convert  # pylint: disable=g-import-not-at-top

  output = os.fspath(output)
  if not output.endswith('.keras'):  # Before the minutes of conversion.
    raise ValueError(f'output must be a .keras file, got {output!r}.')
  parent, name = os.path.split(os.path.abspath(output))
  temp = os.path.join(parent, f'.{name[:-len(".keras")]}.tmp-'
                      f'{uuid.uuid4().hex[:8]}.keras')
  try:
    model = convert.convert_checkpoint(checkpoint, temp,
                                       export_dir=export_dir)
    os.replace(temp, output)
  except BaseException:
    if os.path.lexists(temp):
      os.remove(temp)
    raise
  return model


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  # Imported after parsing so that --help does not wait for TensorFlow.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    model = convert_atomically(args.checkpoint, args.output,
                               export_dir=args.export_dir)
  except (ValueError, TypeError, OSError, ImportError,
          tf.errors.OpError) as error:
    # The first line: a WeightImportError lists every weight after it.
    lines = str(error).strip().splitlines()
    message = ' '.join(lines[0].split()) if lines else type(error).__name__
    print(f'{PROG}: error: {message}', file=sys.stderr)
    return 1
  print(f'Wrote {args.output} (channels={model.channels}, '
        f'{model.num_transformer_layers} transformer layers, heads '
        f'{model.heads})'
        + (f' and SavedModel {args.export_dir}' if args.export_dir else '')
        + '.')
  return 0


if __name__ == '__main__':
  sys.exit(main())
