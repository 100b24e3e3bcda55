"""Does mixed-bfloat16 training follow float32's loss curve? The shipped
small recipe on the synthetic `short` grammar of `long_range.py`.

Trains `experiments/small_cpu_synthetic.gin` (96 channels, 2 transformer
layers) for `--steps` steps three times on the same data: float32 with
training seed 0, float32 with seed 1 (what changes between two float32 runs:
the noise), and `enformer_tf.Enformer.mixed_bfloat16 = True` with seed 0.
Each runs in its own child process, one after the other, with all threads.
Reads each run's training losses (TensorBoard `loss/{head}`) and prints one
JSON line: per run the loss per window of `--window` steps, the mean over
the last window, seconds per step and the held-out Pearson R per track; and
the gaps `bfloat16 - float32` and `float32 seed 1 - float32` of the windowed
losses (mean and max absolute), the first to be within the second.

  python bench/bfloat16_training.py --steps 300 --work_dir /tmp/bf16
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import long_range  # noqa: E402  (bench/long_range.py: data, gin bindings)

RUNS = (('float32', 0), ('float32', 1), ('bfloat16', 0))


def _losses(model_dir: str):
  """head -> [(step, loss)] from the run's training summaries."""
  import tensorflow as tf
  curves = {}
  for path in glob.glob(os.path.join(model_dir, 'train', 'events.out.*')):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag.startswith('loss/'):
          curves.setdefault(value.tag[5:], {})[event.step] = float(
              tf.make_ndarray(value.tensor))
  return {head: sorted(steps.items()) for head, steps in curves.items()}


def train_child(args) -> None:
  """One run (`--_run dtype:seed`): trains, evaluates on chr3, writes JSON."""
  from enformer_tf.train import config, evaluate
  dtype, seed = args._run.split(':')
  grammar = long_range.GRAMMARS['short']
  records = {o: os.path.join(args._data_dir, 'records', o)
             for o in long_range.HEADS}
  model_dir = os.path.join(args.work_dir, f'{dtype}_seed{seed}')
  args.gin_param = ([f'enformer_tf.Enformer.mixed_bfloat16 = '
                     f'{dtype == "bfloat16"}'] + args.gin_param)
  args.eval_every, args.eval_steps = args.steps, 32
  params = long_range.gin_params(grammar, records, model_dir, 2, int(seed),
                                 args)
  # The same data order for every run: only the training seed differs.
  params += ['train/enformer_tf.train.basenji_datasets.seed = 0',
             'enformer_tf.train.Trainer.summary_every = 2']
  start = time.time()
  trainer = config.train_from_gin([long_range.GIN_FILE], params)
  seconds = time.time() - start
  test = config.basenji_datasets(records, 'test')
  results = evaluate.evaluate(trainer.model, test, batch_size=8)
  held_out = {}
  for head, result in results.items():
    names = evaluate.read_track_identifiers(records[head])
    held_out[head] = {n: round(float(r), 4)
                      for n, r in zip(names, result.pearson_r)}
  with open(os.path.join(args.work_dir, f'{dtype}_seed{seed}.json'),
            'w') as f:
    json.dump(dict(seconds_per_step=round(seconds / args.steps, 3),
                   losses=_losses(model_dir), held_out_r=held_out), f)


def _windowed(losses, window):
  """Mean loss per window of `window` steps (steps 1..window, ...)."""
  sums = {}
  for step, loss in losses:
    total, count = sums.get((step - 1) // window, (0.0, 0))
    sums[(step - 1) // window] = (total + loss, count + 1)
  return [total / count for _, (total, count) in sorted(sums.items())]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--steps', type=int, default=300)
  parser.add_argument('--window', type=int, default=50)
  parser.add_argument('--work_dir', default='/tmp/enformer_bfloat16_training')
  parser.add_argument('--gin_param', action='append', default=[])
  parser.add_argument('--_run', help=argparse.SUPPRESS)
  parser.add_argument('--_data_dir', help=argparse.SUPPRESS)
  args = parser.parse_args(argv)
  if args._run:
    train_child(args)
    return

  os.makedirs(args.work_dir, exist_ok=True)
  data_dir = os.path.join(args.work_dir, 'data')
  long_range.build_data(long_range.GRAMMARS['short'], 0, data_dir, True)
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [long_range.REPO] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
  runs = {}
  for dtype, seed in RUNS:
    command = [sys.executable, os.path.abspath(__file__), '--steps',
               str(args.steps), '--work_dir', args.work_dir, '--_run',
               f'{dtype}:{seed}', '--_data_dir', data_dir]
    for binding in args.gin_param:
      command += ['--gin_param', binding]
    subprocess.run(command, check=True, env=env)
    with open(os.path.join(args.work_dir, f'{dtype}_seed{seed}.json')) as f:
      runs[f'{dtype}_seed{seed}'] = json.load(f)
  windows = {name: {head: _windowed(losses, args.window)
                    for head, losses in run.pop('losses').items()}
             for name, run in runs.items()}

  def gap(a, b):
    diffs = [abs(x - y) for head in windows[a]
             for x, y in zip(windows[a][head], windows[b][head])]
    return dict(mean_abs=round(sum(diffs) / len(diffs), 4),
                max_abs=round(max(diffs), 4))

  import common  # pylint: disable=g-import-not-at-top
  record = dict(
      bench='bfloat16_training', steps=args.steps, window=args.window,
      gin_file=long_range.GIN_FILE, grammar='short',
      runs={name: dict(run, windowed_loss={
          head: [round(v, 4) for v in values]
          for head, values in windows[name].items()}) for name, run in
            runs.items()},
      gap_bfloat16_vs_float32=gap('bfloat16_seed0', 'float32_seed0'),
      gap_float32_seed1_vs_seed0=gap('float32_seed1', 'float32_seed0'),
      load_average=round(os.getloadavg()[0], 2), **common.machine())
  common.emit(record)


if __name__ == '__main__':
  main()
