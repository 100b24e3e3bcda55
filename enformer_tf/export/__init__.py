"""SavedModel export for TF Serving and TF Hub-style use (write only).

`export_saved_model(model, export_dir)` writes `export_dir/<version>/`
atomically with the signatures of `signatures.ServingModule` and TF Serving
warm-up requests. Models to export are read with `enformer_tf.io`.

  signatures.py   the serving signatures and TF Hub-style functions
  warmup.py       TF Serving warm-up requests
  versions.py     version numbers and publishing a finished version
  saved_model.py  `export_saved_model`: the three above, in order
"""
from enformer_tf.export.saved_model import (export_saved_model,
                                            in_mixed_bfloat16)
from enformer_tf.export.signatures import ServingModule, signature_names
from enformer_tf.export.versions import next_version

__all__ = ['ServingModule', 'export_saved_model', 'in_mixed_bfloat16',
           'next_version', 'signature_names']
