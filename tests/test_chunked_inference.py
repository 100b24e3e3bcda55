"""Inference in chunks along the length gives the whole-length outputs."""
import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from enformer_tf import Enformer, chunked_inference

L = 2048
SMALL = dict(channels=48, num_transformer_layers=1, num_heads=2,
             conv_tower_divisible_by=8, sequence_length=L, target_length=8,
             heads={'human': 3, 'mouse': 2}, dropout_rate=0.0,
             attention_dropout_rate=0.0, positional_dropout_rate=0.0,
             final_dropout_rate=0.0)


def twins(chunk_length, **overrides):
  """A whole-length model and a chunked one with the same weights."""
  keras.utils.set_random_seed(0)
  whole = Enformer(**dict(SMALL, **overrides), inference_chunk_length=None)
  whole.build((None, L, 4))
  chunked = Enformer(**dict(SMALL, **overrides),
                     inference_chunk_length=chunk_length)
  chunked.build((None, L, 4))
  chunked.set_weights(whole.get_weights())
  return whole, chunked


def dna(batch=2, seed=0):
  rng = np.random.RandomState(seed)
  x = np.eye(4, dtype=np.float32)[rng.randint(0, 4, (batch, L))]
  x[:, 500:540] = 0  # Some N.
  return x


def assert_close(got, want):
  np.testing.assert_allclose(got, want, rtol=1e-5,
                             atol=1e-6 * np.abs(want).max())


# 384 does not divide 2048 (a shorter last chunk); 128 is the smallest chunk,
# far smaller than the halo.
@pytest.mark.parametrize('chunk_length', [128, 384])
def test_chunked_inference_equals_whole_length(chunk_length):
  whole, chunked = twins(chunk_length)
  x = dna()
  want = whole(x, training=False)
  for got in (chunked(x, training=False), chunked(x),
              tf.function(lambda z: chunked(z, training=False))(x)):
    for head in want:
      assert_close(got[head].numpy(), want[head].numpy())
  for got, expected in zip(chunked.attention_weights(x),
                           whole.attention_weights(x)):
    assert_close(got.numpy(), expected.numpy())


def test_chunked_gradients_equal_whole_length():
  whole, chunked = twins(512)
  x = tf.constant(dna(batch=1))
  gradients = []
  for model in (whole, chunked):
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = tf.reduce_sum(model(x, training=False)['human'][:, 3])
    gradients.append(tape.gradient(y, x).numpy())
  assert_close(gradients[1], gradients[0])


def test_the_halo_is_what_makes_chunks_exact():
  """Chunks without the halo differ at their edges: the test above can fail."""
  whole, _ = twins(None)
  stem, tower = whole.trunk.layers[:2]
  blocks = tower.layers[:chunked_inference.CHUNKED_TOWER_BLOCKS]
  assert chunked_inference.receptive_radius(stem, blocks) == 7 + 2 * 2 + 2 * 4

  def high_resolution(x):
    x = stem(x, training=False)
    for block in blocks:
      x = block(x, training=False)
    return x

  x = tf.constant(dna())
  want = high_resolution(x).numpy()
  exact = chunked_inference.run_in_chunks(high_resolution, x, 512, 24, 8)
  assert_close(exact.numpy(), want)
  no_halo = chunked_inference.run_in_chunks(high_resolution, x, 512, 0, 8)
  assert np.abs(no_halo.numpy() - want).max() > 1e-3 * np.abs(want).max()


def test_training_runs_the_whole_length():
  """BatchNorm's batch statistics span every position: no chunks there."""
  whole, chunked = twins(256)
  x = dna()
  want = whole(x, training=True)
  got = chunked(x, training=True)
  for head in want:
    assert_close(got[head].numpy(), want[head].numpy())


def test_mixed_bfloat16_chunks():
  whole, chunked = twins(1024, mixed_bfloat16=True)
  x = dna()
  want, got = whole(x, training=False), chunked(x, training=False)
  for head in want:
    np.testing.assert_allclose(got[head].numpy(), want[head].numpy(),
                               rtol=2e-2, atol=1e-2 * np.abs(want[head]).max())


def test_option_round_trips_and_is_validated():
  _, chunked = twins(1024)
  assert Enformer.from_config(
      chunked.get_config()).inference_chunk_length == 1024
  assert Enformer().inference_chunk_length == 49_152  # The default.
  for bad in (100, 0, -128, 128.5):
    with pytest.raises(ValueError, match='inference_chunk_length must be a '
                       'positive multiple of 128'):
      Enformer(inference_chunk_length=bad)
  with pytest.raises(ValueError, match='multiples of 8'):
    chunked_inference.run_in_chunks(tf.identity, tf.zeros([1, 64, 4]), 12, 8,
                                    8)
