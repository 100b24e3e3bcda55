"""Inference speed and memory of the default Enformer on one sequence.

Prints one JSON line: median wall time over several runs after warm-up,
achieved GFLOP/s (taking the forward pass as 3.29 TFLOP per 196,608-bp
sequence, scaled by length and batch), the `tf.matmul` rates measured in the
same run (a large square product and the model's own shapes, see
`common.matmul_rooflines`), the fraction of the square product's rate
reached (that product timed between the model's runs, median against
median: `roofline_interleaved_gflops`), and
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
  python bench/forward.py --compare_bfloat16 --model enformer.keras \
      --agreement_fasta genome.fa --agreement_chrom chr8
      # the bfloat16 agreement on trained (e.g. converted official) weights,
      # over windows of real sequence (random DNA gives a trained model's
      # flat background, where R measures rounding noise)
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


def sequence_agreement(args, forward32, forward16) -> dict:
  """Per-track Pearson R of bfloat16 against float32 predictions over
  `--agreement_windows` windows tiled along a chromosome of the FASTA."""
  import pyfaidx
  from enformer_tf.data.encoding import one_hot_encode
  fasta = pyfaidx.Fasta(args.agreement_fasta)
  chrom = args.agreement_chrom or next(iter(fasta.keys()))
  length = args.sequence_length
  starts = range(0, len(fasta[chrom]) - length + 1, length)
  if len(starts) < 1:
    raise SystemExit(f'{chrom} is shorter than one {length}-bp window')
  starts = list(starts)[:args.agreement_windows]
  outputs32, outputs16 = {}, {}
  for start in starts:
    x = one_hot_encode(str(fasta[chrom][start:start + length]))[None]
    for forward, outputs in ((forward32, outputs32), (forward16, outputs16)):
      for head, value in forward(tf.constant(x)).items():
        outputs.setdefault(head, []).append(value.numpy())
  result = dict(chrom=chrom, windows=len(starts), per_track_pearson={})
  for head in outputs32:
    r = pearson_per_track(np.concatenate(outputs16[head]),
                          np.concatenate(outputs32[head]))
    result['per_track_pearson'][head] = [round(float(v), 5) for v in r]
    result.setdefault('min_per_track_pearson', {})[head] = round(
        float(r.min()), 5)
  return result


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
  parser.add_argument('--agreement_fasta', metavar='FASTA',
                      help='--compare_bfloat16: also the per-track R over '
                      'tiled windows of this genome')
  parser.add_argument('--agreement_chrom', default=None,
                      help='its chromosome to tile (default: the first)')
  parser.add_argument('--agreement_windows', type=int, default=32)
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

  # The square product of the model's dtype, timed between model runs: its
  # median is the roofline the fractions use (`roofline_interleaved`).
  square, square_gflop = common.square_matmul(
      tf.bfloat16 if args.mixed_bfloat16 else tf.float32)
  if args.compare_conv:
    model_conv, forward_conv = build(args.mixed_bfloat16, 'conv')
    model_mm, forward_mm = build(args.mixed_bfloat16, 'auto')
    for model in (model_conv, model_mm):
      model.build(x.shape)
    model_mm.set_weights(model_conv.get_weights())
    times_conv, times_mm, times_square = common.interleaved_times(
        lambda: forward_conv(x), lambda: forward_mm(x), args.runs,
        args.warmup, square)
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
    square16, _ = common.square_matmul(tf.bfloat16)
    times32, times16, times_square, times_square16 = (
        common.interleaved_times(lambda: forward32(x), lambda: forward16(x),
                                 args.runs, args.warmup, square, square16))
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
    if args.agreement_fasta:
      record['sequence_agreement'] = sequence_agreement(
          args, forward32, forward16)
  else:
    model, forward = build(args.mixed_bfloat16)
    times, times_square = common.interleaved_times(
        lambda: forward(x), square, args.runs, args.warmup)
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
  # Fractions of the square product's rate timed between the model runs
  # (median against median: same clock, same load).
  roofline = square_gflop / common.median(times_square)
  record['roofline_interleaved_gflops'] = round(roofline, 1)
  if args.compare_conv:
    record['conv'].update(rates(s_conv, roofline))
    record['matmul'].update(rates(s_mm, roofline))
  elif args.compare_bfloat16:
    roofline16 = square_gflop / common.median(times_square16)
    record['roofline_interleaved_gflops_bfloat16'] = round(roofline16, 1)
    record['float32'].update(rates(s32, roofline))
    record['mixed_bfloat16'].update(rates(s16, roofline16))
  else:
    record.update(rates(common.median(times), roofline))
  record.update(load_average=round(os.getloadavg()[0], 2),
                **common.machine())
  common.emit(record)


if __name__ == '__main__':
  main()
