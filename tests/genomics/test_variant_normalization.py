"""Tests for enformer_tf.genomics.variant_normalization."""
import json
import pickle

import numpy as np
import pytest
import tf_keras as keras
from sklearn import decomposition, pipeline, preprocessing

from enformer_tf import Enformer
from enformer_tf.genomics import variant_normalization as vn

NAMES = [f't{i}' for i in range(6)]


def background(n=300, seed=0):
  """Correlated, differently scaled tracks with outliers."""
  rng = np.random.default_rng(seed)
  latent = rng.normal(size=(n, 2))
  mix = rng.normal(size=(2, 6))
  scores = latent @ mix * np.array([1, 10, 0.1, 3, 1, 50])
  scores += rng.normal(scale=0.05, size=scores.shape)
  scores[:5] *= 20  # Outliers.
  return scores


@pytest.mark.parametrize('scaler', ['standard', 'robust'])
def test_fit_save_load_gives_sklearns_transform(tmp_path, scaler):
  train, test = background(), background(50, seed=1)
  normalizer = vn.fit_normalizer(train, NAMES, scaler=scaler,
                                 pca_components=3)
  vn.save_normalizer(normalizer, tmp_path / 'norm.json')
  loaded = vn.load_normalizer(tmp_path / 'norm.json')
  # The same pipeline fitted in memory with scikit-learn.
  scale = (preprocessing.StandardScaler() if scaler == 'standard' else
           preprocessing.RobustScaler())
  pipe = pipeline.make_pipeline(scale, decomposition.PCA(
      n_components=3, random_state=0)).fit(train)
  want_z = pipe.steps[0][1].transform(test)
  want_pc = pipe.transform(test)
  np.testing.assert_allclose(loaded.transform(test), want_z, rtol=1e-5,
                             atol=1e-5)
  np.testing.assert_allclose(loaded.project(test), want_pc, rtol=1e-4,
                             atol=1e-4)
  np.testing.assert_allclose(loaded.project(test, 1), want_pc[:, :1],
                             rtol=1e-4, atol=1e-4)
  assert loaded.track_names == tuple(NAMES) and loaded.scaler == scaler
  assert loaded.num_background == 300
  data = json.loads((tmp_path / 'norm.json').read_text())
  assert data['format'] == vn.FORMAT and data['format_version'] == 1
  if scaler == 'standard':  # z-scores: mean 0, std 1 on the background.
    z = loaded.transform(train)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-5)


def test_untrusted_or_broken_files_are_refused(tmp_path):
  normalizer = vn.fit_normalizer(background(), NAMES)
  path = tmp_path / 'norm.json'
  vn.save_normalizer(normalizer, path)
  data = json.loads(path.read_text())
  cases = {
      'pickle': (pickle.dumps(normalizer), 'not a normaliser JSON'),
      'version': (dict(data, format_version=2), 'format_version 2'),
      'format': (dict(data, format='x'), 'is not a enformer_tf'),
      'shape': (dict(data, scale=[1.0, 2.0]), r'scale must be finite .*\[6\]'),
      'zero': (dict(data, scale=[0.0] * 6), 'scale must be positive'),
  }
  for name, (content, words) in cases.items():
    bad = tmp_path / f'{name}.json'
    if isinstance(content, bytes):
      bad.write_bytes(content)
    else:
      bad.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=words):
      vn.load_normalizer(bad)
  with pytest.raises(ValueError, match='pca_components must be 1-6'):
    vn.fit_normalizer(background(), NAMES, pca_components=7)
  with pytest.raises(ValueError, match='NaN'):
    vn.fit_normalizer(np.full((4, 6), np.nan), NAMES)
  with pytest.raises(ValueError, match=r'\[variants, 6 tracks\]'):
    normalizer.transform(np.zeros((2, 5)))


def test_notebook_scorers_normalise_sad_of_two_forward_passes(tmp_path):
  keras.utils.set_random_seed(3)
  model = Enformer(channels=48, num_transformer_layers=1, num_heads=2,
                   conv_tower_divisible_by=8, sequence_length=1024,
                   target_length=4, heads={'human': 6})
  rng = np.random.default_rng(0)
  x_ref = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (3, 1024))]
  x_alt = x_ref.copy()
  x_alt[:, 512] = np.roll(x_alt[:, 512], 1, axis=-1)
  normalizer = vn.fit_normalizer(background(), NAMES, pca_components=4)
  path = tmp_path / 'norm.json'
  vn.save_normalizer(normalizer, path)
  ref = model.predict_head(x_ref, 'human', training=False).numpy()
  alt = model.predict_head(x_alt, 'human', training=False).numpy()
  sad = alt.mean(1) - ref.mean(1)  # [3, 6]
  inputs = {'ref': x_ref, 'alt': x_alt}
  raw = vn.EnformerScoreVariantsRaw(model).predict_on_batch(inputs)
  np.testing.assert_allclose(raw, sad, rtol=1e-4, atol=1e-6)
  z = vn.EnformerScoreVariantsNormalized(model, str(path)).predict_on_batch(
      inputs)
  np.testing.assert_allclose(
      z, (sad - normalizer.center) / normalizer.scale, rtol=1e-4, atol=1e-5)
  pcs = vn.EnformerScoreVariantsPCANormalized(
      model, str(path), num_top_features=2).predict_on_batch(inputs)
  want = ((sad - normalizer.center) / normalizer.scale -
          normalizer.pca_mean) @ normalizer.pca_components[:2].T
  np.testing.assert_allclose(pcs, want, rtol=1e-4, atol=1e-5)
  with pytest.raises(ValueError, match='has no PCA'):
    vn.EnformerScoreVariantsPCANormalized(
        model, vn.fit_normalizer(background(), NAMES))
