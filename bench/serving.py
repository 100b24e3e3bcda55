"""Latency of an exported SavedModel signature versus the in-process model.

Builds an Enformer, exports it with `export_saved_model` (no warm-up file),
loads it with `tf.saved_model.load` and times, on the same input in the same
run, the loaded signature (`serving_default` by default: input checks plus
the forward pass, all heads) against `tf.function(lambda x: model(x,
training=False))`. Prints one JSON line with both medians and their ratio.

    python bench/serving.py                                   # small, quick
    python bench/serving.py --channels 1536 --num_transformer_layers 11 \
        --sequence_length 196608 --runs 3                     # full size

The loaded signature runs what TF Serving runs, minus the server's own
request handling and (de)serialisation.
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import common  # noqa: E402  (bench/common.py, beside this file)
from enformer_tf import (BIN_SIZE, DEFAULT_HEADS, TARGET_LENGTH,  # noqa: E402
                         Enformer)
from enformer_tf.export import export_saved_model  # noqa: E402


def divisor_for(channels: int) -> int:
  """The largest of 128, 64, ..., 1 that keeps the conv tower valid."""
  for divisor in (128, 64, 32, 16, 8, 4, 2, 1):
    if channels % divisor == 0 and divisor <= channels // 2:
      return divisor
  return 1


def _wait(result):
  for t in tf.nest.flatten(result):
    t.numpy()


def interleaved_times(first, second, runs: int, warmup: int):
  """Wall times of `first` and `second`, alternating so that load changes
  on a shared machine affect both alike."""
  for _ in range(warmup):
    _wait(first())
    _wait(second())
  times = ([], [])
  for _ in range(runs):
    for fn, out in ((first, times[0]), (second, times[1])):
      start = time.perf_counter()
      _wait(fn())
      out.append(time.perf_counter() - start)
  return times


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--channels', type=int, default=96)
  parser.add_argument('--num_transformer_layers', type=int, default=1)
  parser.add_argument('--num_heads', type=int, default=8)
  parser.add_argument('--sequence_length', type=int, default=16_384)
  parser.add_argument('--target_length', type=int, default=None,
                      help=f'default: min({TARGET_LENGTH}, bins)')
  parser.add_argument('--batch', type=int, default=1)
  parser.add_argument('--signature', default='serving_default',
                      help='serving_default, human, dna, human_dna, ...')
  parser.add_argument('--runs', type=int, default=10)
  parser.add_argument('--warmup', type=int, default=2)
  parser.add_argument('--float16', action='store_true',
                      help='export float16 outputs')
  args = parser.parse_args(argv)

  bins = args.sequence_length // BIN_SIZE
  target_length = args.target_length or min(TARGET_LENGTH, bins)
  model = Enformer(channels=args.channels,
                   num_transformer_layers=args.num_transformer_layers,
                   num_heads=args.num_heads, heads=DEFAULT_HEADS,
                   target_length=target_length,
                   sequence_length=args.sequence_length,
                   conv_tower_divisible_by=divisor_for(args.channels))
  model.build((None, args.sequence_length, 4))
  x = common.random_one_hot(args.batch, args.sequence_length)  # [B, L, 4]

  with tempfile.TemporaryDirectory() as export_dir:
    path = export_saved_model(
        model, export_dir, warmup_requests=False,
        output_dtype='float16' if args.float16 else 'float32')
    loaded = tf.saved_model.load(path)
    signature = loaded.signatures[args.signature]
    if args.signature == 'dna' or args.signature.endswith('_dna'):
      letters = np.frombuffer(b'ACGT', np.uint8)
      dna = [letters[row.argmax(-1)].tobytes() for row in x]
      feed = {'dna': tf.constant(dna)}
    else:
      feed = {'sequence': tf.constant(x)}
    forward = tf.function(lambda inputs: model(inputs, training=False))
    x_tensor = tf.constant(x)
    served, in_process = interleaved_times(
        lambda: signature(**feed), lambda: forward(x_tensor), args.runs,
        args.warmup)

  served_median = common.median(served)
  in_process_median = common.median(in_process)
  common.emit(dict(
      bench='serving', signature=args.signature, batch=args.batch,
      channels=args.channels,
      num_transformer_layers=args.num_transformer_layers,
      sequence_length=args.sequence_length, target_length=target_length,
      output_dtype='float16' if args.float16 else 'float32', runs=args.runs,
      saved_model_median_s=round(served_median, 6),
      in_process_median_s=round(in_process_median, 6),
      ratio=round(served_median / in_process_median, 4),
      peak_rss_gib=round(common.peak_rss_gib(), 3), **common.machine()))


if __name__ == '__main__':
  main()
