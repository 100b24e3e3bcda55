"""Does attention buy long range? The shipped small recipe, with and without
transformer layers, on synthetic grammars whose distal track needs an
enhancer kilobases away.

  python bench/long_range.py --grammar bench --seeds 0 1 2
  python bench/long_range.py --grammar short --seeds 0 1 2
  python bench/long_range.py --grammar short --steps 20 --work_dir /tmp/lr
  python bench/long_range.py --grammar short --layers 2 \
      --gin_param 'enformer_tf.Enformer.dropout_rate = 0.1'   # diagnosis

For each seed this script

1. writes a synthetic genome (`enformer_tf.data.synthetic`, genome seed =
   the seed) and its Basenji records (`make_data`; tiled windows; chr1
   train, chr2 valid, chr3 test), with every track scaled by the grammar's
   `target_scale`;
2. trains the shipped configuration, `experiments/small_cpu_synthetic.gin`,
   twice: as shipped (2 transformer layers) and with
   `num_transformer_layers = 0` (the conv-only control), same seed, data,
   steps and optimiser; only the macros that describe the data (paths,
   lengths), `train.num_steps`, the seeds and how often to evaluate are
   bound here (and any `--gin_param`, for diagnosis). Each training writes
   its validation learning curves per track (`eval/curves.tsv`, TensorBoard);
3. evaluates both on the held-out chromosome (chr3) and prints one JSON line
   with every track's Pearson R and the gap (transformer - conv-only).

At the end a table (markdown) gives the mean and spread over seeds of the
distal track (`cage_distal`, which needs the enhancer) and of the local
tracks, for both models.

The grammars. `cage_distal` at a promoter is high iff its paired enhancer
motif lies within `enhancer_distance`; about half of the promoters are
paired, independently of their local sequence, so a model that only sees a
promoter's few hundred flanking bp cannot tell which. The enhancers carry a
local mark (`dnase`, and `h3k27ac` in mouse) in their own bins. Each grammar
keeps `crop_bp >= dmax`, so every evaluated promoter has its partner inside
the window (the script refuses geometries that break this).

- `bench`: the generator's signal as it writes it (peaks of hundreds of
  counts per 128-bp bin), enhancers 5-8 kb away (7.7-12x the conv tower's
  ~650-bp receptive field), 32,768-bp windows, 128 target bins. The
  generator's default range, 10-40 kb, needs ~100-kb windows: too slow to
  train twice per seed on 2 cores.
- `short`: a user's small dataset: 16,384-bp windows, enhancers 1.5-6 kb
  away, every track scaled by 0.03 so that a promoter peak is ~8 counts per
  bin and the background ~0.1 (sparse tracks with small counts), 32 target
  bins (64 would put promoters at the edge out of reach of their enhancer).

Both trainings of a seed run as child processes at the same time, one
intra-op thread each (`--sequential`: one after the other, all threads).
"""
import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
HEADS = {'human': 4, 'mouse': 3}
DISTAL_TRACK = 'cage_distal'
LOCAL_TRACKS = {'human': ('cage_promoter', 'dnase'),
                'mouse': ('dnase', 'h3k27ac')}
GIN_FILE = 'experiments/small_cpu_synthetic.gin'


@dataclasses.dataclass(frozen=True)
class Grammar:
  seq_length: int
  target_length: int
  enhancer_distance: tuple
  distance_margin: int
  min_element_spacing: int
  promoters_per_mb: float
  chrom_sizes: tuple
  stride: int
  target_scale: float


GRAMMARS = {
    'bench': Grammar(seq_length=32_768, target_length=128,
                     enhancer_distance=(5_000, 8_000), distance_margin=1_500,
                     min_element_spacing=2_500, promoters_per_mb=120.0,
                     chrom_sizes=(1_500_000, 500_000, 500_000), stride=2_048,
                     target_scale=1.0),
    'short': Grammar(seq_length=16_384, target_length=32,
                     enhancer_distance=(1_500, 6_000), distance_margin=500,
                     min_element_spacing=1_200, promoters_per_mb=120.0,
                     chrom_sizes=(1_500_000, 500_000, 500_000), stride=1_024,
                     target_scale=0.03),
}


def _parser():
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--grammar', choices=sorted(GRAMMARS), default='bench')
  p.add_argument('--seeds', type=int, nargs='+', default=[0])
  p.add_argument('--work_dir', default='/tmp/enformer_long_range')
  p.add_argument('--steps', type=int, default=2000,
                 help='train.num_steps (the shipped recipe trains 2,000)')
  p.add_argument('--eval_every', type=int, default=250,
                 help='validation curve points (chr2)')
  p.add_argument('--eval_steps', type=int, default=32,
                 help='validation batches per organism per evaluation')
  p.add_argument('--test_every', type=int, default=2,
                 help='evaluate every k-th test window (1: all)')
  p.add_argument('--gin_param', action='append', default=[],
                 help='extra binding for both models (diagnosis only: the '
                 'figures of the README use none)')
  p.add_argument('--layers', type=int, nargs='+', default=[2, 0],
                 help='transformer layers of the models to train (diagnosis: '
                 '`--layers 2` trains only the transformer model and prints '
                 'its figures, no comparison)')
  p.add_argument('--sequential', action='store_true',
                 help='train the two models one after the other')
  p.add_argument('--reuse', action='store_true',
                 help='keep genomes, records and finished results already '
                 'in --work_dir')
  p.add_argument('--_train_one', type=int, default=None,
                 help=argparse.SUPPRESS)
  p.add_argument('--_seed_dir', default=None, help=argparse.SUPPRESS)
  p.add_argument('--_seed', type=int, default=None, help=argparse.SUPPRESS)
  p.add_argument('--_threads', type=int, default=0, help=argparse.SUPPRESS)
  return p


def check_geometry(grammar: Grammar) -> int:
  """The evaluated bins must see their partners: crop_bp >= dmax."""
  crop_bp = (grammar.seq_length - 128 * grammar.target_length) // 2
  if crop_bp < grammar.enhancer_distance[1]:
    raise SystemExit(
        f'long_range: crop_bp = {crop_bp} bp is less than dmax = '
        f'{grammar.enhancer_distance[1]} bp: promoters near the edge of the '
        'target region would have their enhancer outside the window.')
  return crop_bp


# -- Data -----------------------------------------------------------------------


def build_data(grammar: Grammar, seed: int, seed_dir: str, reuse: bool):
  """Genome and records for one seed; returns (records, info)."""
  from enformer_tf.data import make_data, synthetic
  from enformer_tf.data import targets as targets_lib
  genome_dir = os.path.join(seed_dir, 'genome')
  records = {o: os.path.join(seed_dir, 'records', o) for o in HEADS}
  done = all(os.path.exists(os.path.join(r, 'statistics.json'))
             for r in records.values())
  if not (reuse and done):
    spec = synthetic.SyntheticGenomeSpec(
        seed=seed, chrom_sizes=grammar.chrom_sizes,
        promoters_per_mb=grammar.promoters_per_mb,
        enhancer_distance=grammar.enhancer_distance,
        distance_margin=grammar.distance_margin,
        min_element_spacing=grammar.min_element_spacing)
    paths = synthetic.make_synthetic_genome(genome_dir, spec, tuple(HEADS),
                                            overwrite=True)
    for organism, files in paths.items():
      targets = files['targets']
      if grammar.target_scale != 1.0:
        targets = targets_lib.write_scaled_targets(targets,
                                                   grammar.target_scale)
      make_data.make_data(
          files['fasta'], targets, records[organism], tile=True,
          stride=grammar.stride, valid_chroms=['chr2'], test_chroms=['chr3'],
          seq_length=grammar.seq_length,
          target_length=grammar.target_length, overwrite=True)
  info = {}
  for organism in HEADS:
    with open(os.path.join(records[organism], 'statistics.json')) as f:
      stats = json.load(f)
    elements = synthetic.read_elements(
        os.path.join(genome_dir, organism, 'elements.bed'))
    promoters = [e for e in elements if e.kind == 'promoter']
    info[organism] = dict(
        windows={s: stats[f'{s}_seqs'] for s in ('train', 'valid', 'test')},
        promoters=len(promoters),
        paired=sum(e.partner is not None for e in promoters))
  return records, info


# -- One training (child process) ---------------------------------------------


def gin_params(grammar: Grammar, records, model_dir: str, layers: int,
               seed: int, args) -> list:
  """What this script binds on top of the shipped gin file."""
  return [
      f"SYNTHETIC_HUMAN = '{records['human']}'",
      f"SYNTHETIC_MOUSE = '{records['mouse']}'",
      f'SEQUENCE_LENGTH = {grammar.seq_length}',
      f'TARGET_LENGTH = {grammar.target_length}',
      f'train.num_steps = {args.steps}',
      f"train.model_dir = '{model_dir}'",
      f'enformer_tf.Enformer.num_transformer_layers = {layers}',
      f'enformer_tf.train.Trainer.seed = {seed}',
      f'train/enformer_tf.train.basenji_datasets.seed = {seed}',
      f'enformer_tf.train.Trainer.eval_every = {args.eval_every}',
      f'enformer_tf.train.Trainer.eval_steps = {args.eval_steps}',
      'enformer_tf.train.Trainer.checkpoint_every = 500',
      'enformer_tf.train.Trainer.progress = False',
  ] + list(args.gin_param)


def train_one(args):
  import tensorflow as tf
  if args._threads:
    tf.config.threading.set_intra_op_parallelism_threads(args._threads)
    tf.config.threading.set_inter_op_parallelism_threads(args._threads)
  from enformer_tf.train import config, evaluate

  grammar = GRAMMARS[args.grammar]
  layers = args._train_one
  records = {o: os.path.join(args._seed_dir, 'records', o) for o in HEADS}
  model_dir = os.path.join(args._seed_dir, f'model_layers{layers}')
  if os.path.exists(model_dir):
    shutil.rmtree(model_dir)
  params = gin_params(grammar, records, model_dir, layers, args._seed, args)
  start = time.time()
  trainer = config.train_from_gin([GIN_FILE], params)
  train_seconds = time.time() - start

  test = config.basenji_datasets(records, 'test')
  if args.test_every > 1:
    test = {h: d.shard(args.test_every, 0) for h, d in test.items()}
  results = evaluate.evaluate(trainer.model, test, batch_size=8)
  out = dict(num_transformer_layers=layers,
             parameters=int(trainer.model.count_params()),
             steps=int(trainer.step.numpy()),
             train_seconds=round(train_seconds, 1), heads={},
             valid_curves=evaluate.read_curves(
                 os.path.join(model_dir, 'eval')))
  for head, result in results.items():
    names = evaluate.read_track_identifiers(records[head])
    out['heads'][head] = {n: round(float(r), 4)
                          for n, r in zip(names, result.pearson_r)}
  with open(os.path.join(args._seed_dir, f'result_layers{layers}.json'),
            'w') as f:
    json.dump(out, f)


# -- Driver -----------------------------------------------------------------------


def _train_seed(args, seed: int, seed_dir: str):
  """Trains both models of one seed; returns their results."""
  base = [sys.executable, os.path.abspath(__file__), '--grammar',
          args.grammar, '--steps', str(args.steps), '--eval_every',
          str(args.eval_every), '--eval_steps', str(args.eval_steps),
          '--test_every', str(args.test_every), '--_seed_dir', seed_dir,
          '--_seed', str(seed)]
  for binding in args.gin_param:
    base += ['--gin_param', binding]
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [REPO] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
  results, pending = {}, []
  for layers in args.layers:
    path = os.path.join(seed_dir, f'result_layers{layers}.json')
    if args.reuse and os.path.exists(path):
      continue
    if os.path.exists(path):
      os.remove(path)
    log = open(os.path.join(seed_dir, f'train_layers{layers}.log'), 'w')
    argv = base + ['--_train_one', str(layers),
                   '--_threads',
                   '0' if args.sequential or len(args.layers) == 1 else '1']
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                               env=env)
    pending.append((layers, process, log))
    if args.sequential:
      process.wait()
  for layers, process, log in pending:
    code = process.wait()
    log.close()
    if code:
      raise SystemExit(f'long_range: seed {seed}, {layers} transformer '
                       f'layers failed (exit {code}); see {log.name}')
  for layers in args.layers:
    with open(os.path.join(seed_dir, f'result_layers{layers}.json')) as f:
      results[layers] = json.load(f)
  return results


def _spread(values):
  mean = statistics.fmean(values)
  sd = statistics.stdev(values) if len(values) > 1 else 0.0
  return f'{mean:.2f} ± {sd:.2f} ({min(values):.2f}–{max(values):.2f})'


def table(lines) -> str:
  """Markdown: per head and track, transformer / conv-only / gap over seeds."""
  rows = ['| head | track | transformer | conv-only | gap (transformer − '
          'conv-only) |', '|---|---|---|---|---|']
  for head in HEADS:
    for track in (DISTAL_TRACK,) + LOCAL_TRACKS[head]:
      attn = [l['transformer'][head][track] for l in lines]
      conv = [l['conv_only'][head][track] for l in lines]
      gap = [a - c for a, c in zip(attn, conv)]
      rows.append(f'| {head} | {track} | {_spread(attn)} | {_spread(conv)} '
                  f'| {_spread(gap)} |')
  return '\n'.join(rows)


def main(argv=None):
  args = _parser().parse_args(argv)
  args.work_dir = os.path.abspath(args.work_dir)
  if args._train_one is not None:
    train_one(args)
    return 0
  grammar = GRAMMARS[args.grammar]
  crop_bp = check_geometry(grammar)
  sys.path.insert(0, REPO)
  sys.path.insert(0, HERE)
  import common  # pylint: disable=g-import-not-at-top
  lines = []
  for seed in args.seeds:
    started = time.time()
    seed_dir = os.path.join(args.work_dir, args.grammar, f'seed{seed}')
    os.makedirs(seed_dir, exist_ok=True)
    _, data_info = build_data(grammar, seed, seed_dir, args.reuse)
    runs = _train_seed(args, seed, seed_dir)
    if sorted(runs) != [0, 2]:  # Diagnosis: one model, no comparison.
      for layers, run in runs.items():
        common.emit(dict(
            benchmark='long_range', grammar=args.grammar, seed=seed,
            extra_gin_params=args.gin_param, num_transformer_layers=layers,
            heads=run['heads'], steps=run['steps'],
            valid_curves=run['valid_curves'],
            train_seconds=run['train_seconds'], machine=common.machine()))
      continue
    attn, conv = runs[2], runs[0]
    line = dict(
        benchmark='long_range', grammar=args.grammar, seed=seed,
        gin_file=GIN_FILE, extra_gin_params=args.gin_param,
        transformer=attn['heads'], conv_only=conv['heads'],
        gap={h: {t: round(attn['heads'][h][t] - conv['heads'][h][t], 4)
                 for t in attn['heads'][h]} for h in HEADS},
        steps=attn['steps'], parameters=dict(
            transformer=attn['parameters'], conv_only=conv['parameters']),
        valid_curves=dict(transformer=attn['valid_curves'],
                          conv_only=conv['valid_curves']),
        grammar_spec=dict(dataclasses.asdict(grammar), crop_bp=crop_bp),
        data=data_info,
        seconds=dict(train=dict(transformer=attn['train_seconds'],
                                conv_only=conv['train_seconds']),
                     total=round(time.time() - started, 1)),
        machine=common.machine())
    common.emit(line)
    lines.append(line)
  if lines:
    print(table(lines))
  return 0


if __name__ == '__main__':
  sys.exit(main())
