"""`enformer-export`: write an Enformer SavedModel for TF Serving.

    enformer-export --keras_model model.keras --export_dir /models/enformer
    enformer-export --checkpoint_dir runs/exp1 --export_dir /models/enformer \\
        --tracks human=0,1,4828 --tracks mouse=10-19 --float16

Writes `EXPORT_DIR/<version>/` atomically (see `saved_model.py`) and prints
the version directory and its signatures. Errors are one line on stderr and
a non-zero exit status.
"""
import argparse
import os
import sys
from typing import Dict, List, Optional, Sequence

PROG = 'enformer-export'


class _Parser(argparse.ArgumentParser):
  """An argument parser whose errors are one line, not usage + error."""

  def error(self, message):
    self.exit(2, f'{PROG}: error: {message} (see {PROG} --help)\n')


def parse_tracks(values: Optional[Sequence[str]]
                 ) -> Optional[Dict[str, List[int]]]:
  """`['human=0,1,10-12', 'mouse=2']` -> `{'human': [0, 1, 10, 11, 12], ...}`.

  Raises:
    ValueError: a value is not `HEAD=INDICES`, an index is not a
      non-negative integer or `a-b` range, or a head is given twice.
  """
  if not values:
    return None
  tracks = {}
  for value in values:
    head, sep, spec = value.partition('=')
    head = head.strip()
    if not sep or not head or not spec.strip():
      raise ValueError(f'--tracks {value!r} is not HEAD=INDICES (e.g. '
                       'human=0,1,5 or mouse=10-19).')
    if head in tracks:
      raise ValueError(f'--tracks names the head {head!r} twice; give all of '
                       'its indices in one --tracks.')
    indices = []
    for part in spec.split(','):
      part = part.strip()
      start, dash, end = part.partition('-')
      try:
        if dash:
          first, last = int(start), int(end)
          if first > last:
            raise ValueError
          indices.extend(range(first, last + 1))
        else:
          indices.append(int(part))
      except ValueError:
        raise ValueError(
            f'--tracks {value!r}: {part!r} is not a track index or an '
            'increasing range a-b of non-negative integers.') from None
    tracks[head] = indices
  return tracks


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(
      prog=PROG,
      description='Export an Enformer as a TF Serving SavedModel version '
      'EXPORT_DIR/<version>/ (written atomically).')
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument('--keras_model', metavar='FILE',
                      help='a model saved with model.save("model.keras")')
  source.add_argument('--checkpoint_dir', metavar='DIR',
                      help='a training directory: operative_config.gin and '
                      'checkpoints (the latest is exported)')
  parser.add_argument('--export_dir', required=True, metavar='DIR',
                      help='the model base directory TF Serving watches')
  parser.add_argument('--version', type=int, default=None,
                      help='version number (default: 1 + the highest one)')
  parser.add_argument('--tracks', action='append', metavar='HEAD=INDICES',
                      help='keep only these tracks of HEAD in the serving '
                      'signatures, e.g. human=0,1,5 or mouse=10-19 '
                      '(repeatable; other heads keep all tracks)')
  parser.add_argument('--float16', action='store_true',
                      help='serve float16 outputs (half the response size)')
  parser.add_argument('--mixed_bfloat16', action='store_true',
                      help='compute in bfloat16 with the same weights '
                      '(faster on CPUs with AVX512-BF16/AMX and on '
                      'accelerators; outputs stay float32)')
  parser.add_argument('--overwrite', action='store_true',
                      help='replace an existing version directory')
  parser.add_argument('--no_warmup', action='store_true',
                      help='do not write TF Serving warm-up requests')
  parser.add_argument('--hub_sequence_length', type=int, default=None,
                      metavar='N',
                      help='input length in bp of the TF Hub-style '
                      'model.predict_on_batch and contribution_input_grad, '
                      'which crop the centre sequence_length bp (default: '
                      '2 x sequence_length, 393216 for the published '
                      'Enformer, as deepmind/enformer/1 takes; the serving '
                      'signatures keep sequence_length)')
  parser.add_argument('--model_name', default='enformer',
                      help='model name in the warm-up requests (default '
                      'enformer)')
  return parser


def run(args: argparse.Namespace) -> str:
  """Loads the model `args` describe and exports it; returns the path."""
  from enformer_tf.export import saved_model
  from enformer_tf.io import keras_file, training_dir

  tracks = parse_tracks(args.tracks)
  if args.keras_model:
    model = keras_file.load_keras_model(args.keras_model)
  else:
    model = training_dir.model_from_checkpoint(args.checkpoint_dir)
  return saved_model.export_saved_model(
      model, args.export_dir, version=args.version, tracks=tracks,
      output_dtype='float16' if args.float16 else 'float32',
      mixed_bfloat16=args.mixed_bfloat16,
      overwrite=args.overwrite, warmup_requests=not args.no_warmup,
      model_name=args.model_name,
      hub_sequence_length=args.hub_sequence_length)


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import tensorflow as tf

  try:
    path = run(args)
  except (ValueError, OSError, tf.errors.OpError) as e:
    message = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
    print(f'{PROG}: error: {message}', file=sys.stderr)
    return 1
  import json
  from enformer_tf.export import saved_model
  from enformer_tf.io import keras_file, training_dir
  with open(os.path.join(path, saved_model.METADATA_FILE),
            encoding='utf-8') as f:
    metadata = json.load(f)
  print(f'Exported {path}')
  for name, spec in metadata['signatures'].items():
    inputs = ', '.join(f'{k} {v["dtype"]}{v["shape"]}'
                       for k, v in spec['inputs'].items())
    outputs = ', '.join(f'{k} {v["dtype"]}{v["shape"]}'
                        for k, v in spec['outputs'].items())
    print(f'  {name}: {inputs} -> {outputs}')
  hub_length = metadata.get('hub_sequence_length')
  if hub_length:
    print(f'  TF Hub model.predict_on_batch, contribution_input_grad: '
          f'{hub_length} bp, centre {metadata["sequence_length"]} bp used')
  return 0


if __name__ == '__main__':
  sys.exit(main())
