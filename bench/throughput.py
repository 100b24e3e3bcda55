"""Inference throughput at batch 1, 2 and 4: in-process vs exported SavedModel.

Builds one Enformer (default: the published size, 196,608 bp, float32),
exports it once with `export_saved_model` (no warm-up file) to a temporary
directory and loads it with `tf.saved_model.load`. For each batch size it
times, interleaved run by run (`common.interleaved_times`, so that load
changes on the shared machine hit both alike):

- in-process: a `tf.function` with the SavedModel's input signature
  (float32 `[None, L, 4]`) around the call the signature serves:
  `model(x, training=False)`, all heads, for `serving_default` (the
  default), or `model.predict_head(x, head, training=False)`, one head, for
  a head's signature (`--signature human`);
- SavedModel: the loaded signature, which also runs the export's input
  checks (shape and one-hot values).

Both use the same weights and the same input. Per batch it reports the
median seconds and sequences/s of each, `savedmodel_vs_inprocess` =
in-process seconds / SavedModel seconds (the SavedModel's throughput
relative to in-process; target >= 0.95), and the largest output difference
between the two (the script stops with an error if it exceeds 1e-4 of the
largest output). Prints one JSON line, with peak resident memory.

  python bench/throughput.py                        # full size, float32
  python bench/throughput.py --mixed_bfloat16       # Enformer(mixed_bfloat16)
  python bench/throughput.py --signature human      # human head only
  python bench/throughput.py --channels 48 --num_transformer_layers 1 \
      --sequence_length 4096 --runs 1               # quick check
"""
import argparse
import os
import sys
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from serving import divisor_for  # noqa: E402  (bench/serving.py)

import enformer_tf  # noqa: E402
from enformer_tf.export import export_saved_model  # noqa: E402

# Largest output difference allowed between the two, relative to the largest
# output: they run the same graph on the same weights.
RELATIVE_TOLERANCE = 1e-4


def batch_sizes(text: str):
  sizes = [int(b) for b in text.split(',') if b.strip()]
  if not sizes or min(sizes) < 1:
    raise argparse.ArgumentTypeError(
        f'expected comma-separated positive batch sizes, got {text!r}')
  return sizes


def in_process_function(model, signature: str, sequence_length: int):
  """The in-process call that matches the SavedModel signature `signature`.

  Traced with the signature's input spec (unknown batch), so the two run
  graphs built from the same shape information.
  """
  spec = tf.TensorSpec([None, sequence_length, 4], tf.float32)
  if signature == 'serving_default':
    return tf.function(lambda x: model(x, training=False),
                       input_signature=[spec])
  if signature in model.heads:
    return tf.function(
        lambda x: {signature: model.predict_head(x, signature,
                                                 training=False)},
        input_signature=[spec])
  raise ValueError(f'--signature must be serving_default or a head '
                   f'({", ".join(sorted(model.heads))}), got {signature!r}.')


def max_difference(served, in_process):
  """(max |served - in_process|, that divided by max |in_process|)."""
  if set(served) != set(in_process):
    raise SystemExit(f'SavedModel outputs {sorted(served)} differ from the '
                     f'in-process outputs {sorted(in_process)}.')
  absolute, scale = 0.0, 0.0
  for key, value in in_process.items():
    value = value.numpy().astype(np.float64)
    other = served[key].numpy().astype(np.float64)
    absolute = max(absolute, float(np.abs(other - value).max()))
    scale = max(scale, float(np.abs(value).max()))
  return absolute, absolute / max(scale, 1e-30)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batches', type=batch_sizes, default=[1, 2, 4],
                      help='comma-separated batch sizes')
  parser.add_argument('--runs', type=int, default=3)
  parser.add_argument('--warmup', type=int, default=1)
  parser.add_argument('--signature', default='serving_default',
                      help='serving_default (all heads) or a head name')
  parser.add_argument('--mixed_bfloat16', action='store_true')
  parser.add_argument('--channels', type=int, default=1536,
                      help='narrower models for a quick check of the script')
  parser.add_argument('--num_transformer_layers', type=int, default=11)
  parser.add_argument('--num_heads', type=int, default=8)
  parser.add_argument('--sequence_length', type=int,
                      default=enformer_tf.SEQUENCE_LENGTH)
  args = parser.parse_args(argv)

  target_length = min(enformer_tf.TARGET_LENGTH,
                      args.sequence_length // enformer_tf.BIN_SIZE)
  # The signature's fixed input length is the model's sequence_length.
  model = enformer_tf.Enformer(
      channels=args.channels,
      num_transformer_layers=args.num_transformer_layers,
      num_heads=args.num_heads, heads=enformer_tf.DEFAULT_HEADS,
      target_length=target_length, sequence_length=args.sequence_length,
      conv_tower_divisible_by=divisor_for(args.channels),
      mixed_bfloat16=args.mixed_bfloat16)
  model.build((None, args.sequence_length, 4))
  forward = in_process_function(model, args.signature, args.sequence_length)

  results = {}
  with tempfile.TemporaryDirectory() as export_dir:
    path = export_saved_model(model, export_dir, warmup_requests=False)
    loaded = tf.saved_model.load(path)
    signature = loaded.signatures[args.signature]
    for batch in args.batches:
      x = tf.constant(common.random_one_hot(batch, args.sequence_length,
                                            seed=batch))
      in_process_times, served_times = common.interleaved_times(
          lambda: forward(x), lambda: signature(sequence=x),
          runs=args.runs, warmup=args.warmup)
      absolute, relative = max_difference(signature(sequence=x), forward(x))
      if relative > RELATIVE_TOLERANCE:
        raise SystemExit(
            f'At batch {batch} the SavedModel outputs differ from the '
            f'in-process outputs by up to {absolute:.3g} ({relative:.3g} of '
            f'the largest output; allowed {RELATIVE_TOLERANCE:g}): the export '
            f'does not compute what the model computes.')
      in_process_s = common.median(in_process_times)
      served_s = common.median(served_times)
      results[str(batch)] = dict(
          in_process_seconds_median=round(in_process_s, 4),
          savedmodel_seconds_median=round(served_s, 4),
          in_process_seconds_all=[round(t, 4) for t in in_process_times],
          savedmodel_seconds_all=[round(t, 4) for t in served_times],
          in_process_sequences_per_s=round(batch / in_process_s, 4),
          savedmodel_sequences_per_s=round(batch / served_s, 4),
          savedmodel_vs_inprocess=round(in_process_s / served_s, 4),
          max_abs_diff=float(f'{absolute:.3g}'),
          max_rel_diff=float(f'{relative:.3g}'))

  ratios = [r['savedmodel_vs_inprocess'] for r in results.values()]
  common.emit(dict(
      bench='throughput', signature=args.signature,
      dtype='mixed_bfloat16' if args.mixed_bfloat16 else 'float32',
      channels=args.channels,
      num_transformer_layers=args.num_transformer_layers,
      sequence_length=args.sequence_length, target_length=target_length,
      runs=args.runs, warmup=args.warmup, batches=results,
      min_savedmodel_vs_inprocess=min(ratios),
      peak_rss_gib=round(common.peak_rss_gib(), 3),
      load_average=round(os.getloadavg()[0], 2), **common.machine()))


if __name__ == '__main__':
  main()
