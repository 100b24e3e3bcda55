"""Fixtures for the training tests: a tiny Enformer and random datasets."""
import numpy as np
import pytest
import tensorflow as tf

from enformer_tf import Enformer
from enformer_tf.train import strategy as strategy_lib

HEADS = {'human': 3, 'mouse': 2}
SEQUENCE_LENGTH = 1024
TARGET_LENGTH = 4


def tiny_enformer(dropout: bool = True, **kwargs) -> Enformer:
  """48 channels, 1 transformer layer, 1,024 bp -> 4 bins; builds in ~1 s."""
  rates = {} if dropout else dict(
      dropout_rate=0.0, attention_dropout_rate=0.0,
      positional_dropout_rate=0.0, final_dropout_rate=0.0)
  config = dict(channels=48, num_transformer_layers=1, num_heads=2,
                heads=HEADS, target_length=TARGET_LENGTH,
                sequence_length=SEQUENCE_LENGTH, conv_tower_divisible_by=8,
                **rates)
  config.update(kwargs)
  return Enformer(**config)


def random_examples(num_examples: int, num_tracks: int, seed: int = 0,
                    length: int = SEQUENCE_LENGTH,
                    target_length: int = TARGET_LENGTH):
  """NumPy one-hot sequences `[n, L, 4]` and gamma targets `[n, T, N]`."""
  rng = np.random.default_rng(seed)
  sequence = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (num_examples,
                                                            length))]
  target = rng.gamma(1.0, 1.0, (num_examples, target_length,
                                num_tracks)).astype(np.float32)
  return sequence, target


def random_datasets(num_examples: int = 8, seed: int = 0, heads=None):
  """organism -> unbatched `{'sequence', 'target'}` dataset."""
  datasets = {}
  for i, (head, tracks) in enumerate((heads or HEADS).items()):
    sequence, target = random_examples(num_examples, tracks, seed + 100 * i)
    datasets[head] = tf.data.Dataset.from_tensor_slices(
        {'sequence': sequence, 'target': target})
  return datasets


@pytest.fixture(scope='session')
def tiny_model():
  """`tiny_enformer(dropout=True, **overrides)`."""
  return tiny_enformer


@pytest.fixture(scope='session')
def make_datasets():
  """`random_datasets(num_examples=8, seed=0, heads=None)`."""
  return random_datasets


@pytest.fixture(scope='session')
def make_examples():
  """`random_examples(num_examples, num_tracks, seed=0)`."""
  return random_examples


@pytest.fixture
def mirrored_strategy():
  """A MirroredStrategy over the two logical CPUs of tests/conftest.py.

  Made by `get_strategy`, which gives every strategy its own collective keys:
  strategies made directly with `tf.distribute.MirroredStrategy` in one
  process reuse the same keys and clash.
  """
  return strategy_lib.get_strategy('mirrored', devices=['/cpu:0', '/cpu:1'])
