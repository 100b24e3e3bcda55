"""A short training run on the synthetic genome learns (issue 3, item 9).

The shared fixture trains a small Enformer on a small synthetic genome until
the checks pass on the validation chromosome (tests/synthetic_model.py);
here it is compared with the same architecture untrained, on the held-out
chromosome (chr3).
"""
import synthetic_model
import trained_checks


def test_training_on_the_synthetic_genome_beats_an_untrained_model(
    trained_synthetic):
  """cage_promoter (local and strong) R > 0.6; every peak track of both heads
  R > 0.3 and 0.25 above the untrained model; mouse mean 0.3 above it."""
  from enformer_tf.io import load_keras_model
  failures, _ = trained_checks.track_correlations(
      load_keras_model(trained_synthetic.model_path),
      trained_synthetic.records, 'test', untrained=synthetic_model.enformer())
  assert not failures, failures
