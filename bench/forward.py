"""Inference speed and memory of the default Enformer on one sequence.

Prints one JSON line: median wall time over several runs after warm-up,
achieved GFLOP/s (taking the forward pass as 3.29 TFLOP per 196,608-bp
sequence, scaled by length and batch), the `tf.matmul` rates measured in the
same run (a large square product and the model's own shapes, see
`common.matmul_rooflines`), the fraction of the square roofline reached, and
peak resident memory.

  python bench/forward.py                      # float32, as in the README
  python bench/forward.py --jit_compile        # XLA
  python bench/forward.py --mixed_bfloat16     # Enformer(mixed_bfloat16=True)
  python bench/forward.py --compare_bfloat16   # float32 and bfloat16 models
      # side by side (runs interleaved): speed-up and per-track Pearson R
  python bench/forward.py --inference_chunk_length 0  # whole length at once
  python bench/forward.py --compare_conv       # conv blocks as TensorFlow
      # convolutions vs as matrix products (`conv_implementation`), same
      # weights, interleaved: speed-up and max abs difference
  python bench/forward.py --compare_bfloat16 --model enformer.keras
      # the bfloat16 agreement on trained (e.g. converted official) weights
"""
import argparse
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from serving import divisor_for  # noqa: E402  (bench/serving.py)

import enformer_tf  # noqa: E402


def pearson_per_track(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  a = a.reshape(-1, a.shape[-1]).astype(np.float64)
  b = b.reshape(-1, b.shape[-1]).astype(np.float64)
  a, b = a - a.mean(0), b - b.mean(0)
  return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--sequence_length', type=int, default=None,
                      help="default: 196,608, or the --model's own length")
  parser.add_argument('--model', metavar='PATH',
                      help='trained weights instead of random ones: a .keras '
                      'file (e.g. from enformer-convert), a training '
                      'directory or a checkpoint prefix')
  parser.add_argument('--batch', type=int, default=1)
  parser.add_argument('--runs', type=int, default=5)
  parser.add_argument('--warmup', type=int, default=2)
  parser.add_argument('--jit_compile', action='store_true')
  parser.add_argument('--mixed_bfloat16', action='store_true')
  parser.add_argument('--compare_bfloat16', action='store_true')
  parser.add_argument('--compare_conv', action='store_true')
  parser.add_argument('--conv_implementation', default='auto',
                      choices=('auto', 'conv', 'matmul'))
  parser.add_argument('--channels', type=int, default=1536,
                      help='narrower models for a quick check of the script')
  parser.add_argument('--num_transformer_layers', type=int, default=11)
  parser.add_argument('--inference_chunk_length', type=int, default=49_152,
                      help='Enformer(inference_chunk_length=...); 0 runs the '
                      'whole length at once (the peak-memory comparison)')
  args = parser.parse_args(argv)

  bf16 = args.mixed_bfloat16 or args.compare_bfloat16
  loaded = None
  if args.model:
    from enformer_tf.export import in_mixed_bfloat16
    from enformer_tf.io import load_model
    loaded = load_model(args.model)
    args.channels = loaded.channels
    args.num_transformer_layers = loaded.num_transformer_layers
    args.sequence_length = args.sequence_length or loaded.sequence_length
    args.inference_chunk_length = loaded.inference_chunk_length or 0
  args.sequence_length = args.sequence_length or enformer_tf.SEQUENCE_LENGTH

  def build(mixed, conv_implementation=args.conv_implementation):
    if loaded is not None:
      model = in_mixed_bfloat16(loaded) if mixed else loaded
      if conv_implementation != loaded.conv_implementation:
        model = enformer_tf.Enformer.from_config(dict(
            model.get_config(), conv_implementation=conv_implementation))
        model.build((None, loaded.sequence_length, 4))
        model.set_weights(loaded.get_weights())
    else:
      model = enformer_tf.Enformer(
          channels=args.channels,
          num_transformer_layers=args.num_transformer_layers,
          sequence_length=max(args.sequence_length,
                              enformer_tf.SEQUENCE_LENGTH),
          target_length=min(enformer_tf.TARGET_LENGTH,
                            args.sequence_length // enformer_tf.BIN_SIZE),
          conv_tower_divisible_by=divisor_for(args.channels),
          mixed_bfloat16=mixed,
          inference_chunk_length=args.inference_chunk_length or None,
          conv_implementation=conv_implementation)

    @tf.function(jit_compile=args.jit_compile)
    def forward(inputs):
      return model(inputs, training=False)
    return model, forward

  x = tf.constant(common.random_one_hot(args.batch, args.sequence_length))
  tflop = (common.FORWARD_TFLOP * args.batch * args.sequence_length
           / enformer_tf.SEQUENCE_LENGTH)
  if args.channels != 1536 or args.num_transformer_layers != 11:
    tflop = None  # The 3.29 TFLOP figure is for the default model only.

  record = dict(
      bench='forward', jit_compile=args.jit_compile, batch=args.batch,
      sequence_length=args.sequence_length, channels=args.channels,
      model=args.model,
      inference_chunk_length=args.inference_chunk_length or None,
      num_transformer_layers=args.num_transformer_layers,
      conv_implementation=args.conv_implementation)

  def rates(seconds, roofline):
    gflops = None if tflop is None else tflop * 1e3 / seconds
    return dict(
        seconds_median=round(seconds, 3),
        achieved_gflops=None if gflops is None else round(gflops, 1),
        roofline_fraction=(None if gflops is None
                           else round(gflops / roofline, 3)))

  if args.compare_conv:
    model_conv, forward_conv = build(args.mixed_bfloat16, 'conv')
    model_mm, forward_mm = build(args.mixed_bfloat16, 'matmul')
    for model in (model_conv, model_mm):
      model.build(x.shape)
    model_mm.set_weights(model_conv.get_weights())
    times_conv, times_mm = common.interleaved_times(
        lambda: forward_conv(x), lambda: forward_mm(x), runs=args.runs,
        warmup=args.warmup)
    out_conv, out_mm = forward_conv(x), forward_mm(x)
    s_conv, s_mm = common.median(times_conv), common.median(times_mm)
    record.update(
        dtype='mixed_bfloat16' if args.mixed_bfloat16 else 'float32',
        conv=dict(seconds_all=[round(t, 3) for t in times_conv]),
        matmul=dict(seconds_all=[round(t, 3) for t in times_mm]),
        matmul_speedup=round(s_conv / s_mm, 3),
        max_abs_diff={head: float(np.abs(out_conv[head].numpy()
                                         - out_mm[head].numpy()).max())
                      for head in out_conv},
        max_relative_diff={head: float(
            (np.abs(out_conv[head].numpy() - out_mm[head].numpy())
             / np.abs(out_conv[head].numpy()).max()).max())
                           for head in out_conv})
  elif args.compare_bfloat16:
    model32, forward32 = build(False)
    model16, forward16 = build(True)
    model16.build(x.shape)
    model32.build(x.shape)
    model16.set_weights(model32.get_weights())
    times32, times16 = common.interleaved_times(
        lambda: forward32(x), lambda: forward16(x), runs=args.runs,
        warmup=args.warmup)
    out32, out16 = forward32(x), forward16(x)
    pearson = {head: float(pearson_per_track(out16[head].numpy(),
                                             out32[head].numpy()).min())
               for head in out32}
    s32, s16 = common.median(times32), common.median(times16)
    record.update(
        dtype='float32_vs_mixed_bfloat16',
        float32=dict(seconds_all=[round(t, 3) for t in times32]),
        mixed_bfloat16=dict(seconds_all=[round(t, 3) for t in times16]),
        bfloat16_speedup=round(s32 / s16, 3),
        min_per_track_pearson=pearson)
  else:
    model, forward = build(args.mixed_bfloat16)
    times = common.time_call(lambda: forward(x), runs=args.runs,
                             warmup=args.warmup)
    record.update(
        dtype='mixed_bfloat16' if args.mixed_bfloat16 else 'float32',
        seconds_all=[round(t, 3) for t in times])
  # Peak memory of the model alone: the matmul rooflines run afterwards.
  record['peak_rss_gib'] = round(common.peak_rss_gib(), 3)
  rooflines = common.matmul_rooflines(tf.float32)
  record.update(matmul_gflops_float32=rooflines,
                matmul_roofline_gflops=rooflines['square_4096'])
  if bf16:
    record['matmul_gflops_bfloat16'] = common.matmul_rooflines(tf.bfloat16)
  bf16_roofline = record.get('matmul_gflops_bfloat16', {}).get('square_4096')
  roofline = (bf16_roofline if args.mixed_bfloat16
              else rooflines['square_4096'])
  if args.compare_conv:
    record['conv'].update(rates(s_conv, roofline))
    record['matmul'].update(rates(s_mm, roofline))
  elif args.compare_bfloat16:
    record['float32'].update(rates(s32, rooflines['square_4096']))
    record['mixed_bfloat16'].update(rates(s16, bf16_roofline))
  else:
    record.update(rates(common.median(times), roofline))
  record.update(load_average=round(os.getloadavg()[0], 2),
                **common.machine())
  common.emit(record)


if __name__ == '__main__':
  main()
