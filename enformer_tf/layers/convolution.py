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
in bfloat16 0.19 / 0.70.) So under `'auto'` a convolution of 512 channels or
more (every conv block of the default model) computes its kernel gradient
as matrix products, and its forward pass and input gradient too, except in
bfloat16 at width > 1, where oneDNN's AMX convolution is the faster; a
narrower one (test and small CPU models, where oneDNN's float32 convolution
is fast and the products only add graph to trace) is left to TensorFlow.
`'conv'` is TensorFlow's convolution throughout, `'matmul'` the products
throughout.

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


# Under 'auto', convolutions with fewer input and output channels than this
# are left to TensorFlow (forward and gradients): `bench/kernels.py` measured
# oneDNN's float32 forward convolution at 0.81-0.98 of the matmul rate for
# 96-384 channels (0.45 at 768), and a 96-channel model's training pass took
# the same time either way (`bench/profile.py`), while the products' graph
# is larger to trace (tiny models: 1.75 against 1.36 s).
PRODUCTS_FROM_CHANNELS = 512


def uses_products(implementation: str, channels_in: int,
                  channels_out: int) -> bool:
  """Whether a convolution runs through `conv1d` (products, at least for its
  kernel gradient) rather than TensorFlow's convolution and gradients."""
  validate_implementation(implementation)
  if implementation != 'auto':
    return implementation == 'matmul'
  return max(channels_in, channels_out) >= PRODUCTS_FROM_CHANNELS


def forward_form(implementation: str, compute_dtype, width: int) -> str:
  """'conv' or 'matmul': how a forward convolution in `conv1d` computes
  (the layer's forward pass, and its input gradient, which is a forward
  convolution of the upstream with the taps reversed)."""
  validate_implementation(implementation)
  if implementation != 'auto':
    return implementation
  # AMX: oneDNN's bfloat16 convolution beats its matrix products at width 5.
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


def _forward_convolution(inputs, kernel, before: int, after: int,
                         form: str):
  """pad(inputs, before, after) convolved (VALID) with `kernel`, as `form`."""
  if form == 'matmul':
    return _shifted_products(inputs, kernel, before, after)
  width = kernel.shape[0]
  if (before, after) == ((width - 1) // 2, width // 2):
    return tf.nn.conv1d(inputs, kernel, 1, 'SAME')
  padded = tf.pad(inputs, [[0, 0], [before, after], [0, 0]])
  return tf.nn.conv1d(padded, kernel, 1, 'VALID')


def _kernel_gradient(inputs, upstream, width: int):
  """d kernel `[W, C_in, C_out]` of a SAME convolution, as matrix products.

  d kernel[i] is the i-th shifted view of the inputs against the upstream
  (oneDNN's `Conv2DBackpropFilter` ran at 0.24-0.41 of the matmul rate, and
  was 40 % of a full-size training pass): on the rows of the padded
  inputs, against the upstream on the same row grid (zeros where the rows
  between sequences are).
  """
  if width == 1:
    rows_in = tf.reshape(inputs, [-1, inputs.shape[-1]])
    rows_up = tf.reshape(upstream, [-1, upstream.shape[-1]])
    return tf.matmul(rows_in, rows_up, transpose_a=True)[None]
  before = (width - 1) // 2
  rows_in, _ = _rows(inputs, before, width - 1 - before)
  rows_up, _ = _rows(upstream, 0, width - 1)
  count = tf.shape(rows_in)[0] - (width - 1)
  return tf.stack([
      tf.matmul(rows_in[tap:tap + count], rows_up[:count], transpose_a=True)
      for tap in range(width)])


def conv1d(inputs: tf.Tensor, kernel: tf.Tensor, forward: str = 'matmul',
           backward_input: str = 'matmul') -> tf.Tensor:
  """SAME-padded stride-1 convolution of `[B, L, C_in]` with `[W, C_in,
  C_out]`: `[B, L, C_out]`.

  `forward` ('conv': `tf.nn.conv1d`; 'matmul': W matrix products of shifted
  views) computes the outputs, `backward_input` the input gradient (the
  transposed convolution: the same form with the taps reversed and
  transposed and the padding mirrored); the kernel gradient is always
  matrix products. Left to autodiff, the products form's input gradient
  would scatter each view's gradient into a zero tensor of the padded
  input's size (`StridedSliceGrad`): a third of a 192-channel training pass.
  """

  @tf.custom_gradient
  def convolution(inputs, kernel):
    width = kernel.shape[0]
    before = (width - 1) // 2  # TensorFlow's SAME: the rest goes after.
    outputs = _forward_convolution(inputs, kernel, before, width - 1 - before,
                                   forward)

    def gradient(upstream):
      flipped = tf.transpose(tf.reverse(kernel, [0]), [0, 2, 1])
      d_inputs = _forward_convolution(upstream, flipped, width - 1 - before,
                                      before, backward_input)
      return d_inputs, _kernel_gradient(inputs, upstream, width)
    return outputs, gradient

  return convolution(inputs, kernel)


@keras.saving.register_keras_serializable(package='enformer_tf')
class Conv1D(keras.layers.Conv1D):
  """Keras' `Conv1D` with SAME padding, computed as `implementation` says.

  Args:
    filters: output channels.
    kernel_size: the width W.
    implementation: `'conv'` (TensorFlow's convolution and its gradients),
      `'matmul'` (matrix products of shifted views, every pass) or `'auto'`
      (by width, channels and dtype: see the module docstring).
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
    width, channels_in, channels_out = self.kernel.shape
    if not uses_products(self.implementation, channels_in, channels_out):
      return super().call(inputs)
    form = forward_form(self.implementation, self.compute_dtype, width)
    # A tensor, not the variable: tf.custom_gradient takes tensors.
    outputs = conv1d(inputs, tf.convert_to_tensor(self.kernel), form, form)
    if self.use_bias:
      outputs = tf.nn.bias_add(outputs, self.bias)
    if self.activation is not None:
      outputs = self.activation(outputs)
    return outputs

  def get_config(self):
    return dict(super().get_config(), implementation=self.implementation)
