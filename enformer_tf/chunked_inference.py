"""The high-resolution start of the trunk in inference, run in chunks.

At 196,608 bp the stem and the first conv-tower blocks work on
`[B, 196608, 768]`-sized activations (604 MB each in float32), and a residual
ConvBlock holds several of them at once: they set a full-size forward's peak
memory. Every op there is local along the length in inference (convolutions
of width 15 and 5, per-position BatchNorm with moving statistics and GELU,
pooling of aligned pairs), so running the input in chunks widened by a halo
that covers the receptive field, and cropping each output back to its chunk,
gives the same output with a fraction of those activations alive at a time.
Chunks run one after another (control dependencies), not side by side, or
the executor would be free to hold them all at once.

Training keeps the whole length: BatchNorm there uses batch statistics over
every position, which chunks would change.
"""
from typing import Callable, Sequence

import tensorflow as tf
import tf_keras as keras

# The stem and the first two conv-tower blocks: after them activations are at
# 1/8 of the input length, and the rest of the trunk fits comfortably.
CHUNKED_TOWER_BLOCKS = 2


def receptive_radius(stem: keras.Sequential,
                     tower_blocks: Sequence[keras.Sequential]) -> int:
  """Input positions either side of a position that can reach its output.

  The stem's first convolution reaches `width // 2` positions; conv-tower
  block `i` runs its width-`w` ConvBlock at resolution `2 ** (i + 1)` bp, so
  it reaches `(w // 2) * 2 ** (i + 1)` bp further. Pointwise blocks add
  nothing and pooling windows stay inside chunks whose bounds are aligned.
  """
  radius = stem.layers[0].kernel_size[0] // 2
  for i, block in enumerate(tower_blocks):
    radius += (block.layers[0].width // 2) * 2**(i + 1)
  return radius


def run_in_chunks(fn: Callable[[tf.Tensor], tf.Tensor], inputs: tf.Tensor,
                  chunk_length: int, halo: int,
                  reduction: int) -> tf.Tensor:
  """`fn(inputs)`, computed on chunks of `chunk_length` positions.

  Args:
    fn: a length-local function of `[B, L, C]` whose output has `L /
      reduction` positions.
    inputs: `[B, L, C]` with a static `L`.
    chunk_length: positions per chunk, a multiple of `reduction`.
    halo: positions of real neighbouring input added on each inner side of a
      chunk: at least the receptive radius, a multiple of `reduction`. At the
      sequence's ends there is no halo, so `fn`'s own zero padding applies
      exactly as on the whole input.
    reduction: input positions per output position.

  Returns:
    `[B, L / reduction, C']`, equal to `fn(inputs)` up to rounding.
  """
  length = inputs.shape[1]
  if chunk_length % reduction or halo % reduction or length % reduction:
    raise ValueError(
        f'chunk_length={chunk_length}, halo={halo} and the length {length} '
        f'must be multiples of {reduction}.')
  outputs = []
  for start in range(0, length, chunk_length):
    stop = min(start + chunk_length, length)
    lo, hi = max(start - halo, 0), min(stop + halo, length)
    with tf.control_dependencies(outputs[-1:]):  # One chunk at a time.
      piece = tf.identity(inputs[:, lo:hi])  # [B, hi - lo, C]
    output = fn(piece)  # [B, (hi - lo) / reduction, C']
    first = (start - lo) // reduction
    outputs.append(output[:, first:first + (stop - start) // reduction])
  return tf.concat(outputs, axis=1)  # [B, L / reduction, C']
