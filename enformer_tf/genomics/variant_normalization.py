"""Normalised variant scores: per-track scalers and a PCA from a background.

Raw scores (SAD, ...) of different tracks live on different scales: a CAGE
track's SAD of 0.5 may be routine and a DNase track's exceptional. As in
Enformer's usage notebook (`EnformerScoreVariantsNormalized`,
`EnformerScoreVariantsPCANormalized`, fitted by DeepMind on 1000 Genomes
variants), scores are normalised against those of a background variant
set `X` (`[variants, tracks]`, one statistic):

- standard scaler: `z = (x - mean(X)) / std(X)` per track (population std;
  a track with std 0 is divided by 1), sklearn's `StandardScaler`;
- robust scaler: `z = (x - median(X)) / (q75(X) - q25(X))` per track (an
  IQR of 0 counts as 1), sklearn's `RobustScaler`;
- PCA (optional, on the scaled background): `pc = (z - mean(Z)) @ V_k^T`,
  the top `k` principal axes `V_k` of sklearn's `PCA`; PC1 explains most of
  the background's variance.

The fitted parameters are saved as JSON (`FORMAT`, `FORMAT_VERSION`, the
scikit-learn version, the numbers), never as a pickle: a normaliser file
may come from anyone, and loading it runs no code. Loaded files are
applied with the NumPy formulas above, which equal sklearn's `transform`.
"""
import dataclasses
import json
import os
from typing import Dict, Mapping, Optional, Sequence, Union

import numpy as np

from enformer_tf import atomic
from enformer_tf.genomics import intervals

FORMAT = 'enformer_tf.variant_normalizer'
FORMAT_VERSION = 1
SCALERS = ('standard', 'robust')


@dataclasses.dataclass(frozen=True)
class VariantNormalizer:
  """A fitted scaler (and PCA) for one statistic's scores.

  Attributes:
    stat: the statistic the background scores are (e.g. `'SAD'`).
    track_names: the tracks, in column order.
    scaler: `'standard'` or `'robust'`.
    center, scale: float64 `[tracks]`: `z = (x - center) / scale`.
    pca_mean: float64 `[tracks]` or `None`.
    pca_components: float64 `[k, tracks]` or `None`.
    explained_variance_ratio: float64 `[k]` or `None`.
    num_background: variants the normaliser was fitted on.
  """
  stat: str
  track_names: tuple
  scaler: str
  center: np.ndarray
  scale: np.ndarray
  pca_mean: Optional[np.ndarray] = None
  pca_components: Optional[np.ndarray] = None
  explained_variance_ratio: Optional[np.ndarray] = None
  num_background: int = 0

  @property
  def num_components(self) -> int:
    return 0 if self.pca_components is None else len(self.pca_components)

  def _check(self, scores) -> np.ndarray:
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(self.center):
      raise ValueError(f'Scores must be [variants, {len(self.center)} '
                       f'tracks] for this normaliser, got {scores.shape}.')
    return scores

  def transform(self, scores) -> np.ndarray:
    """Per-track z-scores of `scores` `[n, tracks]` -> float32 `[n, tracks]`.
    """
    return ((self._check(scores) - self.center) / self.scale).astype(
        np.float32)

  def project(self, scores, num_components: Optional[int] = None
              ) -> np.ndarray:
    """The top principal components of the z-scores -> float32 `[n, k]`."""
    if self.pca_components is None:
      raise ValueError('This normaliser has no PCA (fit it with '
                       'pca_components=k).')
    k = self.num_components if num_components is None else num_components
    if not 1 <= k <= self.num_components:
      raise ValueError(f'num_components must be 1-{self.num_components}, '
                       f'got {k}.')
    z = (self._check(scores) - self.center) / self.scale
    return ((z - self.pca_mean) @ self.pca_components[:k].T).astype(
        np.float32)

  def to_json(self) -> Dict:
    import sklearn

    def listed(a):
      return None if a is None else np.asarray(a, np.float64).tolist()

    return dict(format=FORMAT, format_version=FORMAT_VERSION,
                sklearn_version=sklearn.__version__, stat=self.stat,
                track_names=list(self.track_names), scaler=self.scaler,
                center=listed(self.center), scale=listed(self.scale),
                pca_mean=listed(self.pca_mean),
                pca_components=listed(self.pca_components),
                explained_variance_ratio=listed(
                    self.explained_variance_ratio),
                num_background=int(self.num_background))


def fit_normalizer(scores, track_names: Sequence[str], stat: str = 'SAD',
                   scaler: str = 'standard',
                   pca_components: Optional[int] = None,
                   seed: int = 0) -> VariantNormalizer:
  """Fits a scaler (and a PCA of the scaled scores) on background scores.

  Args:
    scores: the background's scores, `[variants, tracks]`.
    track_names: a name per column.
    stat: which statistic the scores are.
    scaler: `'standard'` or `'robust'`.
    pca_components: keep this many principal components (`None`: no PCA);
      at most `min(variants, tracks)`.
    seed: for sklearn's randomised PCA solvers.

  Raises:
    ValueError: bad shapes, non-finite scores, an unknown scaler or too many
      components.
  """
  from sklearn import decomposition, preprocessing
  scores = np.asarray(scores, np.float64)
  if scores.ndim != 2 or scores.shape[1] != len(track_names):
    raise ValueError(f'Background scores must be [variants, '
                     f'{len(track_names)} tracks], got {scores.shape}.')
  if len(scores) < 2:
    raise ValueError(f'A background of {len(scores)} variants is too small '
                     'to fit a scaler.')
  if not np.all(np.isfinite(scores)):
    raise ValueError('Background scores contain NaN or infinity.')
  if scaler == 'standard':
    fitted = preprocessing.StandardScaler().fit(scores)
    center, scale = fitted.mean_, fitted.scale_
  elif scaler == 'robust':
    fitted = preprocessing.RobustScaler().fit(scores)
    center, scale = fitted.center_, fitted.scale_
  else:
    raise ValueError(f'Unknown scaler {scaler!r}; expected one of '
                     f'{", ".join(SCALERS)}.')
  pca = None
  if pca_components is not None:
    limit = min(scores.shape)
    if int(pca_components) != pca_components or not (
        1 <= pca_components <= limit):
      raise ValueError(f'pca_components must be 1-{limit} (variants and '
                       f'tracks of the background), got {pca_components!r}.')
    pca = decomposition.PCA(n_components=int(pca_components),
                            random_state=seed).fit(fitted.transform(scores))
  return VariantNormalizer(
      stat=stat, track_names=tuple(track_names), scaler=scaler,
      center=np.asarray(center, np.float64),
      scale=np.asarray(scale, np.float64),
      pca_mean=None if pca is None else pca.mean_.astype(np.float64),
      pca_components=None if pca is None else pca.components_.astype(
          np.float64),
      explained_variance_ratio=None if pca is None else
      pca.explained_variance_ratio_.astype(np.float64),
      num_background=len(scores))


def save_normalizer(normalizer: VariantNormalizer, path: str) -> None:
  """Writes `normalizer` as JSON, atomically."""
  atomic.write_atomically(os.fspath(path),
                          json.dumps(normalizer.to_json(), indent=1) + '\n')


def _array(data: Mapping, key: str, shape, path: str) -> np.ndarray:
  try:
    value = np.asarray(data[key], np.float64)
  except (KeyError, TypeError, ValueError):
    raise ValueError(f'{path}: {key} is missing or not numbers.') from None
  if value.shape != shape or not np.all(np.isfinite(value)):
    raise ValueError(f'{path}: {key} must be finite numbers of shape '
                     f'{list(shape)}, got shape {list(value.shape)}.')
  return value


def load_normalizer(path: str) -> VariantNormalizer:
  """Reads a normaliser written by `save_normalizer`.

  Raises:
    FileNotFoundError: no file.
    ValueError: not JSON, another format or a newer version, or parameters
      of the wrong shape.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise FileNotFoundError(f'No normaliser file at {path}.')
  try:
    with open(path, encoding='utf-8') as f:
      data = json.load(f)
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise ValueError(f'{path} is not a normaliser JSON file ({e}).') from None
  if not isinstance(data, dict) or data.get('format') != FORMAT:
    raise ValueError(f'{path} is not a {FORMAT} file.')
  version = data.get('format_version')
  if version != FORMAT_VERSION:
    raise ValueError(f'{path} has format_version {version!r}; this version '
                     f'of enformer_tf reads {FORMAT_VERSION}.')
  names = data.get('track_names')
  if (not isinstance(names, list) or not names or
      not all(isinstance(n, str) for n in names)):
    raise ValueError(f'{path}: track_names must be a list of names.')
  if data.get('scaler') not in SCALERS:
    raise ValueError(f'{path}: scaler must be one of {", ".join(SCALERS)}.')
  t = len(names)
  scale = _array(data, 'scale', (t,), path)
  if np.any(scale <= 0):
    raise ValueError(f'{path}: scale must be positive.')
  pca = {}
  if data.get('pca_components') is not None:
    k = len(data['pca_components'])
    pca = dict(pca_mean=_array(data, 'pca_mean', (t,), path),
               pca_components=_array(data, 'pca_components', (k, t), path),
               explained_variance_ratio=_array(
                   data, 'explained_variance_ratio', (k,), path))
  return VariantNormalizer(
      stat=str(data.get('stat', 'SAD')), track_names=tuple(names),
      scaler=data['scaler'], center=_array(data, 'center', (t,), path),
      scale=scale, num_background=int(data.get('num_background', 0)), **pca)


def read_h5_scores(path: str, stat: str = 'SAD'):
  """`(scores [N, T], track_names)` of one statistic of a scores HDF5 file
  (`enformer-score-variants --h5`)."""
  import h5py
  with h5py.File(path, 'r') as f:
    if stat.lower() not in f:
      raise ValueError(f'{path} has no {stat} scores (datasets: '
                       f'{", ".join(sorted(f))}).')
    names = [n.decode() if isinstance(n, bytes) else str(n)
             for n in f['track_names'][:]]
    return np.asarray(f[stat.lower()][:], np.float64), names


# -- The notebook's scorers ---------------------------------------------------


class EnformerScoreVariantsRaw:
  """SAD per track of one-hot windows: `alt` bin mean minus `ref` bin mean.

  Args:
    model: an `Enformer` (or anything `intervals.head_predictor` takes).
    head: the head, `'human'` by default.
    tracks: head track indices to keep (default all).
  """

  def __init__(self, model, head: str = 'human',
               tracks: Optional[Sequence[int]] = None):
    self._predict = intervals.head_predictor(model, head)
    self.tracks = None if tracks is None else list(tracks)

  def predict_on_batch(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """`{'ref': [n, L, 4], 'alt': [n, L, 4]}` -> float32 `[n, tracks]`."""
    ref = np.asarray(self._predict(inputs['ref']), np.float64)  # [n, B, T]
    alt = np.asarray(self._predict(inputs['alt']), np.float64)
    scores = alt.mean(axis=1) - ref.mean(axis=1)  # [n, T]
    if self.tracks is not None:
      scores = scores[:, self.tracks]
    return scores.astype(np.float32)


def _normalizer(normalizer: Union[str, VariantNormalizer]
                ) -> VariantNormalizer:
  if not isinstance(normalizer, VariantNormalizer):
    normalizer = load_normalizer(normalizer)
  if normalizer.stat != 'SAD':
    raise ValueError(f'These scorers compute SAD; the normaliser was fitted '
                     f'on {normalizer.stat}.')
  return normalizer


class EnformerScoreVariantsNormalized:
  """SAD z-scores against a background (the usage notebook's class).

  Args:
    model, head, tracks: as `EnformerScoreVariantsRaw`; the tracks must be
      those the normaliser was fitted on, in order.
    normalizer: a `VariantNormalizer` or the path of a saved one.
  """

  def __init__(self, model, normalizer: Union[str, VariantNormalizer],
               head: str = 'human', tracks: Optional[Sequence[int]] = None):
    self._model = EnformerScoreVariantsRaw(model, head, tracks)
    self.normalizer = _normalizer(normalizer)

  def predict_on_batch(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """`{'ref': x_ref, 'alt': x_alt}` -> float32 z-scores `[n, tracks]`."""
    return self.normalizer.transform(self._model.predict_on_batch(inputs))


class EnformerScoreVariantsPCANormalized:
  """The top principal components of SAD z-scores (the notebook's class).

  Args:
    model, normalizer, head, tracks: as `EnformerScoreVariantsNormalized`;
      the normaliser must have a PCA.
    num_top_features: components to return (at most the normaliser's).
  """

  def __init__(self, model, normalizer: Union[str, VariantNormalizer],
               head: str = 'human', tracks: Optional[Sequence[int]] = None,
               num_top_features: int = 500):
    self._model = EnformerScoreVariantsRaw(model, head, tracks)
    self.normalizer = _normalizer(normalizer)
    if self.normalizer.num_components == 0:
      raise ValueError('The normaliser has no PCA; fit one with '
                       'pca_components=k.')
    if int(num_top_features) != num_top_features or num_top_features < 1:
      raise ValueError(f'num_top_features must be >= 1, got '
                       f'{num_top_features!r}.')
    self.num_top_features = min(int(num_top_features),
                                self.normalizer.num_components)

  def predict_on_batch(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """`{'ref': x_ref, 'alt': x_alt}` -> float32 `[n, num_top_features]`."""
    return self.normalizer.project(self._model.predict_on_batch(inputs),
                                   self.num_top_features)


def fit_normalizer_to_file(h5_path: str, out: str, stat: str = 'SAD',
                           scaler: str = 'standard',
                           pca_components: Optional[int] = None
                           ) -> VariantNormalizer:
  """Fits on the `stat` scores of a background's scores HDF5 file
  (`enformer-score-variants --h5`) and saves the normaliser to `out`.

  Raises:
    FileNotFoundError: no HDF5 file. ValueError: see `fit_normalizer`.
  """
  if not os.path.isfile(h5_path):
    raise FileNotFoundError(f'--h5 {h5_path} not found.')
  scores, names = read_h5_scores(h5_path, stat)
  normalizer = fit_normalizer(scores, names, stat, scaler, pca_components)
  save_normalizer(normalizer, out)
  return normalizer
