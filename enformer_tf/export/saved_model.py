"""Writing an Enformer SavedModel for TF Serving.

`export_saved_model` writes `EXPORT_DIR/<version>/`, the numbered layout TF
Serving watches:

    EXPORT_DIR/
      3/                          <- a complete version, visible to TF Serving
        saved_model.pb
        variables/
        assets.extra/
          tf_serving_warmup_requests   (TFRecord of PredictionLog, one per
                                        signature, batch 1; `warmup.py`)
          enformer_export.json         (signatures, shapes, kept tracks)
      .tmp-4-12345/               <- an export in progress (ignored: TF
                                     Serving only loads integer names)

Everything is written into the hidden temporary sibling, then moved into
place with one `os.rename` (`versions.publish`), so TF Serving never sees a
half-written version and an export that crashes (or is killed) part-way
leaves no version directory. Files are flushed to disk before the rename,
so after a power loss a version is complete or absent. The rename needs a
local (POSIX) file system.
"""
import json
import os
import shutil
from typing import Mapping, Optional, Sequence

import tensorflow as tf
import tf_keras as keras

from enformer_tf.export import signatures as signatures_lib
from enformer_tf.export import versions, warmup
from enformer_tf.layers import lora

METADATA_FILE = os.path.join('assets.extra', 'enformer_export.json')


def _write_metadata(directory: str, module: signatures_lib.ServingModule,
                    model: keras.Model) -> None:
  metadata = module.metadata()
  if hasattr(model, 'get_config'):
    try:
      metadata['model_config'] = json.loads(json.dumps(model.get_config()))
    except (TypeError, ValueError, NotImplementedError):
      pass  # A config that is not JSON is simply left out.
  path = os.path.join(directory, METADATA_FILE)
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w', encoding='utf-8') as f:
    json.dump(metadata, f, indent=2, sort_keys=True)


def export_saved_model(model: keras.Model,
                       export_dir: str,
                       *,
                       version: Optional[int] = None,
                       tracks: Optional[Mapping[str, Sequence[int]]] = None,
                       output_dtype: str = 'float32',
                       mixed_bfloat16: bool = False,
                       overwrite: bool = False,
                       warmup_requests: bool = True,
                       model_name: str = warmup.DEFAULT_MODEL_NAME,
                       hub_sequence_length: Optional[int] = None) -> str:
  """Exports `model` as `export_dir/<version>/` for TF Serving, atomically.

  The SavedModel has the signatures of `signatures.ServingModule` (one-hot
  and DNA-string inputs, per head, embeddings; exactly `L` bp, the model's
  `sequence_length`) plus the TF Hub-style `.model.predict_on_batch` and
  `contribution_input_grad`, which take `hub_sequence_length` bp and crop
  the centre `L` bp, as `deepmind/enformer/1` does.

  Args:
    model: a built Enformer with a fixed `sequence_length`; LoRA adapters
      (`layers.lora`) are merged into a copy, which is exported.
    export_dir: the model's base directory (TF Serving's `base_path`);
      created if missing. Must be local.
    version: the version number; default 1 + the highest existing one.
    tracks: head -> track indices to keep in the serving signatures; heads
      left out keep every track.
    output_dtype: `'float32'` or `'float16'` serving outputs.
    mixed_bfloat16: serve a copy of `model` that computes in bfloat16
      (`Enformer(mixed_bfloat16=True)`, same weights): faster where the CPU
      or accelerator has bfloat16 arithmetic; outputs stay float32 (or
      `output_dtype`). See bench/README.md for speed and agreement.
    overwrite: replace an existing version directory. (A running TF Serving
      does not reload a version number it has already loaded.)
    warmup_requests: write `assets.extra/tf_serving_warmup_requests`, one
      batch-1 request per signature, which TF Serving runs before serving.
    model_name: the model name written into the warm-up requests.
    hub_sequence_length: the input length `H` in bp of `.model.
      predict_on_batch` and `contribution_input_grad`; None for twice the
      model's `sequence_length` (393,216 bp for the published 196,608-bp
      Enformer, the TF Hub model's input length). Must be at least `L` with
      `H - L` even. The serving signatures keep length `L`.

  Returns:
    The path of the version directory.

  Raises:
    FileExistsError: the version exists and `overwrite` is False.
    ValueError: invalid `version`, `tracks`, `output_dtype`,
      `hub_sequence_length`, a model without a fixed sequence length, or a
      non-local `export_dir`.
  """
  export_dir = versions.check_local(export_dir)
  # LoRA adapters are folded into their kernels: a plain Enformer is served.
  model = lora.merged_model(model)
  if mixed_bfloat16:
    model = in_mixed_bfloat16(model)
  # Validates the model and the options before anything is written.
  module = signatures_lib.ServingModule(
      model, tracks=tracks, output_dtype=output_dtype,
      hub_sequence_length=hub_sequence_length)
  version = (versions.next_version(export_dir) if version is None
             else versions.check_version(version))
  final_dir = os.path.join(export_dir, str(version))
  if os.path.exists(final_dir) and not overwrite:
    raise FileExistsError(
        f'Version {version} already exists at {final_dir}; pass '
        f'overwrite=True (enformer-export --overwrite) to replace it, or '
        f'export as the next version, {versions.next_version(export_dir)}.')
  os.makedirs(export_dir, exist_ok=True)
  tmp_dir = versions.temporary_dir(export_dir, version)
  shutil.rmtree(tmp_dir, ignore_errors=True)
  try:
    signatures = module.signatures()
    tf.saved_model.save(module, tmp_dir, signatures=signatures)
    _write_metadata(tmp_dir, module, model)
    if warmup_requests:
      # Through the module attribute, so that tests can stop an export here.
      warmup.write_warmup_requests(tmp_dir, list(signatures),
                                   module.sequence_length, model_name)
    versions.publish(tmp_dir, final_dir, overwrite)
  except BaseException:
    shutil.rmtree(tmp_dir, ignore_errors=True)
    raise
  return final_dir


def in_mixed_bfloat16(model: keras.Model) -> keras.Model:
  """`model` rebuilt with `mixed_bfloat16=True` and the same weights."""
  config = model.get_config()
  if 'mixed_bfloat16' not in config:
    raise ValueError(
        f'mixed_bfloat16 export needs an Enformer (a model whose config has '
        f'mixed_bfloat16); got {type(model).__name__}.')
  if config['mixed_bfloat16']:
    return model
  if not model.built:
    raise ValueError('mixed_bfloat16 export needs a built model.')
  config.pop('dtype', None)  # A float64 model's policy; bfloat16 replaces it.
  copy = type(model).from_config(dict(config, mixed_bfloat16=True))
  copy.build((None, model.sequence_length, 4))
  copy.set_weights(model.get_weights())
  return copy
