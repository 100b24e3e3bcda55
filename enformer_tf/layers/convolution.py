"""A 1D convolution whose passes run as matrix products where that is faster.

A width-W convolution with SAME padding is the sum of W matrix products of
shifted views of its input with the kernel's taps,
`y[l] = sum_i x[l + i - (W - 1) // 2] @ kernel[i]`, and so are its input
gradient (the same form, taps reversed and transposed) and kernel gradient
(`dk[i] = view_i(x)^T @ dy`). `bench/kernels.py` on the conv tower's
768 -> 768 shapes (2-vCPU Intel Xeon with AVX-512 and AMX, 2 threads,
fraction of the 4096^3 `tf.matmul` rate of the same dtype):

| width 5 | float32 forward | float32 backward | bfloat16 forward | bfloat16 backward |
|---|---|---|---|---|
| TensorFlow's (oneDNN) convolution | 0.41 | 0.24 | 1.46 | 0.60 |
| matrix products | 0.82 | 0.84 | 0.89 | 0.88 |

(width 1: forward 0.73 / 0.82 in float32, 0.83 / 0.91 in bfloat16; backward
in bfloat16 0.19 / 0.70.) So `'auto'` runs every backward pass as matrix
products, and the forward pass too except bfloat16 at width > 1, where
oneDNN's AMX convolution beats its own matrix products. `'conv'` is
TensorFlow's convolution throughout, `'matmul'` the products throughout.

The variables (`kernel [W, C_in, C_out]`, `bias`) and their names are
Keras' own, so weights, checkpoints and converted models are unchanged.
"""
import tensorflow as tf
import tf_keras as keras

IMPLEMENTATIONS = ('auto', 'conv', 'matmul')


def validate_implementation(implementation: str) -> None:
  if implementation not in IMPLEMENTATIONS:
    raise ValueError(f'conv implementation must be one of {IMPLEMENTATIONS}, '
                     f'got {implementation!r}.')


def forward_form(implementation: str, compute_dtype, width: int) -> str:
  """'conv' or 'matmul': how the forward pass of a width-`width`
  convolution computes at `compute_dtype` under `implementation`."""
  validate_implementation(implementation)
  if implementation != 'auto':
    return implementation
  direct = tf.as_dtype(compute_dtype).size < 4 and width > 1
  return 'conv' if direct else 'matmul'


def _rows(inputs, before: int, after: int):
  """`inputs [B, L, C]` padded on each side of L and laid end to end: the
  rows `[B * (L + before + after), C]` and the stride between sequences.

  Row slices of a 2D tensor that start at a multiple of 64 bytes are views,
  not copies (TensorFlow's dim-0 slice), so the W shifted views of a
  convolution cost no memory here, where slices along L of `[B, L, C]`
  would each copy the whole activation.
  """
  padded = tf.pad(inputs, [[0, 0], [before, after], [0, 0]])
  return (tf.reshape(padded, [-1, inputs.shape[-1]]),
          tf.shape(padded)[1])


def _shifted_products(inputs, kernel, before: int, after: int):
  """sum_i pad(inputs, before, after)[:, i:i+L] @ kernel[i]: `[B, L, C_out]`."""
  width = kernel.shape[0]
  if width == 1:
    return tf.tensordot(inputs, kernel[0], axes=1)
  batch, length = tf.shape(inputs)[0], tf.shape(inputs)[1]
  rows, stride = _rows(inputs, before, after)
  # Output row j = b * stride + l is position l of sequence b; the W - 1
  # rows between sequences mix two sequences and are dropped.
  count = batch * stride - (width - 1)
  outputs = None
  for tap in range(width):
    product = tf.matmul(rows[tap:tap + count], kernel[tap])
    outputs = product if outputs is None else outputs + product
  channels_out = kernel.shape[-1]

  def one_sequence():  # The first L rows: a view.
    return tf.reshape(outputs[:length], [1, length, channels_out])

  def sequences():
    padded = tf.pad(outputs, [[0, width - 1], [0, 0]])
    return tf.reshape(padded, [batch, stride, channels_out])[:, :length]

  result = tf.cond(tf.equal(batch, 1), one_sequence, sequences)
  result.set_shape(inputs.shape[:-1].concatenate([channels_out]))
  return result


def _product_gradients(inputs, kernel, upstream):
  """(d inputs, d kernel) of a SAME convolution, as matrix products.

  Left to autodiff, each shifted view's gradient would be a zero tensor of
  the padded input's size with the view's gradient scattered into it
  (`StridedSliceGrad`), W of them per convolution: a third of a training
  pass's op time on a 192-channel model (`bench/profile.py`).
  """
  width = kernel.shape[0]
  before = (width - 1) // 2  # TensorFlow's SAME: the rest goes after.
  # d inputs: the transposed convolution, i.e. the same form with the taps
  # reversed and transposed and the padding mirrored.
  flipped = tf.transpose(tf.reverse(kernel, [0]), [0, 2, 1])
  d_inputs = _shifted_products(upstream, flipped, width - 1 - before, before)
  # d kernel[i] = sum over positions of view_i(inputs)^T upstream: on the
  # rows of the padded inputs, against the upstream on the same row grid
  # (zeros where the rows between sequences are).
  if width == 1:
    rows_in = tf.reshape(inputs, [-1, inputs.shape[-1]])
    rows_up = tf.reshape(upstream, [-1, upstream.shape[-1]])
    return d_inputs, tf.matmul(rows_in, rows_up, transpose_a=True)[None]
  rows_in, stride = _rows(inputs, before, width - 1 - before)
  rows_up, _ = _rows(upstream, 0, width - 1)
  count = tf.shape(rows_in)[0] - (width - 1)
  d_kernel = tf.stack([
      tf.matmul(rows_in[tap:tap + count], rows_up[:count], transpose_a=True)
      for tap in range(width)])
  return d_inputs, d_kernel


def conv1d(inputs: tf.Tensor, kernel: tf.Tensor,
           forward: str = 'matmul') -> tf.Tensor:
  """SAME-padded stride-1 convolution of `[B, L, C_in]` with `[W, C_in,
  C_out]`: `[B, L, C_out]`. The forward pass is `tf.nn.conv1d` if
  `forward == 'conv'`, else W matrix products of shifted views; the
  gradients are matrix products either way."""

  @tf.custom_gradient
  def convolution(inputs, kernel):
    if forward == 'conv':
      outputs = tf.nn.conv1d(inputs, kernel, 1, 'SAME')
    else:
      width = kernel.shape[0]
      outputs = _shifted_products(inputs, kernel, (width - 1) // 2,
                                  width // 2)

    def gradient(upstream):
      return _product_gradients(inputs, kernel, upstream)
    return outputs, gradient

  return convolution(inputs, kernel)


def shifted_matmul_conv1d(inputs: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
  """`conv1d` with both passes as matrix products."""
  return conv1d(inputs, kernel, 'matmul')


@keras.saving.register_keras_serializable(package='enformer_tf')
class Conv1D(keras.layers.Conv1D):
  """Keras' `Conv1D` with SAME padding, computed as `implementation` says.

  Args:
    filters: output channels.
    kernel_size: the width W.
    implementation: `'conv'` (TensorFlow's convolution and its gradients),
      `'matmul'` (matrix products of shifted views, both passes) or
      `'auto'`: matrix products except the bfloat16 forward pass at W > 1
      (see the module docstring).
    **kwargs: Keras' `Conv1D` arguments (stride 1, no dilation, no groups).
  """

  def __init__(self, filters: int, kernel_size: int,
               implementation: str = 'auto', **kwargs):
    kwargs.setdefault('padding', 'same')
    super().__init__(filters, kernel_size, **kwargs)
    validate_implementation(implementation)
    if (self.padding != 'same' or self.strides != (1,)
        or self.dilation_rate != (1,) or self.groups != 1):
      raise ValueError(
          'enformer_tf Conv1D supports SAME padding, stride 1, dilation 1 and '
          f'one group; got padding={self.padding!r}, strides={self.strides}, '
          f'dilation_rate={self.dilation_rate}, groups={self.groups}.')
    self.implementation = implementation

  def call(self, inputs):
    if self.implementation == 'conv':
      return super().call(inputs)
    # A tensor, not the variable: tf.custom_gradient takes tensors.
    kernel = tf.convert_to_tensor(self.kernel)
    outputs = conv1d(inputs, kernel, forward_form(
        self.implementation, self.compute_dtype, self.kernel_size[0]))
    if self.use_bias:
      outputs = tf.nn.bias_add(outputs, self.bias)
    if self.activation is not None:
      outputs = self.activation(outputs)
    return outputs

  def get_config(self):
    return dict(super().get_config(), implementation=self.implementation)
