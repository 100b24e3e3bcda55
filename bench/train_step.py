"""One full-size training step with and without `recompute_grad`: time, memory.

A step is the repository's own global training step,
`Trainer.train_step_function()` (the `tf.function` `Trainer.train` runs):
one human and one mouse update, each a forward and backward pass of the
whole model with that organism's Poisson loss, then Adam with global-norm
clipping. The data are the repository's random examples
(`config.random_datasets`, both heads' full track counts) through the
trainer's own input stream (`Trainer.distributed_iterators`: `±3 bp`
shifts, reverse complement, batched to `--batch`).

Each variant runs in its own subprocess (re-invoking this script with
`--_child recompute|plain`), recompute first, so that one variant's memory
does not count against the other and a variant that needs more memory than
the machine has cannot take the parent down: the child polls its resident
memory every 0.2 s and, above `--memory_limit_gib`, reports `exceeded_gib`
and exits at once (exit status 3) instead of swapping. A child reports the
wall time of `--steps` steps after `--warmup_steps` (the first traces the
graph) and its peak resident memory (`ru_maxrss`).

Prints one JSON line: per variant `step_seconds` (median), the achieved
`gflops` (a step is one forward and backward pass per organism, counted as
2 x 3 x 3.29 TFLOP at full size, scaled by length and batch), `peak_rss_gib`
(for a variant stopped by the limit, its RSS when stopped: a lower bound),
`exceeded`; and, when both finished, `memory_ratio` (recompute peak / plain
peak) and `time_ratio` (recompute seconds / plain seconds). Target: the
recompute variant's peak at most 16 GiB.

  python bench/train_step.py                   # full size, batch 1
  python bench/train_step.py --variants plain --conv_implementation conv
      # the plain step with TensorFlow's convolutions (before issue 20)
  python bench/train_step.py --variants plain --mixed_bfloat16
  python bench/train_step.py --channels 48 --num_transformer_layers 1 \
      --sequence_length 4096 --steps 1         # quick check
"""
import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
# TensorFlow is imported only where it is used (`run_child`, and the parent
# after its children have finished): the parent then stays small while a
# child uses the memory.

VARIANTS = ('recompute', 'plain')  # Run in this order.
EXIT_MEMORY_EXCEEDED = 3
RECOMPUTE_TARGET_GIB = 16.0


def vm_rss_gib() -> float:
  """This process's resident memory now (`VmRSS`, kB, in /proc)."""
  with open('/proc/self/status', encoding='ascii') as f:
    for line in f:
      if line.startswith('VmRSS:'):
        return int(line.split()[1]) / 2**20
  return 0.0


def start_memory_watchdog(limit_gib: float, variant: str,
                          interval_s: float = 0.2) -> None:
  """Ends the process with a JSON report once its RSS exceeds `limit_gib`.

  `os._exit` rather than an exception: the main thread is inside a
  TensorFlow op and would go on allocating before it saw one. The report is
  written with `os.write` so that no Python lock held by the main thread can
  block it.
  """
  def poll():
    while True:
      rss = vm_rss_gib()
      if rss > limit_gib:
        report = dict(variant=variant, exceeded_gib=round(rss, 3),
                      memory_limit_gib=limit_gib)
        os.write(1, (json.dumps(report, sort_keys=True) + '\n').encode())
        os._exit(EXIT_MEMORY_EXCEEDED)
      time.sleep(interval_s)

  threading.Thread(target=poll, name='memory_watchdog', daemon=True).start()


def run_child(args) -> None:
  """Times the repository's train step for one variant; prints one JSON line."""
  start_memory_watchdog(args.memory_limit_gib, args._child)
  import common  # pylint: disable=g-import-not-at-top
  import enformer_tf  # pylint: disable=g-import-not-at-top
  from enformer_tf.train import Trainer  # pylint: disable=g-import-not-at-top
  from enformer_tf.train import config  # pylint: disable=g-import-not-at-top
  from serving import divisor_for  # pylint: disable=g-import-not-at-top

  heads = enformer_tf.DEFAULT_HEADS
  target_length = min(enformer_tf.TARGET_LENGTH,
                      args.sequence_length // enformer_tf.BIN_SIZE)
  model = functools.partial(
      enformer_tf.Enformer, channels=args.channels,
      num_transformer_layers=args.num_transformer_layers,
      num_heads=args.num_heads, heads=heads, target_length=target_length,
      sequence_length=args.sequence_length,
      conv_tower_divisible_by=divisor_for(args.channels),
      recompute_grad=args._child == 'recompute',
      mixed_bfloat16=args.mixed_bfloat16,
      conv_implementation=args.conv_implementation)
  data = config.random_datasets(heads, num_examples=args.batch,
                                sequence_length=args.sequence_length,
                                target_length=target_length)
  with tempfile.TemporaryDirectory() as model_dir:
    # The paper's recipe (Adam, clipnorm 0.2, warmup schedule, augmentation)
    # is the Trainer's default; only the batch and the quiet options differ.
    trainer = Trainer(model, data, model_dir, batch_size=args.batch,
                      strategy='default', progress=False,
                      handle_signals=False)
    # What `Trainer.train` feeds its step function.
    iterators = trainer.distributed_iterators()
    step = trainer.train_step_function()
    times = common.time_call(lambda: step(iterators), runs=args.steps,
                             warmup=args.warmup_steps)
  common.emit(dict(
      variant=args._child, heads=trainer.heads,
      step_seconds_all=[round(t, 3) for t in times],
      step_seconds=round(common.median(times), 3),
      peak_rss_gib=round(common.peak_rss_gib(), 3)))


def run_variant(variant: str, argv):
  """Runs one child; returns its result (or what went wrong) as a dict."""
  command = [sys.executable, os.path.abspath(__file__), *argv,
             '--_child', variant]
  process = subprocess.run(command, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, check=False)
  lines = [line for line in process.stdout.splitlines()
           if line.startswith('{')]
  result = json.loads(lines[-1]) if lines else {}
  result.pop('variant', None)
  if process.returncode == EXIT_MEMORY_EXCEEDED and 'exceeded_gib' in result:
    result.update(exceeded=True, step_seconds=None,
                  peak_rss_gib=result['exceeded_gib'])
    return result
  result['exceeded'] = False
  if process.returncode != 0 or 'step_seconds' not in result:
    # Killed (e.g. by the kernel's OOM killer) or failed: keep the cause.
    tail = process.stderr.strip().splitlines()[-5:]
    result.update(step_seconds=None, returncode=process.returncode,
                  error=' | '.join(tail) or 'no output')
  return result


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--steps', type=int, default=2,
                      help='timed steps per variant')
  parser.add_argument('--warmup_steps', type=int, default=1)
  parser.add_argument('--batch', type=int, default=1)
  parser.add_argument('--memory_limit_gib', type=float, default=20.0,
                      help='a child stops (exceeded) above this RSS')
  parser.add_argument('--sequence_length', type=int, default=196_608)
  parser.add_argument('--channels', type=int, default=1536,
                      help='narrower models for a quick check of the script')
  parser.add_argument('--num_transformer_layers', type=int, default=11)
  parser.add_argument('--num_heads', type=int, default=8)
  parser.add_argument('--variants', nargs='+', choices=VARIANTS,
                      default=list(VARIANTS))
  parser.add_argument('--conv_implementation', default='auto',
                      choices=('auto', 'conv', 'matmul'))
  parser.add_argument('--mixed_bfloat16', action='store_true')
  parser.add_argument('--_child', choices=VARIANTS, help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args._child:
    run_child(args)
    return

  variants = {variant: run_variant(variant, argv)
              for variant in VARIANTS if variant in args.variants}
  import common  # pylint: disable=g-import-not-at-top
  record = dict(
      bench='train_step', batch=args.batch,
      sequence_length=args.sequence_length, channels=args.channels,
      num_transformer_layers=args.num_transformer_layers,
      steps=args.steps, warmup_steps=args.warmup_steps,
      memory_limit_gib=args.memory_limit_gib, variants=variants,
      conv_implementation=args.conv_implementation,
      mixed_bfloat16=args.mixed_bfloat16,
      recompute_target_gib=RECOMPUTE_TARGET_GIB)
  if args.channels == 1536 and args.num_transformer_layers == 11:
    tflop = (2 * 3 * common.FORWARD_TFLOP * args.batch * args.sequence_length
             / 196_608)
    for result in variants.values():
      if result.get('step_seconds'):
        result['gflops'] = round(tflop * 1e3 / result['step_seconds'], 1)
  empty = dict(step_seconds=None)
  recompute = variants.get('recompute', empty)
  plain = variants.get('plain', empty)
  if recompute['step_seconds'] and plain['step_seconds']:
    record.update(
        memory_ratio=round(recompute['peak_rss_gib'] / plain['peak_rss_gib'],
                           3),
        time_ratio=round(recompute['step_seconds'] / plain['step_seconds'],
                         3))
  if recompute['step_seconds']:
    record['recompute_within_target'] = (
        recompute['peak_rss_gib'] <= RECOMPUTE_TARGET_GIB)
  if any(result.get('gflops') for result in variants.values()):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    roofline = common.matmul_roofline_gflops(
        tf.bfloat16 if args.mixed_bfloat16 else tf.float32)
    record['matmul_roofline_gflops'] = round(roofline, 1)
    for result in variants.values():
      if result.get('gflops'):
        result['roofline_fraction'] = round(result['gflops'] / roofline, 3)
  record.update(load_average=round(os.getloadavg()[0], 2), **common.machine())
  common.emit(record)


if __name__ == '__main__':
  main()
