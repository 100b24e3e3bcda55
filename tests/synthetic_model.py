"""A small Enformer trained on a small synthetic genome, for tests that need
a model which has learnt something (training learns; variant effects and
contribution scores point at planted motifs).

`train_synthetic_model(work_dir)` writes the genome, its records and a
trained `.keras` model under `work_dir` and returns a `TrainedSynthetic`.
It takes about a minute on two cores; `tests/conftest.py` makes it once per
session (fixture `trained_synthetic`).

The setup favours the local tracks, which a model can learn in a few hundred
steps: windows of 2,048 bp with 8 target bins (1,024 bp), so that each
window sees a promoter or enhancer motif and its peak; dense promoters; a
model of 48 channels and one transformer layer without dropout.
"""
import dataclasses
import os
from typing import Dict

HEADS = {'human': 4, 'mouse': 3}
SEQUENCE_LENGTH = 2048
TARGET_LENGTH = 8
SPEC = dict(seed=3, chrom_sizes=(400_000, 100_000, 150_000),
            promoters_per_mb=150.0, enhancer_distance=(3_000, 6_000),
            distance_margin=1_000, min_element_spacing=2_000,
            far_decoys_per_mb=20.0, n_gaps_per_mb=0.0, telomere_n=2_000)
MODEL = dict(channels=48, num_transformer_layers=1, num_heads=2,
             conv_tower_divisible_by=8, dropout_rate=0.0,
             attention_dropout_rate=0.0, positional_dropout_rate=0.0,
             final_dropout_rate=0.0)
STEPS = 300
TARGET_SCALE = 0.02


@dataclasses.dataclass(frozen=True)
class TrainedSynthetic:
  """Paths of the genome, records and model; `genome[organism]` holds the
  `make_synthetic_genome` paths (`fasta`, `targets`, `elements`, ...)."""
  model_path: str
  genome: Dict[str, Dict[str, str]]
  records: Dict[str, str]
  sequence_length: int = SEQUENCE_LENGTH
  target_length: int = TARGET_LENGTH


def enformer(**overrides):
  from enformer_tf import Enformer
  return Enformer(heads=HEADS, sequence_length=SEQUENCE_LENGTH,
                  target_length=TARGET_LENGTH, **{**MODEL, **overrides})


def _scaled_targets(path: str) -> str:
  """targets.txt with summed tracks scaled by TARGET_SCALE (column 5).

  Peaks of the synthetic tracks sum to hundreds per 128-bp bin; scaled to a
  few units, the Poisson loss is better conditioned and a small model
  learns them in a few hundred steps.
  """
  with open(path) as f:
    rows = [line.rstrip('\n').split('\t') for line in f]
  for row in rows[1:]:
    if row[5] == 'sum':
      row[4] = str(TARGET_SCALE)
  scaled = path[:-len('.txt')] + '_scaled.txt'
  with open(scaled, 'w') as f:
    f.writelines('\t'.join(row) + '\n' for row in rows)
  return scaled


def make_records(work_dir: str):
  from enformer_tf.data import make_data, synthetic
  genome = synthetic.make_synthetic_genome(
      os.path.join(work_dir, 'genome'), synthetic.SyntheticGenomeSpec(**SPEC),
      tuple(HEADS), overwrite=True)
  records = {}
  for organism, files in genome.items():
    records[organism] = os.path.join(work_dir, 'records', organism)
    make_data.make_data(
        files['fasta'], _scaled_targets(files['targets']), records[organism],
        tile=True,
        stride=512, valid_chroms=['chr2'], test_chroms=['chr3'],
        seq_length=SEQUENCE_LENGTH, target_length=TARGET_LENGTH,
        overwrite=True)
  return genome, records


def write_model_config(model_dir: str) -> None:
  """The Enformer bindings `enformer-train` would have saved, so that the
  training directory loads like one (`genomics.models.load_model`)."""
  config = dict(MODEL, heads=HEADS, sequence_length=SEQUENCE_LENGTH,
                target_length=TARGET_LENGTH)
  with open(os.path.join(model_dir, 'operative_config.gin'), 'w') as f:
    f.writelines(f'enformer_tf.Enformer.{key} = {value!r}\n'
                 for key, value in sorted(config.items()))


def train_synthetic_model(work_dir: str, steps: int = STEPS
                          ) -> TrainedSynthetic:
  from enformer_tf.train import config, loop, schedules
  genome, records = make_records(work_dir)
  trainer = loop.Trainer(
      enformer, train_data=config.basenji_datasets(records, 'train',
                                                   shuffle_buffer=1024,
                                                   seed=0),
      model_dir=os.path.join(work_dir, 'model'), batch_size=16,
      learning_rate=schedules.LinearWarmup(2e-3, 30), checkpoint_every=steps,
      summary_every=steps, seed=0, progress=False)
  trainer.train(steps)
  write_model_config(trainer.model_dir)
  model_path = os.path.join(work_dir, 'model.keras')
  trainer.model.save(model_path)
  return TrainedSynthetic(model_path, genome, records)


def trained_or_cached(work_dir: str) -> TrainedSynthetic:
  """`train_synthetic_model(work_dir)`, unless `work_dir` holds a finished one.

  A finished run is marked by `work_dir/DONE` (written last), so an
  interrupted run is redone rather than reused.
  """
  done = os.path.join(work_dir, 'DONE')
  if os.path.exists(done):
    write_model_config(os.path.join(work_dir, 'model'))
    genome = {o: {'fasta': os.path.join(work_dir, 'genome', o, 'genome.fa'),
                  'targets': os.path.join(work_dir, 'genome', o,
                                          'targets.txt'),
                  'elements': os.path.join(work_dir, 'genome', o,
                                           'elements.bed')}
              for o in HEADS}
    records = {o: os.path.join(work_dir, 'records', o) for o in HEADS}
    return TrainedSynthetic(os.path.join(work_dir, 'model.keras'), genome,
                            records)
  result = train_synthetic_model(work_dir)
  with open(done, 'w') as f:
    f.write('ok\n')
  return result


if __name__ == '__main__':  # Timing / quality check by hand.
  import sys
  import time
  from enformer_tf.export.saved_model import load_keras_model
  from enformer_tf.train import config, evaluate
  start = time.time()
  result = train_synthetic_model(sys.argv[1],
                                 int(sys.argv[2]) if len(sys.argv) > 2
                                 else STEPS)
  print('trained in', round(time.time() - start, 1), 's')
  model = load_keras_model(result.model_path)
  for name, net in (('trained', model), ('untrained', enformer())):
    r = evaluate.evaluate(net, config.basenji_datasets(result.records, 'test'),
                          batch_size=32)
    print(name, {h: [round(float(x), 3) for x in v.pearson_r]
                 for h, v in r.items()})
