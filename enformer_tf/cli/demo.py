"""The main job on the embedded default: synthetic genome -> trained model -> served.

`enformer-demo` (or `make demo`) runs, on one CPU in roughly a quarter of an
hour, everything a user runs on their own data:

1. `enformer-synthetic`: a two-organism genome with planted promoters,
   enhancers and a distal effect, with bigWig tracks (4 human, 3 mouse).
2. `enformer-make-data`: FASTA + targets.txt -> Basenji2 TFRecords, split by
   chromosome (chr1 train, chr2 valid, chr3 test).
3. `enformer-train --gin_file experiments/demo.gin`: the small Enformer,
   both heads, through the strategy-aware loop.
4. Evaluation on the held-out chromosome: per-track Pearson R against an
   untrained model of the same shape, a PNG of predicted vs observed
   tracks over a held-out region, and the gene-level evaluation
   (`enformer-evaluate-genes`): CAGE at the TSSs of the held-out genes,
   predicted vs observed, trained vs untrained.
5. `enformer-export` to a TF Serving layout, then `saved_model_cli run` on
   a held-out sequence, printing a few predicted values.

  enformer-demo [--work_dir demo_output] [--seed 0] [--num_steps N] \
      [--gin_param BINDING ...]

`run_demo` is the workflow (it is the top of the package: it drives data,
train and export); `main` parses the options and reports errors in one line.
"""
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Dict, Optional, Sequence

import numpy as np

from enformer_tf import atomic
from enformer_tf.cli import common

PROG = 'enformer-demo'


def _say(message: str) -> None:
  print(message, flush=True)


def _section(title: str) -> None:
  _say(f'\n== {title}')


# What each synthetic track needs a model to learn (enformer_tf/data/
# synthetic/): a peak at a local motif, the promoter x enhancer rule, or
# sequence composition (which even an untrained convolution correlates with).
TRACK_CLASSES = {'cage_promoter': 'local peaks', 'dnase': 'local peaks',
                 'h3k27ac': 'local peaks', 'cage_distal': 'distal rule',
                 'gc': 'GC composition'}
BEATS_MARGIN = 0.1  # Mean R gain over the untrained model that counts.


def class_verdicts(names: Sequence[str], trained: Sequence[float],
                   untrained: Sequence[float]) -> Dict[str, Dict[str, object]]:
  """Per track class: mean R trained and untrained, and whether it beats it.

  A class is learnt when the trained model's mean R over its tracks exceeds
  the untrained model's by more than `BEATS_MARGIN`.
  """
  groups: Dict[str, list] = {}
  for name, r, r0 in zip(names, trained, untrained):
    groups.setdefault(TRACK_CLASSES.get(name, name), []).append((r, r0))
  verdicts = {}
  for group, values in groups.items():
    r, r0 = (float(np.mean(column)) for column in zip(*values))
    verdicts[group] = dict(pearson_r=r, untrained_pearson_r=r0,
                           beats_untrained=bool(r > r0 + BEATS_MARGIN))
  return verdicts


def build_records(work_dir: str, seed: int, seq_length: int,
                  target_length: int, stride: int) -> Dict[str, str]:
  """Steps 1-2: the synthetic genome and its TFRecords, per organism."""
  from enformer_tf.data import make_data, synthetic
  genome_dir = os.path.join(work_dir, 'genome')
  paths = synthetic.make_synthetic_genome(
      genome_dir, synthetic.SyntheticGenomeSpec(seed=seed), overwrite=True)
  records = {}
  for organism, files in paths.items():
    out_dir = os.path.join(work_dir, 'records', organism)
    stats = make_data.make_data(
        files['fasta'], files['targets'], out_dir, tile=True, stride=stride,
        valid_chroms=['chr2'], test_chroms=['chr3'], seq_length=seq_length,
        target_length=target_length, overwrite=True)
    _say(f'{organism}: {len(files["tracks"])} tracks '
         f'({", ".join(files["track_names"])}); windows train/valid/test = '
         f'{stats["train_seqs"]}/{stats["valid_seqs"]}/{stats["test_seqs"]}')
    records[organism] = out_dir
  return records


def evaluate_split(model, records: Dict[str, str], split: str,
                   output_dir: Optional[str] = None, batch_size: int = 4):
  """Per-track Pearson R / R² on `split`; tables in `output_dir` if given."""
  from enformer_tf.train import config, evaluate
  datasets = config.basenji_datasets(records, split=split)
  return evaluate.evaluate(model, datasets, batch_size=batch_size,
                           output_dir=output_dir, track_names=records)


def plot_region(model, records: Dict[str, str], path: str,
                organism: str = 'human') -> str:
  """Step 4b: predicted vs observed tracks of the test window with most signal."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  from enformer_tf.data import basenji, targets as targets_lib

  examples = list(basenji.load_dataset(records[organism], 'test')
                  .as_numpy_iterator())
  best = max(examples, key=lambda e: float(e['target'].max(axis=0).sum()))
  predicted = model.predict_head(best['sequence'][np.newaxis], organism,
                                 training=False).numpy()[0]
  names = [t.identifier for t in targets_lib.read_targets(
      os.path.join(records[organism], 'targets.txt'))]
  observed = best['target']
  fig, axes = plt.subplots(len(names), 1, figsize=(10, 1.8 * len(names)),
                           sharex=True)
  bins = np.arange(observed.shape[0])
  for i, ax in enumerate(np.atleast_1d(axes)):
    ax.fill_between(bins, observed[:, i], step='mid', color='0.75',
                    label='observed')
    ax.plot(bins, predicted[:, i], color='C3', lw=1.2, label='predicted')
    ax.set_ylabel(names[i], rotation=0, ha='right', fontsize=9)
    r = np.corrcoef(observed[:, i], predicted[:, i])[0, 1]
    ax.set_title(f'Pearson R {r:.2f}', fontsize=8, loc='right')
  np.atleast_1d(axes)[0].legend(loc='upper left', fontsize=8)
  np.atleast_1d(axes)[-1].set_xlabel('128-bp bin (held-out chromosome chr3)')
  fig.suptitle(f'{organism}: held-out window, predicted vs observed')
  fig.tight_layout()
  with atomic.atomic_path(path) as temporary:
    fig.savefig(temporary, dpi=110)
  plt.close(fig)
  return path


def evaluate_genes(models: Dict[str, object], work_dir: str,
                   records: Dict[str, str]) -> Dict[str, object]:
  """Step 4c: expression of the held-out genes (enformer-evaluate-genes):
  CAGE summed at each gene's TSS bins, predicted vs observed."""
  from enformer_tf.genomics import gene_files

  _section('4c. Genes not trained on (chr2, chr3): predicted vs observed '
           'expression at the TSS (enformer-evaluate-genes)')
  genome_dir = os.path.join(work_dir, 'genome', 'human')
  out_dir = os.path.join(work_dir, 'eval_genes')
  result = gene_files.evaluate_genes_to_files(
      models, os.path.join(genome_dir, 'genome.fa'),
      os.path.join(genome_dir, 'genes.gtf'), 'human',
      os.path.join(genome_dir, 'targets.txt'), out_dir,
      split_bed=os.path.join(records['human'], 'sequences.bed'),
      split=('valid', 'test'), tracks='cage_promoter,cage_distal')
  tables = {label: {row.split('\t')[0]: row.split('\t') for row in open(
      os.path.join(out_dir, f'{label}_tracks.tsv')).read().splitlines()[1:]}
            for label in models}
  figures = {}
  _say(f'{result["num_genes"]} genes; Pearson R across genes of '
       'log2(1 + expression):')
  for track in ('cage_promoter', 'cage_distal'):
    r = {label: float(tables[label][track][2]) for label in models}
    figures[track] = r
    _say(f'  {track:>14}  R = {r["trained"]:6.3f}   (untrained '
         f'{r["untrained"]:6.3f})')
  _say(f'tables and scatter plots: {out_dir}')
  return dict(num_genes=result['num_genes'], pearson_r=figures)


def query_saved_model(version_dir: str, sequence: np.ndarray,
                      work_dir: str) -> np.ndarray:
  """Step 5b: `saved_model_cli run` on one sequence; returns the human output."""
  inputs = os.path.join(work_dir, 'request.npy')
  outdir = os.path.join(work_dir, 'response')
  shutil.rmtree(outdir, ignore_errors=True)
  np.save(inputs, sequence[np.newaxis].astype(np.float32))
  cli = shutil.which('saved_model_cli') or os.path.join(
      os.path.dirname(sys.executable), 'saved_model_cli')
  command = [cli, 'run', '--dir', version_dir, '--tag_set', 'serve',
             '--signature_def', 'human', '--inputs', f'sequence={inputs}',
             '--outdir', outdir]
  _say('$ ' + ' '.join(command))
  subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
  return np.load(os.path.join(outdir, 'human.npy'))


def run_demo(work_dir: str = 'demo_output', seed: int = 0,
             num_steps: Optional[int] = None,
             gin_params: Sequence[str] = ()) -> Dict[str, object]:
  """Runs the whole main job; returns the figures it printed."""
  from enformer_tf.data import basenji
  from enformer_tf.export import saved_model
  from enformer_tf.train import config, evaluate

  start = time.time()
  work_dir = os.path.abspath(work_dir)
  os.makedirs(work_dir, exist_ok=True)

  _section('1-2. Synthetic genome -> TFRecords (enformer-synthetic, '
           'enformer-make-data)')
  params = ['SEQUENCE_LENGTH = 32768', 'TARGET_LENGTH = 128']
  records = build_records(work_dir, seed, seq_length=32_768,
                          target_length=128, stride=8_192)

  _section('3. Training (enformer-train --gin_file experiments/demo.gin)')
  model_dir = os.path.join(work_dir, 'model')
  shutil.rmtree(model_dir, ignore_errors=True)
  params += [f"SYNTHETIC_HUMAN = '{records['human']}'",
             f"SYNTHETIC_MOUSE = '{records['mouse']}'",
             f"train.model_dir = '{model_dir}'"]
  if num_steps is not None:
    params.append(f'train.num_steps = {num_steps}')
  config.parse_gin(['experiments/demo.gin'], params + list(gin_params))
  trainer = config.train_from_bindings()
  model = trainer.model

  _section('4. Held-out chromosome (chr3): per-track Pearson R')
  untrained = type(model).from_config(model.get_config())
  untrained.build((None, 32_768, 4))
  table_dir = os.path.join(work_dir, 'eval_test')
  trained_results = evaluate_split(model, records, 'test', table_dir)
  baseline_results = evaluate_split(untrained, records, 'test')
  summary = {}
  for organism, result in trained_results.items():
    baseline = baseline_results[organism]
    names = evaluate.read_track_identifiers(records[organism])
    _say(f'{organism}: mean Pearson R {result.mean_pearson_r:.3f} '
         f'(untrained model: {baseline.mean_pearson_r:.3f})')
    for name, r, r0 in zip(names, result.pearson_r, baseline.pearson_r):
      _say(f'  {name:>14}  R = {r:6.3f}   (untrained {r0:6.3f})')
    verdicts = class_verdicts(names, result.pearson_r, baseline.pearson_r)
    for group, verdict in verdicts.items():
      _say(f'  {"beats" if verdict["beats_untrained"] else "DOES NOT BEAT"} '
           f'the untrained model on {group}: mean R '
           f'{verdict["pearson_r"]:.3f} vs {verdict["untrained_pearson_r"]:.3f}')
    summary[organism] = dict(
        pearson_r=[float(r) for r in result.pearson_r],
        untrained_pearson_r=[float(r) for r in baseline.pearson_r],
        mean_pearson_r=float(result.mean_pearson_r),
        untrained_mean_pearson_r=float(baseline.mean_pearson_r),
        track_classes=verdicts)
  png = plot_region(model, records, os.path.join(work_dir, 'prediction.png'))
  _say(f'tables: {table_dir}/{{human,mouse,summary}}.tsv; plot: {png}')
  summary['genes'] = evaluate_genes(
      {'trained': model, 'untrained': untrained}, work_dir, records)

  _section('5. Export for TF Serving (enformer-export), query with '
           'saved_model_cli')
  export_dir = os.path.join(work_dir, 'export')
  shutil.rmtree(export_dir, ignore_errors=True)
  version_dir = saved_model.export_saved_model(model, export_dir)
  _say(f'exported {version_dir}')
  example = next(basenji.load_dataset(records['human'], 'test')
                 .as_numpy_iterator())
  served = query_saved_model(version_dir, example['sequence'], work_dir)
  in_process = model.predict_head(example['sequence'][np.newaxis], 'human',
                                  training=False).numpy()
  peak = int(served[0].sum(axis=1).argmax())
  _say(f'served human predictions, shape {served.shape}; bin {peak}: '
       + ', '.join(f'{v:.3f}' for v in served[0, peak]))
  _say(f'max |served - in-process| = '
       f'{float(np.abs(served - in_process).max()):.2e}')
  summary['served_matches_in_process'] = bool(
      np.allclose(served, in_process, atol=1e-5))
  summary['minutes'] = round((time.time() - start) / 60, 1)
  atomic.write_atomically(os.path.join(work_dir, 'summary.json'),
                          json.dumps(summary, indent=1))
  _section(f'Done in {summary["minutes"]} min; outputs in {work_dir}')
  return summary


def _parser() -> common.Parser:
  parser = common.Parser(PROG, __doc__.splitlines()[0])
  parser.add_argument('--work_dir', default='demo_output')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--num_steps', type=int, default=None,
                      help='training steps (experiments/demo.gin: 300)')
  parser.add_argument('--gin_param', action='append', default=[])
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = _parser().parse_args(argv)

  def demo() -> int:
    run_demo(args.work_dir, args.seed, args.num_steps, args.gin_param)
    return common.EXIT_OK

  return common.run_or_fail(
      PROG, demo, (ValueError, OSError, subprocess.CalledProcessError))


if __name__ == '__main__':
  sys.exit(main())
