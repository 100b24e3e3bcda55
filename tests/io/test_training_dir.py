"""`enformer_tf.io.training_dir`: the Enformer of a training directory.

`enformer_kwargs_from_gin` reads the model's arguments off the run's
operative config; `model_from_checkpoint` builds it and restores the weights.
"""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from training_dirs import (OPERATIVE_CONFIG, random_one_hot, tiny_model,
                           write_training_dir)
from enformer_tf.io import enformer_kwargs_from_gin, model_from_checkpoint
from enformer_tf.io.training_dir import write_model_config


@pytest.fixture(scope='module')
def model():
  return tiny_model()


@pytest.fixture(scope='module')
def training_dir(model, tmp_path_factory):
  directory = tmp_path_factory.mktemp('run')
  write_training_dir(directory, model)
  return directory


def test_enformer_kwargs_from_gin():
  kwargs = enformer_kwargs_from_gin(OPERATIVE_CONFIG)
  assert kwargs['sequence_length'] == 1024  # The macro, resolved.
  assert kwargs['heads'] == {'human': 5, 'mouse': 3}
  assert enformer_kwargs_from_gin(
      'Enformer.channels = 96\nfinetune/Enformer.channels = 192\n'
      'enformer_tf.model.Enformer.heads = {"human": 2}\n') == {
          'channels': 192, 'heads': {'human': 2}}
  with pytest.raises(ValueError, match='binds no Enformer parameters'):
    enformer_kwargs_from_gin('Trainer.batch_size = 2\n')
  with pytest.raises(ValueError, match='several scopes'):
    enformer_kwargs_from_gin('a/Enformer.channels = 1\nb/Enformer.channels = 2')
  with pytest.raises(ValueError, match='Enformer.heads = @heads'):
    enformer_kwargs_from_gin('Enformer.heads = @heads()\n')
  with pytest.raises(ValueError, match='%MISSING'):
    enformer_kwargs_from_gin('Enformer.channels = %MISSING\n')


def test_model_from_checkpoint_restores_the_trained_weights(model,
                                                            training_dir):
  restored = model_from_checkpoint(str(training_dir))
  x = random_one_hot(1, seed=2)
  expected = model(x, training=False)
  for head, value in restored(x, training=False).items():
    np.testing.assert_array_equal(value.numpy(), expected[head].numpy())
  # A checkpoint prefix works too.
  prefix = tf.train.latest_checkpoint(str(training_dir))
  assert prefix.endswith('ckpt-20')
  assert model_from_checkpoint(prefix).channels == 48


def test_model_from_a_real_training_run(smoke_training):
  """What `enformer-train` writes (the smoke experiment: 2 steps; run once
  for the session, tests/smoke_run.py)."""
  assert smoke_training.returncode == 0, smoke_training.stderr[-2000:]
  run_dir = smoke_training.model_dir
  model = model_from_checkpoint(str(run_dir))
  reader = tf.train.load_checkpoint(str(run_dir))
  for head in model.heads:
    np.testing.assert_array_equal(
        model.head_layers[head].kernel.numpy(),
        reader.get_tensor(
            f'model/head_layers/{head}/kernel/.ATTRIBUTES/VARIABLE_VALUE'))
  # The smoke model: enformer_tiny.gin.
  assert (model.channels, model.sequence_length, model.heads) == (
      48, 1024, {'human': 3, 'mouse': 2})


def test_model_config_json_is_read_first_and_checked(model, tmp_path):
  """`model_config.json` (what the Trainer writes) describes the model; the
  gin config is not needed (a fine-tuning run's binds no Enformer)."""
  write_training_dir(tmp_path, model, config='Trainer.model = @finetune\n')
  assert write_model_config(str(tmp_path), model)
  restored = model_from_checkpoint(str(tmp_path))
  x = random_one_hot(1, seed=3)
  np.testing.assert_array_equal(restored(x)['mouse'].numpy(),
                                model(x)['mouse'].numpy())
  path = tmp_path / 'model_config.json'
  spec = json.loads(path.read_text())
  assert spec['config']['heads'] == {'human': 5, 'mouse': 3}
  assert spec['lora'] == []
  for wrong, message in (({**spec, 'format': 9}, 'not a model config of '
                          'format 1'),
                         ({**spec, 'class_name': 'Other'}, "'Other', not an "
                          'Enformer'),
                         ({**spec, 'config': {**spec['config'], 'chanels': 4}},
                          'chanels'),
                         ({**spec, 'lora': [{'block': 0}]}, 'LoRA config '
                          'entry must have the keys')):
    path.write_text(json.dumps(wrong))
    with pytest.raises(ValueError, match=message):
      model_from_checkpoint(str(tmp_path))


def test_model_from_checkpoint_errors(model, tmp_path):
  with pytest.raises(FileNotFoundError, match='No checkpoint'):
    model_from_checkpoint(str(tmp_path))
  with pytest.raises(FileNotFoundError, match='neither'):
    model_from_checkpoint(str(tmp_path / 'missing'))
  no_config = tmp_path / 'no_config'
  no_config.mkdir()
  write_training_dir(no_config, model, config=None)
  with pytest.raises(FileNotFoundError,
                     match='No model_config.json or operative_config.gin'):
    model_from_checkpoint(str(no_config))
  wrong = tmp_path / 'wrong'
  wrong.mkdir()
  write_training_dir(wrong, model, OPERATIVE_CONFIG.replace(
      'num_transformer_layers = 1', 'num_transformer_layers = 2'))
  with pytest.raises(ValueError, match='does not hold every variable'):
    model_from_checkpoint(str(wrong))
  other_shape = tmp_path / 'other_shape'
  other_shape.mkdir()
  write_training_dir(other_shape, model, OPERATIVE_CONFIG.replace(
      "'human': 5", "'human': 6"))
  with pytest.raises(ValueError, match='same shape'):
    model_from_checkpoint(str(other_shape))
  typo = tmp_path / 'typo'
  typo.mkdir()
  write_training_dir(typo, model, OPERATIVE_CONFIG + 'Enformer.chanels = 4\n')
  with pytest.raises(ValueError, match='chanels'):
    model_from_checkpoint(str(typo))
