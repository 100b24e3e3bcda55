"""`enformer-convert`: DeepMind's Sonnet checkpoint -> a `.keras` Enformer.

  enformer-convert --checkpoint /ckpt/enformer-fine-tuned-human-1 \
      --output enformer.keras [--export_dir serving/enformer/1]

The configuration (width, depth, heads, pooling) is read off the checkpoint.
"""
import argparse
import sys
from typing import Optional, Sequence

PROG = 'enformer-convert'


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
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


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parse_args(argv)
  # Imported after parsing so that --help does not wait for TensorFlow.
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from enformer_tf.export import convert  # pylint: disable=g-import-not-at-top
  try:
    model = convert.convert_checkpoint(args.checkpoint, args.output,
                                       export_dir=args.export_dir)
  except (ValueError, TypeError, OSError, ImportError,
          tf.errors.OpError) as error:
    message = str(error).splitlines()[0] if str(error) else repr(error)
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
