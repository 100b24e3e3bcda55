"""What the attention and transformer-block tests share: sizes, an input and
the non-default attention arguments both layers are tested with."""
import numpy as np

B, T, H, K, V = 2, 5, 2, 4, 6
X = np.random.RandomState(0).randn(B, T, H * V).astype('float32')

ATTENTION_KWARGS = dict(
    value_size=V, key_size=K, num_heads=H, scaling=True,
    attention_dropout_rate=0.05, relative_positions=True,
    relative_position_symmetric=False,
    relative_position_functions=['positional_features_exponential',
                                 'positional_features_central_mask',
                                 'positional_features_gamma'],
    num_relative_position_features=12, positional_dropout_rate=0.01,
    zero_initialize=True)
