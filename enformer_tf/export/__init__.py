"""SavedModel export for TF Serving and TF Hub-style use.

`export_saved_model(model, export_dir)` writes `export_dir/<version>/`
atomically with the signatures of `signatures.ServingModule` and TF Serving
warm-up requests; `load_keras_model` and `model_from_checkpoint` give it a
model from a `.keras` file or a training directory.
"""
from enformer_tf.export.saved_model import (export_saved_model,
                                            load_keras_model,
                                            model_from_checkpoint,
                                            next_version)
from enformer_tf.export.signatures import ServingModule, signature_names

__all__ = ['ServingModule', 'export_saved_model', 'load_keras_model',
           'model_from_checkpoint', 'next_version', 'signature_names']
