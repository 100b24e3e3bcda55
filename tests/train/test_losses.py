"""Poisson NLL: the reference formula, Keras' poisson, the Loss class."""
import json

import numpy as np
import tensorflow as tf
import tf_keras as keras

from enformer_tf.train import losses


def _data(seed=0, shape=(3, 5, 4)):
  rng = np.random.default_rng(seed)
  y_true = rng.gamma(1.0, 2.0, shape).astype(np.float32)
  y_pred = rng.gamma(2.0, 1.0, shape).astype(np.float32) + 0.01
  return y_true, y_pred


def test_poisson_nll_matches_formula_and_keras_poisson():
  y_true, y_pred = _data()
  got = losses.poisson_nll(y_true, y_pred).numpy()  # [B]
  formula = (y_pred - y_true * np.log(y_pred + losses.EPSILON)).mean((1, 2))
  np.testing.assert_allclose(got, formula, rtol=1e-6)
  # The reference: reduce_mean(keras.losses.poisson(target, prediction)).
  keras_poisson = keras.losses.poisson(y_true, y_pred).numpy().mean(-1)  # [B]
  np.testing.assert_allclose(got, keras_poisson, rtol=1e-6)
  np.testing.assert_allclose(
      got.mean(),
      tf.reduce_mean(keras.losses.poisson(y_true, y_pred)).numpy(), rtol=1e-6)


def test_poisson_nll_float16_targets_and_zero_predictions():
  y_true, y_pred = _data(1)
  got = losses.poisson_nll(y_true.astype(np.float16), y_pred)
  assert got.dtype == tf.float32
  np.testing.assert_allclose(
      got.numpy(),
      losses.poisson_nll(y_true.astype(np.float16).astype(np.float32),
                         y_pred).numpy(), rtol=1e-6)
  assert np.isfinite(losses.poisson_nll(y_true, np.zeros_like(y_pred))).all()


def test_poisson_loss_reduces_to_the_batch_mean():
  y_true, y_pred = _data(2)
  loss = losses.PoissonLoss()
  np.testing.assert_allclose(
      loss(y_true, y_pred).numpy(),
      losses.poisson_nll(y_true, y_pred).numpy().mean(), rtol=1e-6)
  weights = np.array([1.0, 0.0, 2.0], np.float32)
  per_example = losses.poisson_nll(y_true, y_pred).numpy()
  np.testing.assert_allclose(loss(y_true, y_pred, sample_weight=weights),
                             (per_example * weights).sum() / 3, rtol=1e-6)


def test_poisson_loss_serializes():
  loss = losses.PoissonLoss(reduction=keras.losses.Reduction.SUM,
                            name='custom')
  config = json.loads(json.dumps(keras.losses.serialize(loss)))
  restored = keras.losses.deserialize(config)
  assert isinstance(restored, losses.PoissonLoss)
  assert restored.get_config() == loss.get_config()
  assert restored.name == 'custom'
  assert restored.reduction == keras.losses.Reduction.SUM
