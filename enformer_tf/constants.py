"""The package's fixed numbers and names, in one place. This module imports
nothing: modules that need only a number import it, not `model.py` (the
package's `__init__` still loads the model).

REFERENCE.md §1: 196,608 bp in, 896 bins of 128 bp out, human and mouse
heads of 5,313 and 1,643 tracks; §4: the train / valid / test splits.
"""

SEQUENCE_LENGTH = 196_608
BIN_SIZE = 128  # Stem pooling (2) x six conv-tower poolings (2**6).
TARGET_LENGTH = 896
DEFAULT_HEADS = {'human': 5313, 'mouse': 1643}
SPLITS = ('train', 'valid', 'test')
# Written by training beside its checkpoints, read back to rebuild the model.
OPERATIVE_CONFIG = 'operative_config.gin'
# Written beside it: the model's own config (and its LoRA adapters).
MODEL_CONFIG = 'model_config.json'
