"""Peak memory of a fine-tuning step: frozen trunk vs everything trained.

  python bench/finetune_memory.py [--length 196608] [--channels 384]
      [--layers 4] [--batch 1] [--recompute]

Builds an Enformer (random weights; memory does not depend on their values),
prepares it with `train.prepare_finetune(train=...)` and runs two compiled
train steps (Adam on `model.trainable_variables`, Poisson loss on a new
head). Each preset runs in its own child process, so each has its own peak
resident memory (ru_maxrss); they run side by side, alternating, `--repeats`
times each. One JSON line: per preset the peak RSS after building (`build`)
and after the steps (`step`) in GiB, the step's extra memory (`step -
build`), the step time, and `ratio` = frozen extra / full extra.

With the trunk frozen the step differentiates the loss with respect to the
head only, so the compiled step keeps neither the trunk's weight gradients
nor its activations for the backward pass.
"""
import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

PRESETS = ('heads', 'last_k_blocks', 'all')


def _child(args) -> dict:
  import numpy as np
  import tensorflow as tf
  import tf_keras as keras
  import common
  from enformer_tf import Enformer
  from enformer_tf.train import finetune

  keras.utils.set_random_seed(0)
  source = Enformer(channels=args.channels,
                    num_transformer_layers=args.layers,
                    num_heads=8, heads={"human": 8},
                    conv_tower_divisible_by=min(128, args.channels // 8),
                    sequence_length=args.length,
                    target_length=args.length // 128 * 896 // 1536,  # The paper's crop.
                    recompute_grad=args.recompute)
  source.build(tf.TensorShape([None, args.length, 4]))
  model, _ = finetune.prepare_finetune(
      source, heads={'atac': 16}, keep_source_heads=False, train=args.child,
      last_k=1)
  del source
  optimizer = keras.optimizers.Adam(1e-4, jit_compile=False)
  variables = model.trainable_variables
  bins = model.target_length

  @tf.function
  def step(x, y):
    with tf.GradientTape() as tape:
      prediction = model.predict_head(x, 'atac', training=True)
      loss = tf.reduce_mean(prediction - y * tf.math.log(prediction + 1e-6))
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  rng = np.random.RandomState(0)
  x = tf.one_hot(rng.randint(0, 4, (args.batch, args.length)), 4)
  y = tf.constant(rng.gamma(1.0, 1.0, (args.batch, bins, 16)), tf.float32)
  build = common.peak_rss_gib()
  started = time.time()
  step(x, y).numpy()  # Traces and runs.
  first = time.time() - started
  started = time.time()
  step(x, y).numpy()
  return dict(build=round(build, 3), step=round(common.peak_rss_gib(), 3),
              extra=round(common.peak_rss_gib() - build, 3),
              first_step_s=round(first, 2),
              step_s=round(time.time() - started, 2),
              trainable=finetune.trainable_counts(model)['trainable'])


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--length', type=int, default=196_608)
  parser.add_argument('--channels', type=int, default=384)
  parser.add_argument('--layers', type=int, default=4)
  parser.add_argument('--batch', type=int, default=1)
  parser.add_argument('--repeats', type=int, default=1)
  parser.add_argument('--presets', default='heads,all')
  parser.add_argument('--recompute', action='store_true')
  parser.add_argument('--child', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args.child:
    print(json.dumps(_child(args)))
    return 0
  presets = args.presets.split(',')
  runs = {p: [] for p in presets}
  for _ in range(args.repeats):
    for preset in presets:  # Alternating: side by side.
      command = [sys.executable, os.path.abspath(__file__), '--child', preset,
                 '--length', str(args.length), '--channels',
                 str(args.channels), '--layers', str(args.layers),
                 '--batch', str(args.batch)] + (
                     ['--recompute'] if args.recompute else [])
      output = subprocess.run(command, check=True, capture_output=True,
                              text=True).stdout
      runs[preset].append(json.loads(output.strip().splitlines()[-1]))
  import common
  record = dict(bench='finetune_memory', length=args.length,
                channels=args.channels, layers=args.layers, batch=args.batch,
                recompute_grad=args.recompute, runs=runs)
  if 'heads' in runs and 'all' in runs:
    frozen = min(r['extra'] for r in runs['heads'])
    full = min(r['extra'] for r in runs['all'])
    record['ratio'] = round(frozen / full, 3) if full else None
  record.update(common.machine())
  print(json.dumps(record))
  return 0


if __name__ == '__main__':
  sys.exit(main())
