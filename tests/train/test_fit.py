"""The Keras path: compile with PoissonLoss / PearsonR and `model.fit`."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from enformer_tf.train import evaluate
from enformer_tf.train import fit
from enformer_tf.train import losses
from enformer_tf.train import metrics
from enformer_tf.train import schedules


def test_fit_dataset_form(make_datasets):
  data = make_datasets(5)['mouse']
  batches = list(fit.fit_dataset(data, 'mouse', batch_size=2))
  assert len(batches) == 2  # The partial batch is dropped.
  sequence, targets = batches[0]
  assert sequence.shape == (2, 1024, 4)
  assert list(targets) == ['mouse'] and targets['mouse'].shape == (2, 4, 2)
  augmented = next(iter(fit.fit_dataset(data, 'mouse', 2, augment=True)))
  assert augmented[0].shape == (2, 1024, 4)


def _create_training_variables(model, data):
  """Evaluates the untrained model on `data` (finite loss) and builds the
  optimizer's slots, as `Trainer` does: the variables `fit` would create
  inside its first trace of the train function, which makes tf.function
  trace that function a second time (4 s of CPU here, 12 s mirrored). The
  model must be built first, or `evaluate` creates its variables inside
  its own trace."""
  logs = model.evaluate(data, return_dict=True, verbose=0)
  assert np.isfinite(logs['loss']), logs
  model.optimizer.build(model.trainable_variables)


def test_fit_evaluate_and_the_custom_metrics_agree(tiny_model, make_datasets):
  model = tiny_model()
  model.build((None, 1024, 4))  # See _create_training_variables.
  fit.compile_for_fit(
      model, {'human': 3},
      optimizer=keras.optimizers.Adam(
          schedules.LinearWarmup(1e-3, warmup_steps=2), global_clipnorm=0.2))
  train = fit.fit_dataset(make_datasets(6)['human'], 'human', batch_size=2)
  valid_examples = make_datasets(4, seed=5)['human']
  valid = fit.fit_dataset(valid_examples, 'human', batch_size=2)

  class CountBatches(keras.callbacks.Callback):
    batches = 0

    def on_train_batch_end(self, batch, logs=None):
      CountBatches.batches += 1

  _create_training_variables(model, valid)
  history = model.fit(train, epochs=2, validation_data=valid,
                      callbacks=[CountBatches()], verbose=0)
  assert CountBatches.batches == 6
  for key in ('loss', 'human_pearson_r', 'human_r2', 'val_loss',
              'val_human_pearson_r', 'val_human_r2'):
    assert len(history.history[key]) == 2 and np.isfinite(
        history.history[key]).all(), key
  assert int(model.optimizer.iterations.numpy()) == 6

  # evaluate() equals the Poisson NLL and the custom loop's evaluation.
  logs = model.evaluate(valid, return_dict=True, verbose=0)
  sequence, targets = next(iter(valid.unbatch().batch(4)))
  prediction = model.predict_head(sequence, 'human', training=False)
  np.testing.assert_allclose(
      logs['loss'],
      losses.poisson_nll(targets['human'], prediction).numpy().mean(),
      rtol=1e-5)
  # Same batches as evaluate(); 16 values per track make the correlation
  # sensitive to float32 round-off in the predictions, hence 1e-4.
  custom = evaluate.evaluate(model, {'human': valid_examples}, batch_size=2)
  np.testing.assert_allclose(logs['human_pearson_r'],
                             custom['human'].mean_pearson_r, atol=1e-4)
  np.testing.assert_allclose(logs['human_r2'], custom['human'].mean_r2,
                             atol=1e-4)


@pytest.mark.slow
def test_fit_under_mirrored_strategy(tiny_model, make_datasets,
                                    mirrored_strategy):
  strategy = mirrored_strategy
  with strategy.scope():
    model = tiny_model()
    # Build in the scope: a lazy build inside the replica function would
    # trace the synchronised BatchNorm in a nested graph, which fails.
    model.build((None, 1024, 4))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, global_clipnorm=0.2),
        loss={'human': losses.PoissonLoss(), 'mouse': losses.PoissonLoss()},
        metrics={'human': [metrics.PearsonR(3)],
                 'mouse': [metrics.PearsonR(2)]})
  # One dataset holding both heads' targets: the single-organism-per-example
  # case (the same sequence annotated by both heads).
  data = make_datasets(4)
  both = tf.data.Dataset.zip((data['human'], data['mouse'])).map(
      lambda h, m: (h['sequence'], {'human': h['target'],
                                    'mouse': m['target']})).batch(2)
  with strategy.scope():
    _create_training_variables(model, both)
  history = model.fit(both, epochs=1, validation_data=both, verbose=0)
  for key in ('loss', 'human_loss', 'mouse_loss', 'human_pearson_r',
              'val_mouse_pearson_r'):
    assert np.isfinite(history.history[key]).all(), key
  np.testing.assert_allclose(
      history.history['loss'][0],
      history.history['human_loss'][0] + history.history['mouse_loss'][0],
      rtol=1e-5)
