"""Where the time goes: an op-level profile of inference or a training pass.

Runs the model (`--mode forward`: inference; `--mode train`: forward and
backward of one head's Poisson loss with `training=True`, the work of one
organism update) under the TensorFlow profiler, reads the trace (XPlane) and
sums the TensorFlow ops' own time by op type, by class (matrix products,
element-wise, data movement, ...) and by the model stage of their name
scope (stem, conv-tower block i, transformer, ...). Ops run on two threads,
so shares are of the summed op time, not of the wall time (also reported).

  python bench/profile.py --mode forward --sequence_length 49152
  python bench/profile.py --mode train --sequence_length 49152
  python bench/profile.py --mode forward --conv_implementation conv  # before
  python bench/profile.py --mode forward --mixed_bfloat16

Prints one JSON line (`--top` op types and the classes and stages in full).
"""
import argparse
import collections
import glob
import os
import re
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from serving import divisor_for  # noqa: E402  (bench/serving.py)

import enformer_tf  # noqa: E402
from enformer_tf.train import losses  # noqa: E402

# Op types by what bounds them: matrix products run at the matmul rate,
# the rest at memory bandwidth.
CLASSES = (
    ('matrix products', r'MatMul|Conv|Einsum|BatchMatMul'),
    ('data movement', r'Transpose|Pad|Slice|Concat|Reshape|Gather|Tile|'
                      r'Identity|Cast|Pack|Unpack|Split|Reverse|Fill|Zeros|'
                      r'Copy|Squeeze|ExpandDims|Select|Where|Broadcast'),
    ('reductions', r'Sum|Mean|Max|Min|Prod|Softmax|FusedBatchNorm|Norm|'
                   r'ArgMax|Moments'),
    ('element-wise', r'.'),
)
STAGES = (r'stem', r'conv_tower_block_\d+', r'transformer', r'final_pointwise',
          r'head_\w+', r'target_input')


def op_class(op_type: str) -> str:
  for name, pattern in CLASSES:
    if re.search(pattern, op_type):
      return name
  return 'element-wise'


def stage(op_name: str) -> str:
  for pattern in STAGES:
    found = re.search(pattern, op_name)
    if found:
      name = found.group(0)
      return 'transformer' if name.startswith('transformer') else name
  return 'other'


def op_events(logdir: str):
  """(op name, op type, seconds) of every TensorFlow op in the trace."""
  path = sorted(glob.glob(os.path.join(logdir, 'plugins', 'profile', '*',
                                       '*.xplane.pb')))[-1]
  space = xplane_pb2.XSpace()
  with open(path, 'rb') as f:
    space.ParseFromString(f.read())
  for plane in space.planes:
    for line in plane.lines:
      if not line.name.startswith('tf_Compute'):
        continue
      for event in line.events:
        metadata = plane.event_metadata[event.metadata_id]
        name, _, op_type = metadata.name.rpartition(':')
        if name and op_type and metadata.display_name:
          yield name, op_type, event.duration_ps * 1e-12


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--mode', choices=('forward', 'train'),
                      default='forward')
  parser.add_argument('--sequence_length', type=int, default=49_152)
  parser.add_argument('--channels', type=int, default=1536)
  parser.add_argument('--num_transformer_layers', type=int, default=11)
  parser.add_argument('--conv_implementation', default='auto',
                      choices=('auto', 'conv', 'matmul'))
  parser.add_argument('--mixed_bfloat16', action='store_true')
  parser.add_argument('--jit_compile', action='store_true')
  parser.add_argument('--runs', type=int, default=2, help='profiled runs')
  parser.add_argument('--top', type=int, default=15)
  args = parser.parse_args(argv)

  model = enformer_tf.Enformer(
      channels=args.channels,
      num_transformer_layers=args.num_transformer_layers,
      sequence_length=args.sequence_length,
      target_length=min(enformer_tf.TARGET_LENGTH,
                        args.sequence_length // enformer_tf.BIN_SIZE),
      conv_tower_divisible_by=divisor_for(args.channels),
      mixed_bfloat16=args.mixed_bfloat16,
      conv_implementation=args.conv_implementation)
  x = tf.constant(common.random_one_hot(1, args.sequence_length))
  model.build(x.shape)
  head = 'human'
  target = tf.random.stateless_uniform(
      (1, model.target_length or args.sequence_length // 128,
       model.heads[head]), (0, 1))

  if args.mode == 'forward':
    @tf.function(jit_compile=args.jit_compile)
    def run(x):
      return model(x, training=False)
  else:
    @tf.function(jit_compile=args.jit_compile)
    def run(x):
      with tf.GradientTape() as tape:
        prediction = model(x, training=True)[head]
        loss = tf.reduce_mean(losses.poisson_nll(target, prediction))
      return tape.gradient(loss, model.trainable_variables)

  common._block(run(x))  # Trace (and compile).
  with tempfile.TemporaryDirectory() as logdir:
    tf.profiler.experimental.start(logdir)
    start = time.perf_counter()
    for _ in range(args.runs):
      common._block(run(x))
    wall = (time.perf_counter() - start) / args.runs
    tf.profiler.experimental.stop()
    events = list(op_events(logdir))

  by_type, by_class, by_stage = (collections.Counter() for _ in range(3))
  for name, op_type, seconds in events:
    by_type[op_type] += seconds / args.runs
    by_class[op_class(op_type)] += seconds / args.runs
    by_stage[stage(name)] += seconds / args.runs
  total = sum(by_type.values())

  def shares(counter, top=None):
    return {key: round(value / total, 3)
            for key, value in counter.most_common(top)}

  common.emit(dict(
      bench='profile', mode=args.mode, sequence_length=args.sequence_length,
      channels=args.channels,
      num_transformer_layers=args.num_transformer_layers,
      conv_implementation=args.conv_implementation,
      mixed_bfloat16=args.mixed_bfloat16, jit_compile=args.jit_compile,
      wall_seconds=round(wall, 3), op_seconds=round(total, 3),
      op_types=shares(by_type, args.top), op_classes=shares(by_class),
      stages=shares(by_stage), load_average=round(os.getloadavg()[0], 2),
      **common.machine()))


if __name__ == '__main__':
  main()
