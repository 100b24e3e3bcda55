"""A short training run on the synthetic genome learns (issue 3, item 9).

The shared fixture trains a small Enformer for a few hundred steps on a
small synthetic genome (tests/synthetic_model.py); here it is compared with
the same architecture untrained, on the held-out chromosome (chr3).
"""
import numpy as np

import synthetic_model
from enformer_tf.export.saved_model import load_keras_model
from enformer_tf.train import config, evaluate


def _pearson(model, records):
  results = evaluate.evaluate(model, config.basenji_datasets(records, 'test'),
                              batch_size=32)
  return {head: result.pearson_r for head, result in results.items()}


def test_training_on_the_synthetic_genome_beats_an_untrained_model(
    trained_synthetic):
  trained = _pearson(load_keras_model(trained_synthetic.model_path),
                     trained_synthetic.records)
  untrained = _pearson(synthetic_model.enformer(), trained_synthetic.records)
  names = {head: evaluate.read_track_identifiers(path)
           for head, path in trained_synthetic.records.items()}

  # The promoter track is local and strong: learnt well on both organisms.
  human_promoter = names['human'].index('cage_promoter')
  assert trained['human'][human_promoter] > 0.6
  # Every peak track of both heads is clearly above the untrained model.
  for head, tracks in names.items():
    for i, name in enumerate(tracks):
      if name == 'gc':  # Smooth GC content: even random convs correlate.
        continue
      assert trained[head][i] > 0.3, (head, name, trained[head][i])
      assert trained[head][i] > untrained[head][i] + 0.25, (head, name)
  assert np.mean(trained['mouse']) > np.mean(untrained['mouse']) + 0.3
