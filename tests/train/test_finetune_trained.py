"""Fine-tuning the trained synthetic model for a track it never saw.

The new assay is a known function of the planted elements
(`elements.bed`): a ChIP-like signal at *strong* promoters only (weak
promoters, enhancers and decoys give nothing), 4 per motif base pair
overlapping a 128-bp bin / 14. The model was trained on CAGE and DNase
tracks, where weak promoters also have signal (0.3 of a strong one), so the
new track needs a threshold the old heads do not draw. Training windows are
on chr1, held-out windows on chr2 and chr3; each window is centred near an
element (random offset) or at random.

Why the margin over the ridge probe is small and noisy (issue 17):
- the held-out chromosomes have few strong promoters (4 on chr3, 8 with
  chr2: 10 positive bins), so R rests on a handful of bins;
- the track is nearly linear in what the trunk already encodes: with the
  promoter strengths of the two heads (human strong/medium/weak 1/0.6/0.3,
  mouse 0.8/1/0.45), 1.92 human - 1.15 mouse is 1, 0, 0.06 for strong,
  medium, weak and 0 elsewhere, so a ridge probe is a strong baseline;
- 60 steps on 15 strong training promoters vary a lot with the seed (head
  initialisation, batch order): held-out R 0.46-0.67 across three seeds of
  one fixture with the plain recipe, one run at 0.13 with another.
The recipe here reduces that variance: BatchNorm statistics frozen (batches
of 16 biased towards elements), the head's bias at the targets' mean
(softplus^-1), reverse-complement augmentation; and the evaluation on chr2
and chr3 doubles the positives.
"""
import csv
import os
import time

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from sklearn.linear_model import RidgeCV

from enformer_tf import Enformer
from enformer_tf.data.encoding import one_hot_encode
from enformer_tf.data.genome import FastaExtractor
from enformer_tf.train import finetune

STEPS = int(os.environ.get('ENFORMER_TEST_FINETUNE_STEPS', 60))
BATCH = 16
MOTIF = 14
SCALE = 4.0


def _elements(path):
  with open(path, encoding='utf-8') as f:
    rows = [r for r in csv.reader(f, delimiter='\t')
            if r and not r[0].startswith('#')]
  return [(r[0], int(r[1]), int(r[2]), r[6], r[7]) for r in rows]


def _target(elements, chrom, start, bins, bin_size=128):
  """The new track over `bins` bins from `start`: a formula, not a model."""
  values = np.zeros(bins, np.float32)
  for c, s, e, kind, variant in elements:
    if c != chrom or kind != 'promoter' or variant != 'strong':
      continue
    for b in range(bins):
      lo, hi = start + b * bin_size, start + (b + 1) * bin_size
      values[b] += SCALE * max(0, min(hi, e) - max(lo, s)) / MOTIF
  return values


def _windows(fasta, elements, chrom, length, bins, rng, random_windows):
  size = fasta.chromosome_sizes[chrom]
  centres = [(s + e) // 2 + rng.randint(-bins * 64, bins * 64)
             for c, s, e, _, _ in elements if c == chrom]
  centres += list(rng.randint(length, size - length, random_windows))
  xs, ys = [], []
  for centre in centres:
    start = int(centre) - length // 2
    if start < 0 or start + length > size:
      continue
    xs.append(one_hot_encode(fasta.extract(chrom, start, start + length)
                             .upper()))
    first_bin = start + (length - bins * 128) // 2
    ys.append(_target(elements, chrom, first_bin, bins)[:, None])
  return np.stack(xs), np.stack(ys)


def _fit(model, x, y, steps, seed=0):
  optimizer = keras.optimizers.Adam(1e-3, jit_compile=False)
  variables = model.trainable_variables
  # The head starts at the targets' mean: softplus(bias) = mean.
  model.head_layers['chip'].bias.assign([np.log(np.expm1(y.mean()))])

  @tf.function
  def step(xb, yb):
    with tf.GradientTape() as tape:
      prediction = model.predict_head(xb, 'chip', training=True)
      loss = tf.reduce_mean(prediction - yb * tf.math.log(prediction + 1e-6))
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss

  rng = np.random.RandomState(seed)
  for _ in range(steps):
    idx = rng.choice(len(x), BATCH, replace=False)
    # Reverse complement half of them: the window and its bins reversed
    # (the track is strand-symmetric, the target bins centred).
    flip = rng.rand(BATCH)[:, None, None] < 0.5
    xb = np.where(flip, x[idx][:, ::-1, ::-1], x[idx])
    yb = np.where(flip, y[idx][:, ::-1], y[idx])
    step(tf.constant(xb), tf.constant(yb))


def _predict(model, x):
  return np.concatenate([model.predict_head(x[i:i + 64], 'chip').numpy()
                         for i in range(0, len(x), 64)])


def _pearson(a, b):
  return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_finetuned_beats_scratch_and_ridge_probe(trained_synthetic):
  began = time.time()
  genome = trained_synthetic.genome['human']
  elements = _elements(genome['elements'])
  length, bins = (trained_synthetic.sequence_length,
                  trained_synthetic.target_length)
  rng = np.random.RandomState(0)
  with FastaExtractor(genome['fasta']) as fasta:
    x_train, y_train = _windows(fasta, elements, 'chr1', length, bins, rng,
                                random_windows=60)
    held_out = [_windows(fasta, elements, chrom, length, bins, rng,
                         random_windows=30) for chrom in ('chr2', 'chr3')]
  x_test = np.concatenate([x for x, _ in held_out])
  y_test = np.concatenate([y for _, y in held_out])
  assert y_train.max() > 0 and y_test.max() > 0

  source = finetune.load_source(trained_synthetic.model_path)
  keras.utils.set_random_seed(0)
  tuned, report = finetune.prepare_finetune(
      source, heads={'chip': 1}, keep_source_heads=False, train='all',
      batch_norm='freeze_statistics')
  assert report.new_heads == ['chip']
  _fit(tuned, x_train, y_train, STEPS)
  r_tuned = _pearson(_predict(tuned, x_test), y_test)

  keras.utils.set_random_seed(0)
  config = source.get_config()
  config['heads'] = {'chip': 1}
  scratch = Enformer(**config)
  scratch.build(tf.TensorShape([None, length, 4]))
  _fit(scratch, x_train, y_train, STEPS)
  r_scratch = _pearson(_predict(scratch, x_test), y_test)

  def embed(x):
    return np.concatenate([source.embed(x[i:i + 64]).numpy()
                           for i in range(0, len(x), 64)])
  e_train, e_test = embed(x_train), embed(x_test)  # [n, bins, 2C]
  probe = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(
      e_train.reshape(-1, e_train.shape[-1]), y_train.ravel())
  r_probe = _pearson(probe.predict(e_test.reshape(-1, e_test.shape[-1])),
                     y_test)
  print(f'\nheld-out R: fine-tuned {r_tuned:.3f}, from scratch '
        f'{r_scratch:.3f}, ridge probe {r_probe:.3f} ({STEPS} steps of '
        f'{BATCH}; {len(x_train)} train / {len(x_test)} test windows; '
        f'{time.time() - began:.0f} s)')
  # Measured with this recipe (2-core Intel Xeon, AVX-512/AMX, 2026-12-05;
  # held out chr2 + chr3; fine-tuning seeds 0 / 1 / 2; docs/fine_tuning.md):
  # fixture of suite seed 1, oneDNN on: 0.699 / 0.717 / 0.546, probe 0.451;
  # seed 1 trained oneDNN off: 0.810 / 0.621 / 0.707, probe 0.426; seed 2,
  # oneDNN on: 0.845 / 0.836 / 0.837, probe 0.542. Seed 0 with oneDNN off
  # at fine-tuning: 0.708 and 0.810. Margin +0.095 to +0.38 in those 11
  # runs; the plain recipe (BatchNorm training, no bias or augmentation)
  # gave 0.457-0.668 on the first fixture. Scratch -0.04..0.02. The bar is
  # half the smallest margin seen: seeds still move R by up to 0.2.
  assert r_tuned > r_scratch + 0.3
  assert r_tuned > r_probe + 0.05
