"""SavedModel export for TF Serving and TF Hub-style use (write only).

`export_saved_model(model, export_dir)` writes `export_dir/<version>/`
atomically with the signatures of `signatures.ServingModule` and TF Serving
warm-up requests. Models to export are read with `enformer_tf.io`.
"""
from enformer_tf.export.saved_model import export_saved_model, next_version
from enformer_tf.export.signatures import ServingModule, signature_names

__all__ = ['ServingModule', 'export_saved_model', 'next_version',
           'signature_names']
