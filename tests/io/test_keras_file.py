"""`enformer_tf.io.keras_file`: what `load_keras_model` refuses.

Untrusted `.keras` files are in tests/reliability/test_untrusted_files.py.
"""
import pytest
import tf_keras as keras

from enformer_tf.io import load_keras_model


def test_load_keras_model_errors(tmp_path):
  with pytest.raises(FileNotFoundError, match='No .keras model file'):
    load_keras_model(str(tmp_path / 'missing.keras'))
  h5 = tmp_path / 'model.h5'
  h5.write_text('')
  with pytest.raises(ValueError, match='not a .keras file'):
    load_keras_model(str(h5))
  dense = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
  dense.save(str(tmp_path / 'dense.keras'))
  with pytest.raises(ValueError, match='not an Enformer'):
    load_keras_model(str(tmp_path / 'dense.keras'))
