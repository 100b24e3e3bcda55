"""Serving functions of an Enformer SavedModel (TF Serving and TF Hub style).

`ServingModule` wraps a built Enformer in a `tf.Module` whose functions are
what `export_saved_model` saves:

- TF Serving signatures, all with a fixed sequence length `L` (the model's
  `sequence_length`) and named inputs and outputs:

  | signature | input | outputs |
  |---|---|---|
  | `serving_default` | `sequence` float32 `[B, L, 4]` | one per head |
  | `<head>` | `sequence` | `<head>` `[B, bins, tracks]` |
  | `embeddings` | `sequence` | `embeddings` `[B, bins, 2C]` |
  | `dna` | `dna` string `[B]` | one per head |
  | `<head>_dna` | `dna` | `<head>` |
  | `embeddings_dna` | `dna` | `embeddings` |

  `tracks` keeps chosen track columns per head and `output_dtype='float16'`
  halves the responses (a full human response is 19 MB per sequence in
  float32).

- The TF Hub Enformer's interface (REFERENCE section 6): `module.model.
  predict_on_batch(x) -> {head: [B, bins, tracks]}` (every head, every track,
  float32, whatever `tracks` and `output_dtype` say) and
  `module.contribution_input_grad(sequence, target_mask, head)`, traced once
  per head so that the loaded function dispatches on the head name. Like
  `deepmind/enformer/1` (which takes 393,216 bp and predicts from the centre
  196,608 bp), both take the hub length `H` (`hub_sequence_length`, default
  `2 * L`; `predict_on_batch.input_signature[0].shape[1] == H`) and crop the
  centre `L` bp in the graph, `(H - L) // 2` bp off each side. The crop is
  differentiable: the gradient at the cropped flanks is zero. `module.model`
  tracks the variables itself, so it keeps working after the loaded root
  object is dropped.

Inputs are checked inside the graph, because TF Serving's C++ session does
not check fed tensors against the signature's static shape: a wrong rank or
length, an empty batch, one-hot rows that are not one-hot (such as 0.25 for
`N`), a DNA string of the wrong length or with letters other than A, C, G, T,
N (either case) all fail with `InvalidArgumentError` whose message names what
was expected. A fed tensor of the wrong dtype fails before the graph runs,
with TensorFlow's own `InvalidArgument` ("expect float").
"""
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from enformer_tf.constants import BIN_SIZE
from enformer_tf.layers.cropping import TargetLengthCrop1D

SEQUENCE_INPUT = 'sequence'
DNA_INPUT = 'dna'
EMBEDDINGS = 'embeddings'
DNA_SUFFIX = '_dna'
DEFAULT_SIGNATURE = 'serving_default'
OUTPUT_DTYPES = ('float32', 'float16')
DNA_LETTERS = 'ACGTN'

_INVALID_CODE = 5  # Base code of a byte that is not A, C, G, T or N.
# [256] int32: byte -> 0..3 for A, C, G, T, 4 for N (either case), else 5.
_BYTE_TO_CODE = np.full(256, _INVALID_CODE, dtype=np.int32)
for _code, _letter in enumerate(DNA_LETTERS):
  _BYTE_TO_CODE[ord(_letter)] = _code
  _BYTE_TO_CODE[ord(_letter.lower())] = _code
del _code, _letter
_HEX_DIGITS = '0123456789abcdef'


def signature_names(heads: Sequence[str]) -> List[str]:
  """Names of the serving signatures for a model with these heads, in order."""
  names = [DEFAULT_SIGNATURE, DNA_INPUT, EMBEDDINGS, EMBEDDINGS + DNA_SUFFIX]
  for head in heads:
    names += [head, head + DNA_SUFFIX]
  return names


# -- In-graph input checks -----------------------------------------------------


def _runtime_shape(x: tf.Tensor):
  """`(shape, rank)` of the tensor actually fed, never folded from the spec.

  TF Serving's session does not check a fed tensor against the signature's
  static shape, but graph optimisation does fold shape computations the
  static shape determines (`tf.rank` and `tf.size` even fold in Python).
  The data-dependent `boolean_mask` hides the static shape from them, so the
  checks see the fed tensor's real rank and dimensions.
  """
  shape = tf.shape(x, out_type=tf.int32)  # [rank]
  shape = tf.boolean_mask(shape, shape >= 0)  # [rank], static size unknown
  rank = tf.raw_ops.Size(input=shape, out_type=tf.int32)  # []
  return shape, rank


def _checked(x: tf.Tensor, checks) -> tf.Tensor:
  """`x` after the assertions built by each of `checks`, run in order.

  Each check is a function of nothing that builds a `tf.debugging.Assert`
  (and the ops computing its condition). It is built under the previous
  assertion's control dependency, so later checks, which may index into the
  shape or reduce over axes of the expected rank, only run once the earlier
  ones have passed, and the first failing check is the one reported.
  """
  dependencies = []
  for check in checks:
    with tf.control_dependencies(dependencies):
      dependencies = [check()]
  with tf.control_dependencies(dependencies):
    return tf.identity(x)


def check_one_hot_sequence(sequence: tf.Tensor, sequence_length: int,
                           check_values: bool = True) -> tf.Tensor:
  """Checks a batch of one-hot DNA in the graph; returns it unchanged.

  Args:
    sequence: float32, expected `[B, sequence_length, 4]` with `B >= 1`.
    sequence_length: the exact length in bp.
    check_values: also require every row to be one-hot or all zeros.

  Returns:
    `sequence`, `[B, sequence_length, 4]`, once the checks have passed.

  Raises:
    tf.errors.InvalidArgumentError: at run time, naming the expected shape or
      encoding and showing what was fed.
  """
  expected = (f'[batch, {sequence_length}, 4] (one-hot DNA of exactly '
              f'{sequence_length:,} bp, columns A, C, G, T)')
  shape, rank = _runtime_shape(sequence)
  # [3]: the shape, padded so that indexing works whatever the rank.
  dims = tf.concat([shape, tf.constant([-1, -1, -1])], axis=0)[:3]

  def rank_check():
    return tf.debugging.Assert(
        tf.logical_and(tf.equal(rank, 3), tf.equal(dims[2], 4)),
        [f'Invalid input `{SEQUENCE_INPUT}`: expected shape {expected}; got '
         'shape', shape], summarize=8)

  def length_check():
    return tf.debugging.Assert(
        tf.equal(dims[1], sequence_length),
        [f'Invalid input `{SEQUENCE_INPUT}`: expected a sequence length of '
         f'exactly {sequence_length} bp, shape {expected}; got shape', shape],
        summarize=8)

  def batch_check():
    return tf.debugging.Assert(
        tf.greater(dims[0], 0),
        [f'Invalid input `{SEQUENCE_INPUT}`: empty batch; expected at least '
         f'one sequence, shape {expected}; got shape', shape], summarize=8)

  def value_check():
    values_ok = tf.reduce_all(tf.logical_or(
        tf.equal(sequence, 0.0), tf.equal(sequence, 1.0)))  # []
    rows_ok = tf.reduce_all(tf.reduce_sum(sequence, axis=-1) <= 1.0)  # []
    return tf.debugging.Assert(
        tf.logical_and(values_ok, rows_ok),
        [f'Invalid input `{SEQUENCE_INPUT}`: every row must be one-hot '
         '(a single 1 in columns A, C, G, T) or all zeros for N; got values '
         'other than 0 and 1 or a row with several 1s (encode N as zeros, '
         'not 0.25)'])

  checks = [rank_check, length_check, batch_check]
  if check_values:
    checks.append(value_check)
  return _checked(sequence, checks)


def _byte_text(byte: tf.Tensor) -> tf.Tensor:
  """An int32 byte value as text that is safe in an error message.

  Printable ASCII is shown as itself, any other byte as `0xhh`: the message
  must be valid UTF-8, since TensorFlow's Python binding decodes it (a raw
  0xff raised `UnicodeDecodeError` instead of `InvalidArgumentError`) and
  gRPC and REST carry it as text.
  """
  digits = tf.constant(list(_HEX_DIGITS))  # [16]
  hexadecimal = tf.strings.join(['0x', tf.gather(digits, byte // 16),
                                 tf.gather(digits, byte % 16)])  # []
  itself = tf.strings.unicode_encode(byte[tf.newaxis], 'UTF-8')  # []
  printable = tf.logical_and(byte >= 32, byte < 127)
  return tf.where(printable, itself, hexadecimal)


def dna_to_one_hot(dna: tf.Tensor, sequence_length: int) -> tf.Tensor:
  """Checks and one-hot encodes a batch of DNA strings in the graph.

  Args:
    dna: `tf.string` `[B]`, `B >= 1`; each string exactly `sequence_length`
      letters of A, C, G, T, N in either case.
    sequence_length: the exact length in bp.

  Returns:
    float32 `[B, sequence_length, 4]`: columns A, C, G, T; N is all zeros.

  Raises:
    tf.errors.InvalidArgumentError: at run time, for a wrong rank, an empty
      batch, a string of another length (the lengths are shown) or a letter
      outside ACGTN (its batch index, position and value are shown; a
      byte that is not printable ASCII as `0xhh`).
  """
  expected = (f'a [batch] vector of DNA strings, each exactly '
              f'{sequence_length:,} letters of A, C, G, T, N (either case)')
  shape, rank = _runtime_shape(dna)
  lengths = tf.strings.length(dna, unit='BYTE')  # [B]

  def rank_check():
    return tf.debugging.Assert(
        tf.equal(rank, 1),
        [f'Invalid input `{DNA_INPUT}`: expected {expected}; got shape',
         shape], summarize=8)

  def batch_check():
    return tf.debugging.Assert(
        tf.greater(shape[0], 0),
        [f'Invalid input `{DNA_INPUT}`: empty batch; expected {expected}'])

  def length_check():
    return tf.debugging.Assert(
        tf.reduce_all(tf.equal(lengths, sequence_length)),
        [f'Invalid input `{DNA_INPUT}`: expected each string to be exactly '
         f'{sequence_length} letters (A, C, G, T, N); got lengths', lengths],
        summarize=16)

  dna = _checked(dna, [rank_check, batch_check, length_check])
  byte_values = tf.cast(tf.io.decode_raw(dna, tf.uint8), tf.int32)  # [B, L]
  codes = tf.gather(tf.constant(_BYTE_TO_CODE), byte_values)  # [B, L] 0..5
  invalid = tf.equal(codes, _INVALID_CODE)  # [B, L]
  # The first invalid letter (index 0 when there is none, so always valid).
  first = tf.argmax(tf.reshape(tf.cast(invalid, tf.int32), [-1]),
                    output_type=tf.int32)
  row, position = first // sequence_length, first % sequence_length
  letter = _byte_text(tf.gather(tf.reshape(byte_values, [-1]), first))
  alphabet_check = tf.debugging.Assert(
      tf.logical_not(tf.reduce_any(invalid)),
      [f'Invalid input `{DNA_INPUT}`: expected only the letters A, C, G, T '
       'and N (either case); first invalid letter at (batch index, '
       'position, letter):', row, position, letter])
  with tf.control_dependencies([alphabet_check]):
    codes = tf.identity(codes)
  # N (4) is outside depth 4, so its row is all zeros.
  return tf.one_hot(codes, depth=4, dtype=tf.float32)  # [B, L, 4]


# -- The module ----------------------------------------------------------------


def _check_tracks(tracks: Optional[Mapping[str, Sequence[int]]],
                  heads: Mapping[str, int]) -> Dict[str, List[int]]:
  """Validates the per-head track selection; returns head -> indices."""
  selection = {}
  for head, indices in (tracks or {}).items():
    if head not in heads:
      raise ValueError(f'tracks names the head {head!r}, which the model does '
                       f'not have; its heads are {sorted(heads)}.')
    indices = list(indices)
    if not indices:
      raise ValueError(f'tracks[{head!r}] is empty; give at least one track '
                       f'index in 0..{heads[head] - 1}, or leave the head out '
                       'to keep all its tracks.')
    for index in indices:
      if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise ValueError(f'tracks[{head!r}] must hold integer track indices; '
                         f'got {index!r}.')
      if not 0 <= index < heads[head]:
        raise ValueError(f'tracks[{head!r}] has index {index}, outside the '
                         f'{head} head\'s tracks 0..{heads[head] - 1}.')
    if len(set(indices)) != len(indices):
      duplicates = sorted({i for i in indices if indices.count(i) > 1})
      raise ValueError(f'tracks[{head!r}] repeats the indices {duplicates}; '
                       'give each track once.')
    selection[head] = [int(i) for i in indices]
  return selection


def check_hub_sequence_length(hub_sequence_length: Optional[int],
                              sequence_length: int) -> int:
  """The TF Hub input length `H` for a model of length `L`.

  Args:
    hub_sequence_length: `H` in bp, or None for `2 * L` (393,216 bp for the
      published 196,608-bp Enformer, as `deepmind/enformer/1` takes).
    sequence_length: `L`, the model's input length in bp.

  Returns:
    `H`: an integer with `H >= L` and `H - L` even, so that the centre `L`
    bp are `(H - L) // 2` bp from either end.

  Raises:
    ValueError: `H` is not an integer, shorter than `L`, or `H - L` is odd.
  """
  if hub_sequence_length is None:
    return 2 * int(sequence_length)
  value = hub_sequence_length
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise ValueError(f'hub_sequence_length must be an integer number of bp '
                     f'(or None for 2 x {sequence_length} = '
                     f'{2 * sequence_length}); got {value!r}.')
  value = int(value)
  if value < sequence_length:
    raise ValueError(
        f'hub_sequence_length={value} is shorter than the model\'s '
        f'sequence_length={sequence_length}; it must be at least '
        f'{sequence_length} bp (the TF Hub functions crop the centre '
        f'{sequence_length} bp of it), default {2 * sequence_length}.')
  if (value - sequence_length) % 2:
    raise ValueError(
        f'hub_sequence_length={value} minus the model\'s sequence_length='
        f'{sequence_length} is odd ({value - sequence_length}); it must be '
        'even, so that the centre crop removes the same number of bp from '
        f'each side (e.g. {value + 1} or {value - 1}).')
  return value


class HubModel(tf.Module):
  """The TF Hub Enformer's `.model`: `predict_on_batch(x) -> {head: y}`.

  `predict_on_batch` takes float32 `[B, H, 4]` (its `input_signature[0].
  shape[1]` is `H`, the hub length) and returns every head's
  `[B, bins, tracks]` in float32, computed from the centre `L` bp,
  differentiable with respect to `x` (so gradient tools work on it after
  loading).

  Args:
    predict_fn: `[B, H, 4] -> {head: [B, bins, tracks]}`.
    hub_sequence_length: `H`.
    variables: every variable `predict_fn` reads. Tracked here, so that the
      loaded `.model` owns them: without this, `tf.saved_model.load(p).model`
      failed ("referencing variables which have been deleted") once the
      loaded root object was garbage-collected.
  """

  def __init__(self, predict_fn, hub_sequence_length: int,
               variables: Sequence[tf.Variable]):
    super().__init__(name='model')
    self.enformer_variables = list(variables)
    self.predict_on_batch = tf.function(
        predict_fn, input_signature=[tf.TensorSpec(
            [None, hub_sequence_length, 4], tf.float32, name='x')])


class ServingModule(tf.Module):
  """An Enformer's serving and TF Hub functions, ready for `tf.saved_model`.

  Args:
    model: an Enformer (anything with `embed`, `head_layers`, `heads`,
      `sequence_length`, `target_length`, `channels`); built here if it is
      not yet.
    tracks: head -> track indices to keep in the serving signatures (in the
      given order); heads left out keep all their tracks.
    output_dtype: `'float32'` or `'float16'`, the dtype of the serving
      signatures' outputs.
    hub_sequence_length: `H`, the input length in bp of the TF Hub-style
      `model.predict_on_batch` and `contribution_input_grad`, which crop its
      centre `L` bp; None for `2 * L` (393,216 bp for a 196,608-bp model,
      as the TF Hub Enformer takes). Must be `>= L` with `H - L` even.

  Attributes:
    sequence_length: `L`, the fixed input length in bp of the serving
      signatures.
    hub_sequence_length: `H`, the input length of the TF Hub functions.
    bins: output bins per sequence.
    heads: head -> tracks in the serving outputs (after `tracks`).
    model_heads: head -> tracks of the model.
    track_indices: head -> kept model track indices (every head).
    embedding_size: `2C`.
    model: the TF Hub-style `HubModel`.

  Raises:
    ValueError: the model has no fixed `sequence_length`, a head name would
      clash with another signature, or `tracks` / `output_dtype` /
      `hub_sequence_length` is invalid.
  """

  def __init__(self, model: keras.Model,
               tracks: Optional[Mapping[str, Sequence[int]]] = None,
               output_dtype: str = 'float32',
               hub_sequence_length: Optional[int] = None):
    super().__init__(name='enformer_serving')
    if output_dtype not in OUTPUT_DTYPES:
      raise ValueError(f'output_dtype must be one of {OUTPUT_DTYPES}, got '
                       f'{output_dtype!r}.')
    if getattr(model, 'sequence_length', None) is None:
      raise ValueError(
          'The model has sequence_length=None, but a serving signature needs '
          'a fixed input length: build the model with '
          'Enformer(sequence_length=...).')
    model_heads = dict(model.heads)
    names = signature_names(model_heads)
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
      raise ValueError(
          f'The head names {sorted(model_heads)} give clashing signature '
          f'names {clashes}; rename the heads (they may not be '
          f'{DNA_INPUT!r}, {EMBEDDINGS!r} or end in {DNA_SUFFIX!r} of '
          'another head).')
    selection = _check_tracks(tracks, model_heads)
    self.sequence_length = int(model.sequence_length)
    self.hub_sequence_length = check_hub_sequence_length(
        hub_sequence_length, self.sequence_length)
    self.bins = int(model.target_length or self.sequence_length // BIN_SIZE)
    self.embedding_size = 2 * int(model.channels)
    self.output_dtype = output_dtype
    # Plain Python values, kept out of the SavedModel's object graph.
    self.track_indices = self._no_dependency({
        head: selection.get(head, list(range(n)))
        for head, n in model_heads.items()})
    self.heads = self._no_dependency(
        {head: len(indices) for head, indices in self.track_indices.items()})
    self.model_heads = self._no_dependency(model_heads)
    self._selected = self._no_dependency(selection)
    if not model.built:
      model.build(tf.TensorShape([None, self.sequence_length, 4]))
    # The Keras model is used by the functions but not saved as a Keras
    # object (that would trace every layer's call for Keras' own loader);
    # its variables are saved here and captured by the functions.
    self._keras_model = self._no_dependency(model)
    self.enformer_variables = list(model.variables)

    sequence_spec = tf.TensorSpec([None, self.sequence_length, 4], tf.float32,
                                  name=SEQUENCE_INPUT)
    # One trunk function, called by every other one: the SavedModel stores
    # its graph once.
    self._embed = tf.function(
        lambda sequence: model.embed(sequence, training=False),
        input_signature=[sequence_spec])
    self.model = HubModel(self._predict_on_batch, self.hub_sequence_length,
                          self.enformer_variables)
    self.contribution_input_grad = tf.function(self._contribution_input_grad)

  # -- Building blocks ---------------------------------------------------------

  def _head(self, embedding: tf.Tensor, head: str) -> tf.Tensor:
    """One head's `[B, bins, tracks]` in float32, all the model's tracks."""
    return tf.cast(self._keras_model.head_layers[head](embedding), tf.float32)

  def _serving_head(self, embedding: tf.Tensor, head: str) -> tf.Tensor:
    """One head's serving output: selected tracks, `output_dtype`."""
    prediction = self._head(embedding, head)  # [B, bins, all tracks]
    if head in self._selected:
      prediction = tf.gather(prediction, tf.constant(self._selected[head]),
                             axis=-1)
    return tf.cast(prediction, self.output_dtype)  # [B, bins, tracks]

  def _hub_input(self, x: tf.Tensor) -> tf.Tensor:
    """The centre `[B, L, 4]` of a checked `[B, H, 4]` TF Hub input."""
    if x.shape.rank is not None and x.shape.rank >= 2 and (
        x.shape[-2] is not None and x.shape[-2] != self.hub_sequence_length):
      # Only reachable in process (the saved functions have fixed specs).
      raise ValueError(
          f'The TF Hub functions take {self.hub_sequence_length:,} bp '
          f'(hub_sequence_length; the model predicts from the centre '
          f'{self.sequence_length:,} bp); got a sequence of '
          f'{x.shape[-2]:,} bp.')
    x = check_one_hot_sequence(x, self.hub_sequence_length,
                               check_values=False)
    # The centre L bp, (H - L) // 2 off each side (H - L is even); the
    # gradient at the removed flanks is zero.
    return TargetLengthCrop1D(self.sequence_length, name='hub_crop')(x)

  def _predict_on_batch(self, x):
    embedding = self._embed(self._hub_input(x))  # [B, bins, 2C]
    return {head: self._head(embedding, head) for head in self.model_heads}

  def _contribution_input_grad(self, sequence, target_mask, head):
    """Gradient x input of the mask-weighted mean prediction: `[H]`.

    `sequence` is `[H, 4]`; the scores at the `(H - L) // 2` bp cropped off
    either side are zero.
    """
    sequence = sequence[tf.newaxis]  # [1, H, 4]
    with tf.GradientTape() as tape:
      tape.watch(sequence)
      embedding = self._embed(self._hub_input(sequence))  # [1, bins, 2C]
      prediction = self._head(embedding, head)[0]  # [bins, tracks]
      score = (tf.reduce_sum(target_mask * prediction) /
               tf.reduce_sum(target_mask))  # []
    gradient = tape.gradient(score, sequence)  # [1, H, 4]
    return tf.reduce_sum(gradient[0] * sequence[0], axis=-1)  # [H]

  # -- Tracing -----------------------------------------------------------------

  def signatures(self) -> Dict[str, tf.types.experimental.ConcreteFunction]:
    """Traces every function; returns signature name -> concrete function.

    Also traces `model.predict_on_batch` and `contribution_input_grad` for
    each head, so that all are in the SavedModel.
    """
    sequence_spec = tf.TensorSpec([None, self.sequence_length, 4], tf.float32,
                                  name=SEQUENCE_INPUT)
    dna_spec = tf.TensorSpec([None], tf.string, name=DNA_INPUT)
    heads = list(self.model_heads)

    def from_sequence(outputs):
      def serve(sequence):
        sequence = check_one_hot_sequence(sequence, self.sequence_length)
        return outputs(self._embed(sequence))
      return tf.function(serve, input_signature=[sequence_spec])

    def from_dna(outputs):
      def serve(dna):
        return outputs(self._embed(dna_to_one_hot(dna, self.sequence_length)))
      return tf.function(serve, input_signature=[dna_spec])

    def all_heads(embedding):
      return {head: self._serving_head(embedding, head) for head in heads}

    def one_head(head):
      return lambda embedding: {head: self._serving_head(embedding, head)}

    def embeddings(embedding):
      return {EMBEDDINGS: tf.cast(embedding, self.output_dtype)}

    outputs = {DEFAULT_SIGNATURE: all_heads, EMBEDDINGS: embeddings}
    outputs.update({head: one_head(head) for head in heads})
    functions = {}
    for name in signature_names(heads):
      if name == DNA_INPUT:
        functions[name] = from_dna(all_heads)
      elif name.endswith(DNA_SUFFIX):
        functions[name] = from_dna(outputs[name[:-len(DNA_SUFFIX)]])
      else:
        functions[name] = from_sequence(outputs[name])
    concrete = {name: f.get_concrete_function()
                for name, f in functions.items()}

    self.model.predict_on_batch.get_concrete_function()
    for head, tracks in self.model_heads.items():
      self.contribution_input_grad.get_concrete_function(
          tf.TensorSpec([self.hub_sequence_length, 4], tf.float32,
                        name=SEQUENCE_INPUT),
          tf.TensorSpec([self.bins, tracks], tf.float32, name='target_mask'),
          head)
    return concrete

  def metadata(self) -> Dict[str, object]:
    """A JSON-able description of the signatures and the track selection."""
    specs = {}
    for name in signature_names(self.model_heads):
      if name in (DNA_INPUT, DEFAULT_SIGNATURE):
        heads = list(self.model_heads)
      elif name in (EMBEDDINGS, EMBEDDINGS + DNA_SUFFIX):
        heads = []
      else:
        heads = [name[:-len(DNA_SUFFIX)] if name.endswith(DNA_SUFFIX)
                 else name]
      dna = name == DNA_INPUT or name.endswith(DNA_SUFFIX)
      inputs = ({DNA_INPUT: {'dtype': 'string', 'shape': [-1]}} if dna else
                {SEQUENCE_INPUT: {'dtype': 'float32',
                                  'shape': [-1, self.sequence_length, 4]}})
      outputs = {head: {'dtype': self.output_dtype,
                        'shape': [-1, self.bins, self.heads[head]]}
                 for head in heads}
      if not heads:
        outputs = {EMBEDDINGS: {'dtype': self.output_dtype,
                                'shape': [-1, self.bins, self.embedding_size]}}
      specs[name] = {'inputs': inputs, 'outputs': outputs}
    return dict(sequence_length=self.sequence_length,
                hub_sequence_length=self.hub_sequence_length, bins=self.bins,
                bin_size=BIN_SIZE, embedding_size=self.embedding_size,
                output_dtype=self.output_dtype, heads=dict(self.heads),
                model_heads=dict(self.model_heads),
                track_indices={h: list(i)
                               for h, i in self.track_indices.items()},
                signatures=specs)
