"""Basenji2 TFRecord input pipeline vs the small model's training step.

Writes small synthetic Basenji2-format directories, one per organism, with
the repository's writer (`basenji.write_statistics`, `write_tfrecords`:
ZLIB TFRecords of bool one-hot sequences and float16 targets), shaped like
the small CPU configuration
(`enformer_tf/gin/experiments/small_cpu_synthetic.gin`:
`model/enformer_small.gin` at 96 channels, 2 transformer layers, 4
attention heads; `data/synthetic.gin`: 65,536 bp, 384 bins, 4 human and 3
mouse tracks, shuffle buffer 32; `train/cpu.gin`: batch 4). It reads them
with `config.basenji_datasets` and builds a `Trainer` on them, then measures:

(a) the input stream the trainer feeds its step: `Trainer.training_stream`
    per organism (repeat, ±3 bp shift and reverse complement by
    `augment.augment_dataset`, batch, prefetch), distributed as
    `Trainer.train` does (`Trainer.distributed_iterators`). One "step
    input" is what one training step consumes: one batch per organism.
    After `--pipeline_warmup` step inputs (shuffle buffers filled, threads
    started) it times `--pipeline_batches` more; no model runs meanwhile.
(b) the repository's training step (`Trainer.train_step_function`, the
    `tf.function` `train` runs: one human and one mouse update) at the same
    batch size, fed one fixed batch per organism from an in-memory dataset,
    so the time is the model's alone: `--steps` steps after
    `--warmup_steps`.

Prints one JSON line with both rates and `pipeline_vs_step` = step inputs
per second the pipeline delivers / training steps per second (how many
times faster the data arrive than the step uses them; target >= 10).
Counting single batches instead, the pipeline's rate is twice as high
(`pipeline_batches_per_s`).

  python bench/input_pipeline.py               # the small CPU configuration
  python bench/input_pipeline.py --channels 48 --num_transformer_layers 1 \
      --sequence_length 4096 --target_length 16 --records 16 \
      --pipeline_batches 20 --steps 2          # quick check
"""
import argparse
import functools
import os
import sys
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import enformer_tf  # noqa: E402
from enformer_tf.data import basenji  # noqa: E402
from enformer_tf.train import Trainer  # noqa: E402
from enformer_tf.train import config  # noqa: E402

# data/synthetic.gin: tracks per organism of the small CPU configuration.
HEADS = {'human': 4, 'mouse': 3}


def write_records(data_dir: str, num_records: int, sequence_length: int,
                  target_length: int, num_tracks: int, seqs_per_file: int,
                  seed: int) -> None:
  """A Basenji2-format directory of random sequences and targets."""
  rng = np.random.default_rng(seed)

  def examples():
    for _ in range(num_records):
      bases = rng.integers(0, 4, sequence_length)  # [L]
      yield (np.eye(4, dtype=np.float32)[bases],  # [L, 4]
             rng.gamma(1.0, 1.0, (target_length, num_tracks)))  # [T, N]

  basenji.write_tfrecords(data_dir, 'train', examples(),
                          seqs_per_file=seqs_per_file)
  basenji.write_statistics(
      data_dir, num_targets=num_tracks, train_seqs=num_records, valid_seqs=0,
      test_seqs=0, seq_length=sequence_length,
      pool_width=enformer_tf.BIN_SIZE,
      crop_bp=(sequence_length - target_length * enformer_tf.BIN_SIZE) // 2,
      target_length=target_length)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--batch', type=int, default=4,
                      help='examples per organism update (train/cpu.gin)')
  parser.add_argument('--records', type=int, default=64,
                      help='TFRecord examples written per organism')
  parser.add_argument('--seqs_per_file', type=int, default=16,
                      help='examples per TFRecord file (several files, so '
                      'that the parallel interleave has work)')
  parser.add_argument('--shuffle_buffer', type=int, default=32)
  parser.add_argument('--steps', type=int, default=5,
                      help='timed training steps')
  parser.add_argument('--warmup_steps', type=int, default=1)
  parser.add_argument('--pipeline_batches', type=int, default=50,
                      help='timed step inputs (one batch per organism each)')
  parser.add_argument('--pipeline_warmup', type=int, default=5)
  parser.add_argument('--sequence_length', type=int, default=65_536)
  parser.add_argument('--target_length', type=int, default=384)
  parser.add_argument('--channels', type=int, default=96)
  parser.add_argument('--num_transformer_layers', type=int, default=2)
  parser.add_argument('--num_heads', type=int, default=4)
  parser.add_argument('--conv_tower_divisible_by', type=int, default=16)
  args = parser.parse_args(argv)

  model = functools.partial(
      enformer_tf.Enformer, channels=args.channels,
      num_transformer_layers=args.num_transformer_layers,
      num_heads=args.num_heads, heads=HEADS,
      sequence_length=args.sequence_length, target_length=args.target_length,
      conv_tower_divisible_by=args.conv_tower_divisible_by)

  with tempfile.TemporaryDirectory() as temp_dir:
    data_dirs = {head: os.path.join(temp_dir, head) for head in HEADS}
    start = time.perf_counter()
    for seed, (head, tracks) in enumerate(HEADS.items()):
      write_records(data_dirs[head], args.records, args.sequence_length,
                    args.target_length, tracks, args.seqs_per_file, seed)
    write_seconds = time.perf_counter() - start
    data = config.basenji_datasets(data_dirs, 'train',
                                   shuffle_buffer=args.shuffle_buffer, seed=0)
    # Augmentation (max_shift=3, reverse complement) is the default.
    trainer = Trainer(model, data, os.path.join(temp_dir, 'model'),
                      batch_size=args.batch, strategy='default',
                      progress=False, handle_signals=False)

    # (a) The pipeline alone, as `Trainer.train` iterates it.
    iterators = trainer.distributed_iterators()
    # The first batches also feed the step in (b).
    batches = {head: next(it) for head, it in iterators.items()}
    for _ in range(args.pipeline_warmup):
      for it in iterators.values():
        next(it)
    start = time.perf_counter()
    for _ in range(args.pipeline_batches):
      for it in iterators.values():
        next(it)  # Eager: returns once the batch is in memory.
    pipeline_seconds = time.perf_counter() - start
    del iterators  # Stops their prefetch threads before the step is timed.

    # (b) The step alone: the same batches again and again, from memory.
    fixed = {
        head: iter(trainer.strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensors(batch).repeat()))
        for head, batch in batches.items()}
    step = trainer.train_step_function()
    step_times = common.time_call(lambda: step(fixed), runs=args.steps,
                                  warmup=args.warmup_steps)

  step_inputs_per_s = args.pipeline_batches / pipeline_seconds
  steps_per_s = 1.0 / common.median(step_times)
  common.emit(dict(
      bench='input_pipeline', batch=args.batch, records=args.records,
      seqs_per_file=args.seqs_per_file, shuffle_buffer=args.shuffle_buffer,
      sequence_length=args.sequence_length, target_length=args.target_length,
      heads=HEADS, channels=args.channels,
      num_transformer_layers=args.num_transformer_layers,
      write_seconds=round(write_seconds, 2),
      pipeline_step_inputs_per_s=round(step_inputs_per_s, 3),
      pipeline_batches_per_s=round(len(HEADS) * step_inputs_per_s, 3),
      pipeline_examples_per_s=round(
          len(HEADS) * args.batch * step_inputs_per_s, 3),
      step_seconds_all=[round(t, 4) for t in step_times],
      step_seconds_median=round(common.median(step_times), 4),
      steps_per_s=round(steps_per_s, 4),
      pipeline_vs_step=round(step_inputs_per_s / steps_per_s, 2),
      peak_rss_gib=round(common.peak_rss_gib(), 3),
      load_average=round(os.getloadavg()[0], 2), **common.machine()))


if __name__ == '__main__':
  main()
