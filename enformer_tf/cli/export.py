"""`enformer-export`: write an Enformer SavedModel for TF Serving.

    enformer-export --keras_model model.keras --export_dir /models/enformer
    enformer-export --checkpoint_dir runs/exp1 --export_dir /models/enformer \\
        --tracks human=0,1,4828 --tracks mouse=10-19 --float16

Writes `EXPORT_DIR/<version>/` atomically (see
`enformer_tf/export/saved_model.py`) and prints the version directory and
its signatures. Errors are one line on stderr and a non-zero exit status.
"""
import json
import os
import sys
from typing import Dict, List, Optional, Sequence

from enformer_tf.cli import common

PROG = 'enformer-export'


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


def _parser() -> common.Parser:
  parser = common.Parser(
      PROG, 'Export an Enformer as a TF Serving SavedModel version\n'
      'EXPORT_DIR/<version>/ (written atomically).')
  source = parser.add_mutually_exclusive_group(required=True)
  source.add_argument('--keras_model', metavar='FILE',
                      help='a model saved with model.save("model.keras")')
  source.add_argument('--checkpoint_dir', metavar='DIR',
                      help='a training directory: model_config.json or '
                      'operative_config.gin and checkpoints (the latest is '
                      'exported)')
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


def export_model(export_dir: str, *, keras_model: Optional[str] = None,
                 checkpoint_dir: Optional[str] = None,
                 tracks: Optional[Sequence[str]] = None,
                 **export_options) -> str:
  """Loads a model and exports it; returns the version directory.

  Args:
    export_dir: as in `export_saved_model`.
    keras_model: a `.keras` file (`enformer_tf.io.load_keras_model`), or
    checkpoint_dir: a training directory or checkpoint prefix
      (`enformer_tf.io.model_from_checkpoint`).
    tracks: `--tracks` values (`parse_tracks`), checked before the model is
      loaded.
    **export_options: the other arguments of `export_saved_model`.
  """
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  from enformer_tf.export.saved_model import export_saved_model
  from enformer_tf.io import keras_file, training_dir

  kept = parse_tracks(tracks)
  if keras_model:
    model = keras_file.load_keras_model(keras_model)
  else:
    model = training_dir.model_from_checkpoint(checkpoint_dir)
  return export_saved_model(model, export_dir, tracks=kept, **export_options)


def _summary(path: str) -> List[str]:
  """The lines printed after an export: the path and every signature."""
  # pylint: disable=g-import-not-at-top  (--help does not wait for TF)
  from enformer_tf.export import saved_model
  with open(os.path.join(path, saved_model.METADATA_FILE),
            encoding='utf-8') as f:
    metadata = json.load(f)
  lines = [f'Exported {path}']
  for name, spec in metadata['signatures'].items():
    inputs = ', '.join(f'{k} {v["dtype"]}{v["shape"]}'
                       for k, v in spec['inputs'].items())
    outputs = ', '.join(f'{k} {v["dtype"]}{v["shape"]}'
                        for k, v in spec['outputs'].items())
    lines.append(f'  {name}: {inputs} -> {outputs}')
  hub_length = metadata.get('hub_sequence_length')
  if hub_length:
    lines.append(f'  TF Hub model.predict_on_batch, contribution_input_grad: '
                 f'{hub_length} bp, centre {metadata["sequence_length"]} bp '
                 'used')
  return lines


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    path = export_model(
        args.export_dir, keras_model=args.keras_model,
        checkpoint_dir=args.checkpoint_dir, tracks=args.tracks,
        version=args.version,
        output_dtype='float16' if args.float16 else 'float32',
        mixed_bfloat16=args.mixed_bfloat16, overwrite=args.overwrite,
        warmup_requests=not args.no_warmup, model_name=args.model_name,
        hub_sequence_length=args.hub_sequence_length)
  except (ValueError, OSError, tf.errors.OpError) as error:
    print(f'{PROG}: error: {common.first_line(error)}', file=sys.stderr)
    return common.EXIT_USER_ERROR
  print('\n'.join(_summary(path)))
  return common.EXIT_OK


if __name__ == '__main__':
  sys.exit(main())
