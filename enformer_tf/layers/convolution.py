"""A 1D convolution that can run as matrix products.

A width-W convolution with SAME padding is the sum of W matrix products of
shifted views of its input with the kernel's taps:
`y[l] = sum_i x[l + i - (W - 1) // 2] @ kernel[i]`. In float32, oneDNN's
direct convolution reached about half of the `tf.matmul` rate on the conv
tower's width-5 shapes (2-vCPU Intel Xeon with AMX, one thread: 100 against
181 GFLOP/s forward, and 41 against 154 GFLOP/s for its backward pass), so
float32 (and float64) models run the matrix-product form. In bfloat16 the
same kernel's convolution is faster than its matrix products (1,052 against
750 GFLOP/s), so 16-bit models keep it. `bench/kernels.py` measures both
forms on the machine at hand; `implementation` chooses one explicitly.

The variables (`kernel [W, C_in, C_out]`, `bias`) and their names are
Keras' own, so weights, checkpoints and converted models are unchanged.
"""
import tensorflow as tf
import tf_keras as keras

IMPLEMENTATIONS = ('auto', 'conv', 'matmul')


def resolve_implementation(implementation: str, compute_dtype) -> str:
  """'conv' or 'matmul' for `implementation` at `compute_dtype`."""
  if implementation not in IMPLEMENTATIONS:
    raise ValueError(f'conv implementation must be one of {IMPLEMENTATIONS}, '
                     f'got {implementation!r}.')
  if implementation != 'auto':
    return implementation
  return 'conv' if tf.as_dtype(compute_dtype).size < 4 else 'matmul'


def _shifted_products(inputs, kernel, before: int, after: int):
  """sum_i pad(inputs, before, after)[:, i:i+L] @ kernel[i]: `[B, L, C_out]`."""
  width = kernel.shape[0]
  if width == 1:
    return tf.tensordot(inputs, kernel[0], axes=1)
  length = tf.shape(inputs)[1]
  padded = tf.pad(inputs, [[0, 0], [before, after], [0, 0]])
  outputs = None
  for tap in range(width):
    product = tf.tensordot(padded[:, tap:tap + length], kernel[tap], axes=1)
    outputs = product if outputs is None else outputs + product
  return outputs


@tf.custom_gradient
def shifted_matmul_conv1d(inputs: tf.Tensor, kernel: tf.Tensor):
  """SAME-padded stride-1 convolution of `[B, L, C_in]` with `[W, C_in,
  C_out]` as W matrix products of shifted views; `[B, L, C_out]`.

  The gradients are matrix products too, written out: left to autodiff,
  each shifted view's gradient is a zero tensor of the padded input's size
  with the view's gradient scattered into it (`StridedSliceGrad`), W of
  them per convolution, which took a third of a training pass's op time on a
  192-channel model (`bench/profile.py`).
  """
  width = kernel.shape[0]
  # TensorFlow's SAME padding: (W - 1) // 2 before, the rest after.
  before = (width - 1) // 2
  outputs = _shifted_products(inputs, kernel, before, width - 1 - before)

  def gradient(upstream):
    # inputs: the transposed convolution, i.e. the same form with the taps
    # reversed and transposed and the padding mirrored.
    flipped = tf.transpose(tf.reverse(kernel, [0]), [0, 2, 1])
    d_inputs = _shifted_products(upstream, flipped, width - 1 - before,
                                 before)
    # kernel[i]: the shifted view of the inputs against the upstream.
    channels_in = tf.shape(inputs)[-1]
    upstream_2d = tf.reshape(upstream, [-1, tf.shape(upstream)[-1]])
    if width == 1:
      views = [inputs]
    else:
      length = tf.shape(inputs)[1]
      padded = tf.pad(inputs, [[0, 0], [before, width - 1 - before], [0, 0]])
      views = [padded[:, tap:tap + length] for tap in range(width)]
    d_kernel = tf.stack([
        tf.matmul(tf.reshape(view, [-1, channels_in]), upstream_2d,
                  transpose_a=True) for view in views])
    return d_inputs, d_kernel

  return outputs, gradient


@keras.saving.register_keras_serializable(package='enformer_tf')
class Conv1D(keras.layers.Conv1D):
  """Keras' `Conv1D` with SAME padding, computed as `implementation` says.

  Args:
    filters: output channels.
    kernel_size: the width W.
    implementation: `'conv'` (TensorFlow's convolution), `'matmul'` (W
      matrix products of shifted views) or `'auto'`: matmul for float32 and
      float64 compute, conv for 16-bit (see the module docstring).
    **kwargs: Keras' `Conv1D` arguments (stride 1, no dilation, no groups).
  """

  def __init__(self, filters: int, kernel_size: int,
               implementation: str = 'auto', **kwargs):
    kwargs.setdefault('padding', 'same')
    super().__init__(filters, kernel_size, **kwargs)
    resolve_implementation(implementation, 'float32')  # Validates.
    if (self.padding != 'same' or self.strides != (1,)
        or self.dilation_rate != (1,) or self.groups != 1):
      raise ValueError(
          'enformer_tf Conv1D supports SAME padding, stride 1, dilation 1 and '
          f'one group; got padding={self.padding!r}, strides={self.strides}, '
          f'dilation_rate={self.dilation_rate}, groups={self.groups}.')
    self.implementation = implementation

  def call(self, inputs):
    if resolve_implementation(self.implementation,
                              self.compute_dtype) == 'conv':
      return super().call(inputs)
    # A tensor, not the variable: tf.custom_gradient takes tensors.
    outputs = shifted_matmul_conv1d(inputs, tf.convert_to_tensor(self.kernel))
    if self.use_bias:
      outputs = tf.nn.bias_add(outputs, self.bias)
    if self.activation is not None:
      outputs = self.activation(outputs)
    return outputs

  def get_config(self):
    return dict(super().get_config(), implementation=self.implementation)
