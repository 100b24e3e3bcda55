"""The conv tower's convolutions, three ways, against the matmul roofline.

For the width-5 and width-1 convolutions of the default model (768 -> 768
channels, the first conv-tower block's shape; rows at 1/4 of its full
length, where the rate no longer depends on rows), in float32 and bfloat16,
forward and forward + backward (input and kernel gradients):

- `conv`: TensorFlow's `tf.nn.conv1d` (oneDNN's convolution);
- `matmul`: the package's `layers.convolution.conv1d` with every pass as W
  matrix products of shifted views (what `Conv1D(implementation='matmul')`
  runs);
- `conv_xla`: `tf.nn.conv1d` under `tf.function(jit_compile=True)`.

Every form's output is checked against `conv` (max abs difference in the
record). The runs of all forms and of the 4096^3 `tf.matmul` roofline are
interleaved, best of `--runs`. Prints one JSON line: per dtype, width and
pass, GFLOP/s and the fraction of that dtype's roofline.

  python bench/kernels.py
  python bench/kernels.py --threads 1 --rows 8192   # quick
"""
import argparse
import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

from enformer_tf.layers.convolution import conv1d  # noqa: E402

FORMS = ('conv', 'matmul', 'conv_xla')


def _conv(x, kernel):
  return tf.nn.conv1d(x, kernel, 1, 'SAME')


def _products(x, kernel):
  return conv1d(x, kernel, 'matmul', 'matmul')


def _passes(fn, kernel):
  """(forward, forward + backward) of `fn(x, kernel)` as functions of x."""
  def forward(x):
    return fn(x, kernel)

  def backward(x):
    with tf.GradientTape() as tape:
      tape.watch([x, kernel])
      loss = tf.reduce_sum(tf.cast(fn(x, kernel), tf.float32) ** 2)
    return tape.gradient(loss, [x, kernel])
  return forward, backward


def _functions(kernel):
  """form -> (forward fn, forward + backward fn) for `kernel`."""
  plain = {'conv': _conv, 'matmul': _products, 'conv_xla': _conv}
  functions = {}
  for form, fn in plain.items():
    forward, backward = _passes(fn, kernel)
    jit = form.endswith('_xla')
    functions[form] = (tf.function(forward, jit_compile=jit),
                       tf.function(backward, jit_compile=jit))
  return functions


def measure(dtype, width: int, rows: int, channels: int, runs: int):
  x = tf.cast(tf.random.stateless_normal((1, rows, channels), (0, 1)), dtype)
  kernel = tf.cast(tf.random.stateless_normal(
      (width, channels, channels), (0, 2)) * channels**-0.5, dtype)
  square = tf.cast(tf.random.stateless_normal((4096, 4096), (0, 3)), dtype)
  roofline_fn = tf.function(lambda a: tf.matmul(a, a))
  functions = _functions(kernel)
  reference = tf.cast(functions['conv'][0](x), tf.float32)
  max_diff = {form: float(tf.reduce_max(tf.abs(
      tf.cast(fns[0](x), tf.float32) - reference)))
              for form, fns in functions.items()}
  calls = {'roofline': lambda: roofline_fn(square)}
  for form, (forward, backward) in functions.items():
    calls[f'{form}/forward'] = lambda f=forward: f(x)
    calls[f'{form}/backward'] = lambda f=backward: f(x)
  best = {name: float('inf') for name in calls}
  for name, call in calls.items():  # Warm-up: traces and compiles.
    common._block(call())
  for _ in range(runs):
    for name, call in calls.items():
      start = time.perf_counter()
      common._block(call())
      best[name] = min(best[name], time.perf_counter() - start)
  roofline = 2 * 4096**3 / best['roofline'] / 1e9
  forward_flop = 2 * rows * channels * channels * width
  result = dict(roofline_gflops=round(roofline, 1))
  for name, seconds in best.items():
    if name == 'roofline':
      continue
    form, kind = name.split('/')
    # Backward: the forward again plus two products of its size.
    gflops = forward_flop * (3 if kind == 'backward' else 1) / seconds / 1e9
    result[name] = dict(gflops=round(gflops, 1),
                        roofline_fraction=round(gflops / roofline, 3))
  result['max_abs_diff_vs_conv'] = {k: round(v, 6) for k, v in
                                    max_diff.items()}
  return result


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--rows', type=int, default=24_576)
  parser.add_argument('--channels', type=int, default=768)
  parser.add_argument('--widths', type=int, nargs='+', default=[5, 1])
  parser.add_argument('--dtypes', nargs='+', default=['float32', 'bfloat16'])
  parser.add_argument('--runs', type=int, default=3)
  parser.add_argument('--threads', type=int, default=0,
                      help='intra-op threads (0: TensorFlow decides)')
  args = parser.parse_args(argv)
  if args.threads:
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
  record = dict(bench='kernels', rows=args.rows, channels=args.channels,
                threads=args.threads or None, results={})
  for dtype in args.dtypes:
    for width in args.widths:
      record['results'][f'{dtype}/width{width}'] = measure(
          tf.as_dtype(dtype), width, args.rows, args.channels, args.runs)
  record.update(load_average=round(os.getloadavg()[0], 2), **common.machine())
  common.emit(record)


if __name__ == '__main__':
  main()
