"""How long an Enformer takes to build: from shapes (what the package does)
versus the symbolic functional build it replaced, interleaved in one run.

`Enformer.build` builds the trunk's nested Sequentials layer by layer from
shapes (`enformer_tf.layers.sublayers.build_by_shape`). The build it replaced
called the trunk on a `keras.Input`, and every Sequential made its own
functional graph of its layers on the way, so nested Sequentials traced the
innermost layers again at each level. Every model construction pays this:
`enformer-train`, `enformer-predict`, loading a `.keras` file, each test.

    python bench/build.py                        # the tests' tiny model
    python bench/build.py --channels 96 --num_transformer_layers 2 \
        --sequence_length 16384                  # the small CPU recipe

Prints one JSON line: median seconds of each build, their ratio, and
whether both gave the same weight names and the same outputs.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

import common  # noqa: E402  (bench/common.py, beside this file)
from enformer_tf import BIN_SIZE, Enformer  # noqa: E402
from enformer_tf.layers.sublayers import build_sublayer  # noqa: E402


def symbolic_build(model: Enformer, length: int) -> None:
  """The replaced build: Sequentials in Keras's default (functional) mode,
  the trunk called on a symbolic input, then the heads."""
  stack = [model.trunk]
  for layer in stack:
    if isinstance(layer, keras.Sequential):
      layer._use_legacy_deferred_behavior = False  # pylint: disable=protected-access
      stack += list(layer.layers)
  model.trunk(keras.Input(batch_shape=(None, length, 4),
                          dtype=model.compute_dtype))
  embedding_shape = model.trunk.compute_output_shape((None, length, 4))
  for head in model.head_layers.values():
    build_sublayer(head, embedding_shape)
  model.built = True


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--channels', type=int, default=48)
  parser.add_argument('--num_transformer_layers', type=int, default=1)
  parser.add_argument('--num_heads', type=int, default=2)
  parser.add_argument('--conv_tower_divisible_by', type=int, default=8)
  parser.add_argument('--sequence_length', type=int, default=1024)
  parser.add_argument('--runs', type=int, default=5)
  args = parser.parse_args(argv)
  config = dict(channels=args.channels,
                num_transformer_layers=args.num_transformer_layers,
                num_heads=args.num_heads, heads={'human': 4, 'mouse': 3},
                conv_tower_divisible_by=args.conv_tower_divisible_by,
                sequence_length=args.sequence_length,
                target_length=args.sequence_length // BIN_SIZE // 2)

  def make():
    keras.backend.clear_session()  # The same layer names in every model.
    keras.utils.set_random_seed(0)
    return Enformer(**config)

  built = {}

  def by_shape():
    built['shape'] = model = make()
    model.build((None, args.sequence_length, 4))

  def symbolic():
    built['symbolic'] = model = make()
    symbolic_build(model, args.sequence_length)

  shape_times, symbolic_times = common.interleaved_times(
      by_shape, symbolic, runs=args.runs, warmup=1)
  x = common.random_one_hot(1, args.sequence_length)
  same_names = ([w.name for w in built['shape'].weights]
                == [w.name for w in built['symbolic'].weights])
  built['symbolic'].set_weights(built['shape'].get_weights())
  outputs = [built[k](x, training=False)['human'].numpy()
             for k in ('shape', 'symbolic')]
  common.emit(dict(
      benchmark='build', config={k: v for k, v in config.items()
                                 if k != 'heads'},
      runs=args.runs, shape_build_seconds=round(
          common.median(shape_times), 3),
      symbolic_build_seconds=round(common.median(symbolic_times), 3),
      speedup=round(common.median(symbolic_times)
                    / common.median(shape_times), 2),
      same_weight_names=same_names,
      max_output_difference=float(np.abs(outputs[0] - outputs[1]).max()),
      machine=common.machine()))


if __name__ == '__main__':
  main()
