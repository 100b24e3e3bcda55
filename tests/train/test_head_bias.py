"""Head biases from the targets' means: the maths, and the Trainer option."""
import numpy as np
import pytest
import tensorflow as tf

from enformer_tf.train import Trainer, head_bias


def test_inverse_softplus_inverts_softplus_over_the_range_counts_take():
  y = np.array([1e-4, 0.02, 0.69, 1.0, 8.0, 50.0, 300.0])
  x = head_bias.inverse_softplus(y)
  np.testing.assert_allclose(tf.math.softplus(x).numpy(), y, rtol=1e-9)


def test_target_means_are_per_track_over_bins_and_examples():
  target = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
  dataset = tf.data.Dataset.from_tensor_slices(
      {'sequence': np.zeros((2, 8, 4), np.float32), 'target': target})
  np.testing.assert_allclose(head_bias.target_means(dataset),
                             target.reshape(-1, 2).mean(0))
  np.testing.assert_allclose(head_bias.target_means(dataset, max_examples=1),
                             target[0].mean(0))


def test_a_fresh_trainer_starts_each_head_at_its_tracks_mean(
    tmp_path, tiny_model, make_datasets):
  datasets = make_datasets()
  trainer = Trainer(lambda: tiny_model(dropout=False), datasets,
                    str(tmp_path), batch_size=2, progress=False,
                    head_bias_init='target_mean')
  x = tf.zeros([1, 1024, 4])
  for organism, dataset in datasets.items():
    layer = trainer.model.head_layers[organism]
    want = head_bias.target_means(dataset)
    np.testing.assert_allclose(tf.math.softplus(layer.bias).numpy(), want,
                               rtol=1e-5)
    # With the kernel zeroed, the prediction is the mean at every bin.
    layer.kernel.assign(tf.zeros_like(layer.kernel))
    prediction = trainer.model(x, training=False)[organism].numpy()
    np.testing.assert_allclose(prediction, np.broadcast_to(
        want, prediction.shape), rtol=1e-5)


def test_head_bias_init_rejects_unknown_modes_and_wrong_track_counts(
    tmp_path, tiny_model, make_datasets):
  with pytest.raises(ValueError, match="head_bias_init must be one of"):
    Trainer(tiny_model, make_datasets(), str(tmp_path / 'a'),
            head_bias_init='mean')
  model = tiny_model()
  model.build(tf.TensorShape([None, 1024, 4]))
  wrong = {'human': make_datasets(heads={'human': 5})['human']}
  with pytest.raises(ValueError, match="head 'human' has 3 tracks but its "
                     'training targets have 5'):
    head_bias.initialise_head_biases(model, wrong)
