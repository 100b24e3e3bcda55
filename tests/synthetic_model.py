"""A small Enformer trained on a small synthetic genome, for tests that need
a model which has learnt something (training learns; variant effects and
contribution scores point at planted motifs).

`train_synthetic_model(work_dir)` writes the genome, its records and a
trained `.keras` model under `work_dir` and returns a `TrainedSynthetic`.
`tests/conftest.py` makes it once per session (fixture `trained_synthetic`).

It trains to a criterion, not for a fixed number of steps: from `MIN_STEPS`
on, every `CHECK_EVERY` steps, the checks the tests make (tests/
trained_checks.py) run on the validation chromosome (chr2), and training
stops once they all pass there, with a peak margin of at least
`CRITERION_PEAK_MARGIN`. The tests then check the held-out chromosome
(chr3). How many steps that takes depends on the CPU (oneDNN kernels) and
the seed; `MAX_STEPS` is a cap that measured runs stay well below, and
reaching it is an error rather than a silently weaker model. An
initialisation that collapses to flat predictions (`COLLAPSE_STEP`) is
replaced by a fresh one; tests/README.md has the measured distribution.

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
# First check at step 250, then every 50: seed 1 with oneDNN on (Intel Xeon
# AMX, 2026-12-05, checks from step 150) had peak margins 0.16, 0.69 and
# 1.51 at steps 150, 200 and 250, and passed every check at 250; a check
# costs a few seconds, 50 steps about 20 s of the suite.
MIN_STEPS = 250
CHECK_EVERY = 50
MAX_STEPS = 2000
# Some initialisations never find the promoter motif: their predictions stay
# near flat (peak margin 0.3-0.85 up to step 900; seed 0 at 5e-3 with oneDNN
# on, AMD EPYC), while runs that learn mostly have margins of 1.2 or more by
# step 500 (seed 3 dipped to 0.36 at step 400 and reached 1.36 at 500). So a
# run whose margin is under 1.0 at step 500 or later is replaced by a fresh
# initialisation (seed + 1000 per attempt), at most MAX_ATTEMPTS times, and
# then the fixture raises rather than passing a weaker model. This hides the
# problem, it does not solve it: in the AMD sweep 12 of 22 attempts failed
# and one run (seed 4, oneDNN off) failed all five (tests/README.md).
# Batches of 32, not 16: the failing initialisations are those whose
# early peaks are washed out again by gradient noise (margins that rise,
# then fall, e.g. 0.84 -> 0.81 -> 0.66 at steps 300-500). Of six known
# collapsed initialisations (seeds 2, 1002, 2002 oneDNN off; 3, 1003, 2
# oneDNN on; AMD EPYC, 2026-12-03), five pass the margin of 1.2 by step 300
# at batch 32 and one (seed 2, oneDNN on) still collapses. Head biases from
# the targets' means rescued three of the six at batch 16 and made two of
# three worse at batch 32, so the heads start at zero (the reference's).
BATCH_SIZE = 32
# The suite's seed. Any seed gets a passing model (the restarts); this one
# gets it on the first initialisation under both kernel settings in the
# batch-32 sweep (300 steps each), where seed 0 with oneDNN off collapsed
# once and cost the suite 4 extra minutes. A time choice, not a test one.
SUITE_SEED = 1
# An initialisation whose margin is under 1.0 at step 300 or later has not
# found the promoter motif (or has lost it again) and is replaced.
# Of the five single-initialisation trials of this architecture under 0.6
# at step 300 on the Intel Xeon (2026-12-04, tests/fixture_trials_
# 2026-12-04_intel.txt: margins 0.17, 0.18, 0.28, 0.29, 0.52), none had
# passed the criterion when its trial stopped (the old step-500 rule, the
# trial's cap of 700, or by hand at 400; the 0.52 one reached 1.35 at step
# 500 and still failed other checks at 700), while the trials that passed
# had 1.17-1.6 at step 300. (A conv-only trial at 0.49 did pass at 500.)
# 2026-12-05 (suite run, Intel Xeon, oneDNN on, checks every 50 from 250):
# seed 1's first initialisation had margins 0.82, 0.67, 0.56, 0.59, 0.60,
# 0.17 at steps 250-500 (the rise-then-wash-out pattern) and cost the suite
# 500 steps and six checks under the old rule (0.6 at step 300, 1.0 from
# 500) before its restart passed at 250. A run that would have recovered
# later may be replaced: that costs time, never correctness, since the
# criterion still decides.
COLLAPSE_STEP = 300
COLLAPSED_MARGIN = 1.0
MAX_ATTEMPTS = 5
DECAY_STEPS = 800
PEAK_LEARNING_RATE = 5e-3
WARMUP_STEPS = 30
CRITERION_PEAK_MARGIN = 1.2
TARGET_SCALE = 0.02
VALID_CHROM, TEST_CHROM = 'chr2', 'chr3'


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
  """targets.txt with every track scaled by TARGET_SCALE (column 5).

  Peaks of the synthetic tracks sum to hundreds per 128-bp bin; scaled to a
  few units, the Poisson loss is better conditioned and a small model
  learns them in a few hundred steps. The `gc` track (a `mean`, about 4.5 in
  every bin) is scaled too: left at 4.5 it dominated the loss and the clipped
  global gradient norm while the peak tracks were near 0, and initialisations
  that never found the promoter motif were common. With it scaled, the first
  initialisations of seed 4 (oneDNN off) and seed 0 (oneDNN on), which had
  collapsed, pass every check at step 300; seed 3 (oneDNN off) still
  collapses (AMD EPYC, 2026-12-03).
  """
  from enformer_tf.data import targets as targets_lib
  return targets_lib.write_scaled_targets(path, TARGET_SCALE)


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
  training directory loads like one (`enformer_tf.load_model`)."""
  config = dict(MODEL, heads=HEADS, sequence_length=SEQUENCE_LENGTH,
                target_length=TARGET_LENGTH)
  with open(os.path.join(model_dir, 'operative_config.gin'), 'w') as f:
    f.writelines(f'enformer_tf.Enformer.{key} = {value!r}\n'
                 for key, value in sorted(config.items()))


def learning_rate():
  """Warmup to 5e-3 over 30 steps, then cosine decay to 5e-4 at step 800.

  The peak rate decides whether an initialisation finds the promoter motif
  at all (first initialisation only, oneDNN on): at 2e-3 seeds 2, 3 and 6
  of 0-7 stayed near flat (peak margin < 0.8 at step 500; Intel Xeon AMX),
  and seeds 2 and 6 again with a 4x larger training chromosome (AMD EPYC);
  at 1e-3 six of six did (Intel); at 5e-3 seeds 2 and 6 pass every check at
  step 300 and seed 3 has its peaks by step 500 (AMD); over the whole AMD
  sweep, though, 12 of 22 initialisations still failed at 5e-3.
  The decay settles gradient x input at the motifs, which keeps moving at a
  constant rate.
  """
  import tf_keras as keras
  return keras.optimizers.schedules.CosineDecay(
      0.0, DECAY_STEPS, alpha=0.1, warmup_target=PEAK_LEARNING_RATE,
      warmup_steps=WARMUP_STEPS)


class CriterionNotReached(RuntimeError):
  """Training reached MAX_STEPS without passing the checks on chr2."""


def criterion_failures(model, genome, records):
  """(failures, figures) of every check on the validation chromosome."""
  import trained_checks
  files = genome['human']
  failures, figures = [], {}
  for found, measured in (
      trained_checks.promoter_peaks(model, files, VALID_CHROM),
      trained_checks.motif_attributions(model, files, VALID_CHROM,
                                        SEQUENCE_LENGTH, TARGET_LENGTH),
      trained_checks.track_correlations(model, records, 'valid')):
    failures += found
    figures.update(measured)
  if figures['peak_margin_min'] < CRITERION_PEAK_MARGIN:
    failures.append(f"peak margin {figures['peak_margin_min']:.3f} < "
                    f'{CRITERION_PEAK_MARGIN}')
  return failures, figures


def train_synthetic_model(work_dir: str, seed: int = 0,
                          max_steps: int = MAX_STEPS) -> TrainedSynthetic:
  """Trains until the checks pass on chr2 (see the module docstring).

  Writes `work_dir/criterion.json`: the figures measured at every check.

  Raises:
    CriterionNotReached: at `max_steps` the checks still fail.
  """
  import json
  import shutil
  from enformer_tf.train import Trainer, config
  genome, records = make_records(work_dir)
  history = []
  for attempt in range(MAX_ATTEMPTS):
    model_dir = os.path.join(work_dir, 'model')
    shutil.rmtree(model_dir, ignore_errors=True)
    attempt_seed = seed + 1000 * attempt
    trainer = Trainer(
        enformer, train_data=config.basenji_datasets(records, 'train',
                                                     shuffle_buffer=1024,
                                                     seed=attempt_seed),
        model_dir=model_dir, batch_size=BATCH_SIZE,
        learning_rate=learning_rate(),
        checkpoint_every=max_steps, summary_every=max_steps,
        seed=attempt_seed, progress=False)
    step = MIN_STEPS
    while True:
      trainer.train(step)
      failures, figures = criterion_failures(trainer.model, genome, records)
      history.append(dict(attempt=attempt, seed=attempt_seed, step=step,
                          failures=failures, **figures))
      with open(os.path.join(work_dir, 'criterion.json'), 'w') as f:
        json.dump(history, f, indent=1)
      if not failures:
        break
      margin = figures['peak_margin_min']
      if step >= COLLAPSE_STEP and margin < COLLAPSED_MARGIN:
        break  # Collapsed: this initialisation will not learn the peaks.
      if step >= max_steps:
        raise CriterionNotReached(
            f'after {step} steps the trained synthetic model still fails on '
            f'{VALID_CHROM}: {failures[:3]} (history in {work_dir}/'
            'criterion.json)')
      step = min(step + CHECK_EVERY, max_steps)
    if not failures:
      break
  else:
    raise CriterionNotReached(
        f'{MAX_ATTEMPTS} initialisations collapsed to flat predictions '
        f'(history in {work_dir}/criterion.json)')
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
                                           'elements.bed'),
                  'genes': os.path.join(work_dir, 'genome', o, 'genes.gtf')}
              for o in HEADS}
    records = {o: os.path.join(work_dir, 'records', o) for o in HEADS}
    return TrainedSynthetic(os.path.join(work_dir, 'model.keras'), genome,
                            records)
  result = train_synthetic_model(work_dir, SUITE_SEED)
  with open(done, 'w') as f:
    f.write('ok\n')
  return result


def held_out_report(work_dir: str, seed: int = 0) -> dict:
  """Trains in `work_dir` and runs the tests' checks on chr3: the figures
  behind the margins quoted in tests (python tests/synthetic_model.py DIR
  [SEED] prints them as one JSON line)."""
  import json
  import time
  import trained_checks
  from enformer_tf.io import load_keras_model
  begin = time.time()
  result = train_synthetic_model(work_dir, seed)
  minutes = (time.time() - begin) / 60
  with open(os.path.join(work_dir, 'criterion.json')) as f:
    history = json.load(f)
  steps, attempts = history[-1]['step'], history[-1]['attempt'] + 1
  model = load_keras_model(result.model_path)
  report = dict(seed=seed, steps=steps, attempts=attempts,
                minutes=round(minutes, 2),
                onednn=os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'default'))
  failures = []
  for found, figures in (
      trained_checks.promoter_peaks(model, result.genome['human'],
                                    TEST_CHROM),
      trained_checks.motif_attributions(
          model, result.genome['human'], TEST_CHROM, SEQUENCE_LENGTH,
          TARGET_LENGTH,
          min_sign_agreement=trained_checks.HELD_OUT_MIN_SIGN_AGREEMENT,
          min_r=trained_checks.HELD_OUT_MIN_GRADIENT_ISM_R),
      trained_checks.track_correlations(model, result.records, 'test',
                                        untrained=enformer())):
    failures += found
    report.update({k: round(v, 4) for k, v in figures.items()})
  report['test_failures'] = failures
  return report


if __name__ == '__main__':
  import json
  import sys
  print(json.dumps(held_out_report(
      sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)), flush=True)
