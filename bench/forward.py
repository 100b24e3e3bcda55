"""Inference speed and memory of the default Enformer on one sequence.

Prints one JSON line: median wall time over several runs after warm-up,
achieved GFLOP/s (taking the forward pass as 3.29 TFLOP per 196,608-bp
sequence, scaled by length and batch), the ratio of that to a `tf.matmul`
roofline measured in the same run and dtype, and peak resident memory.

  python bench/forward.py                      # float32, as in the README
  python bench/forward.py --jit_compile        # XLA
  python bench/forward.py --mixed_bfloat16     # mixed bfloat16 policy
"""
import argparse
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import enformer_tf  # noqa: E402


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--sequence_length', type=int,
                      default=enformer_tf.SEQUENCE_LENGTH)
  parser.add_argument('--batch', type=int, default=1)
  parser.add_argument('--runs', type=int, default=5)
  parser.add_argument('--warmup', type=int, default=2)
  parser.add_argument('--jit_compile', action='store_true')
  parser.add_argument('--mixed_bfloat16', action='store_true')
  parser.add_argument('--channels', type=int, default=1536,
                      help='narrower models for a quick check of the script')
  parser.add_argument('--num_transformer_layers', type=int, default=11)
  args = parser.parse_args(argv)

  compute_dtype = tf.bfloat16 if args.mixed_bfloat16 else tf.float32
  roofline = common.matmul_roofline_gflops(compute_dtype)
  rss_before_model = common.peak_rss_gib()

  if args.mixed_bfloat16:
    keras.mixed_precision.set_global_policy('mixed_bfloat16')
  model = enformer_tf.Enformer(
      channels=args.channels,
      num_transformer_layers=args.num_transformer_layers,
      sequence_length=max(args.sequence_length, enformer_tf.SEQUENCE_LENGTH))
  x = tf.constant(common.random_one_hot(args.batch, args.sequence_length))

  @tf.function(jit_compile=args.jit_compile)
  def forward(inputs):
    return model(inputs, training=False)

  times = common.time_call(lambda: forward(x), runs=args.runs,
                           warmup=args.warmup)
  seconds = common.median(times)
  tflop = (common.FORWARD_TFLOP * args.batch * args.sequence_length
           / enformer_tf.SEQUENCE_LENGTH)
  if args.channels != 1536 or args.num_transformer_layers != 11:
    tflop = None  # The 3.29 TFLOP figure is for the default model only.
  gflops = None if tflop is None else tflop * 1e3 / seconds
  common.emit(dict(
      bench='forward',
      dtype='mixed_bfloat16' if args.mixed_bfloat16 else 'float32',
      jit_compile=args.jit_compile,
      batch=args.batch,
      sequence_length=args.sequence_length,
      channels=args.channels,
      num_transformer_layers=args.num_transformer_layers,
      seconds_median=round(seconds, 3),
      seconds_all=[round(t, 3) for t in times],
      achieved_gflops=None if gflops is None else round(gflops, 1),
      matmul_roofline_gflops=round(roofline, 1),
      roofline_fraction=None if gflops is None else round(gflops / roofline,
                                                          3),
      peak_rss_gib=round(common.peak_rss_gib(), 3),
      peak_rss_gib_before_model=round(rss_before_model, 3),
      **common.machine()))


if __name__ == '__main__':
  main()
