"""Fine-tuning: start from released or trained weights, choose what trains.

  model, report = prepare_finetune(
      'enformer.keras', heads={'atac': 12}, keep_source_heads=False,
      train='last_k_blocks', last_k=2, batch_norm='freeze_statistics')
  trainer = Trainer(lambda: model, data, 'runs/atac',
                    optimizer=functools.partial(finetune_adam,
                                                trunk_learning_rate_multiplier=0.1))

The source is an `Enformer`, a `.keras` file, a training directory (or a
checkpoint prefix in one) or a DeepMind Sonnet checkpoint (the released
weights). The new model has the source's configuration (overridable by
`model_kwargs`: lengths, dropout, `recompute_grad`) and the heads asked for;
the trunk is copied exactly, a source head of the same name and size is
copied too, a head of the same name but another size starts afresh and is
reported by name with both shapes (`InitReport`). A trunk weight whose shape
differs (e.g. `model_kwargs` changed `channels`) is an error listing every
such weight.

What trains (`set_trainable`):
  'heads'          the heads only: a linear probe on the frozen trunk.
  'last_k_blocks'  the last `last_k` transformer blocks, the final pointwise
                   block and the heads.
  'all'            everything.
plus `freeze` (layer paths such as `trunk/stem`) for finer control, and
`batch_norm` for the BatchNorms of the parts that train:
  'train'              batch statistics, moving averages updated, gamma and
                       beta trained (from-scratch training);
  'freeze_statistics'  normalise with the moving averages and never update
                       them; gamma and beta still train (small batches, a
                       new data distribution);
  'freeze'             statistics and gamma/beta frozen.
Frozen parts always run their BatchNorms on the moving averages. A frozen
trunk gets no gradient: the step differentiates the loss with respect to
`model.trainable_variables` only, so in a compiled step neither weight
gradients nor the trunk's activations are kept for the backward pass
(bench/finetune_memory.py measures it).

`lora` adds low-rank adapters (`layers.lora`) after the freezing: only the
adapters (and what else trains) are trainable. A `.keras` file, a SavedModel
export and `enformer_tf.load_model` of the training directory all give the
merged plain Enformer (`layers.lora` says how).

Discriminative learning rates: `finetune_adam` scales the learning rate of
the pretrained trunk's variables by `trunk_learning_rate_multiplier`; heads
and adapters train at the full rate.
"""
import dataclasses
import logging
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import tensorflow as tf
import tf_keras as keras

from enformer_tf.constants import MODEL_CONFIG, OPERATIVE_CONFIG
from enformer_tf.layers import lora as lora_lib
from enformer_tf.layers.conv_block import ConvBlock
from enformer_tf.model import Enformer
from enformer_tf.train import optimizer as optimizer_lib
from enformer_tf.train import schedules

logger = logging.getLogger(__name__)

TRAIN_PRESETS = ('heads', 'last_k_blocks', 'all')
BATCH_NORM_MODES = ('train', 'freeze_statistics', 'freeze')
Source = Union[str, os.PathLike, Enformer]
# Variables at the full learning rate in `finetune_adam`: heads and adapters.
NEW_VARIABLE_PATTERN = r'(^|/)head_\w+/|(^|/)lora_[ab]'


@dataclasses.dataclass
class InitReport:
  """What `initialise_from` copied.

  Attributes:
    trunk_weights: trunk weights copied (all of them).
    copied_heads: heads copied from the source.
    new_heads: heads the source lacks, freshly initialised.
    mismatched_heads: heads of a source name but another size, freshly
      initialised: `'name: source [2C, n] vs model [2C, m]'`.
    dropped_heads: source heads the model does not have.
  """
  trunk_weights: int = 0
  copied_heads: List[str] = dataclasses.field(default_factory=list)
  new_heads: List[str] = dataclasses.field(default_factory=list)
  mismatched_heads: List[str] = dataclasses.field(default_factory=list)
  dropped_heads: List[str] = dataclasses.field(default_factory=list)

  def summary(self) -> str:
    parts = [f'{self.trunk_weights} trunk weights copied']
    for label, names in (('heads copied', self.copied_heads),
                         ('new heads', self.new_heads),
                         ('heads re-initialised (size differs)',
                          self.mismatched_heads),
                         ('source heads dropped', self.dropped_heads)):
      if names:
        parts.append(f'{label}: {", ".join(names)}')
    return '; '.join(parts)


# -- The source ----------------------------------------------------------------


def _is_training_dir(path: str) -> bool:
  directory = path if os.path.isdir(path) else os.path.dirname(path)
  return any(os.path.exists(os.path.join(directory, name))
             for name in (MODEL_CONFIG, OPERATIVE_CONFIG))


def load_source(source: Source, **deepmind_kwargs) -> Enformer:
  """The model to start from.

  Args:
    source: an `Enformer`; a `.keras` file; a training directory or a
      checkpoint prefix in one (it has `model_config.json` or
      `operative_config.gin`; a LoRA run comes back merged); otherwise a
      DeepMind Sonnet checkpoint (prefix, file or directory), whose
      configuration is read off its shapes.
    **deepmind_kwargs: `Enformer` arguments for a DeepMind checkpoint
      (lengths are not stored in it).
  """
  if isinstance(source, Enformer):
    return source
  if isinstance(source, keras.Model):
    raise TypeError(f'The source model must be an Enformer, got '
                    f'{type(source).__name__}.')
  from enformer_tf import io  # pylint: disable=import-outside-toplevel
  path = os.fspath(source)
  if path.endswith('.keras') or _is_training_dir(path):
    return io.load_model(path)
  if not (os.path.exists(path) or tf.io.gfile.glob(path + '*')):
    raise FileNotFoundError(
        f'No source model at {path}: expected a .keras file, a training '
        'directory or a DeepMind checkpoint.')
  return io.from_deepmind_checkpoint(path, **deepmind_kwargs)


def _weight_path(model: Enformer, weight: tf.Variable) -> str:
  return weight.name.split(':')[0]


def initialise_from(model: Enformer, source: Enformer,
                    copy_heads: bool = True) -> InitReport:
  """Copies the source's trunk, and heads of the same name and size.

  Both models must be built. Nothing is assigned if a trunk weight does not
  match.

  Raises:
    ValueError: trunk weights differ in number or shape; every mismatch is
      named with both shapes.
  """
  target_weights, source_weights = model.trunk.weights, source.trunk.weights
  if len(target_weights) != len(source_weights):
    raise ValueError(
        f'The source trunk has {len(source_weights)} weights, the model '
        f'{len(target_weights)}: the architectures differ (compare '
        f'channels, num_transformer_layers, pooling_type).')
  misshaped = [
      f'{_weight_path(model, t)}: source {list(s.shape)} vs model '
      f'{list(t.shape)}'
      for t, s in zip(target_weights, source_weights) if t.shape != s.shape]
  if misshaped:
    raise ValueError(f'{len(misshaped)} trunk weights do not match the '
                     f'source: ' + '; '.join(misshaped))
  values = [s.numpy() for s in source_weights]
  for target, value in zip(target_weights, values):
    target.assign(value)
  report = InitReport(trunk_weights=len(values))
  for name, head in model.head_layers.items():
    source_head = source.head_layers.get(name)
    if source_head is None:
      report.new_heads.append(name)
    elif source_head.kernel.shape != head.kernel.shape:
      report.mismatched_heads.append(
          f'{name}: source {list(source_head.kernel.shape)} vs model '
          f'{list(head.kernel.shape)}')
    elif copy_heads:
      head.kernel.assign(source_head.kernel)
      head.bias.assign(source_head.bias)
      report.copied_heads.append(name)
    else:
      report.new_heads.append(name)
  report.dropped_heads = sorted(set(source.head_layers) -
                                set(model.head_layers))
  return report


# -- What trains ---------------------------------------------------------------


def find_layer(model: keras.layers.Layer, path: str) -> keras.layers.Layer:
  """The layer at `path` (`trunk/transformer/transformer_block_1`)."""
  layer = model
  for part in path.strip('/').split('/'):
    children = {child.name: child for child in
                layer._flatten_layers(include_self=False, recursive=False)}  # pylint: disable=protected-access
    if part not in children:
      raise ValueError(f'No layer {part!r} in {layer.name} (path {path!r}); '
                       f'it has {sorted(children)}.')
    layer = children[part]
  return layer


def _freeze_own_weights(layer: keras.layers.Layer) -> None:
  """Moves `layer`'s own (not its children's) weights to non-trainable."""
  # In place: assigning new lists would make Keras track them as data
  # structures and put the trainable variables back. In front: a `.keras`
  # file stores a layer's weights in the order trainable + non-trainable,
  # which must stay that of the plain model that will load it.
  own = list(layer._trainable_weights)  # pylint: disable=protected-access
  del layer._trainable_weights[:]  # pylint: disable=protected-access
  layer._non_trainable_weights[:0] = [  # pylint: disable=protected-access
      w for w in own if all(w is not n for n in layer._non_trainable_weights)]  # pylint: disable=protected-access


def freeze(layer: keras.layers.Layer) -> None:
  """Freezes `layer`, except LoRA adapters inside it (their base is frozen)."""
  if isinstance(layer, lora_lib.LoRADense):
    layer.layer.trainable = False
    return
  if not lora_lib.lora_layers(layer):
    layer.trainable = False
    return
  _freeze_own_weights(layer)
  for child in layer._flatten_layers(include_self=False, recursive=False):  # pylint: disable=protected-access
    freeze(child)


def set_trainable(model: Enformer, train: str = 'all', last_k: int = 1,
                  batch_norm: str = 'train',
                  frozen: Sequence[str] = ()) -> Dict[str, int]:
  """Sets what trains (module docstring); returns `trainable_counts`.

  Args:
    model: a built `Enformer` (with adapters already applied, if any).
    train: `'heads'`, `'last_k_blocks'` or `'all'`.
    last_k: transformer blocks trained by `'last_k_blocks'` (0..layers).
    batch_norm: `'train'`, `'freeze_statistics'` or `'freeze'`.
    frozen: further layer paths to freeze (`find_layer`), e.g.
      `['trunk/stem', 'trunk/conv_tower/conv_tower_block_0']`.
  """
  if train not in TRAIN_PRESETS:
    raise ValueError(f'train must be one of {TRAIN_PRESETS}, got {train!r}.')
  if batch_norm not in BATCH_NORM_MODES:
    raise ValueError(f'batch_norm must be one of {BATCH_NORM_MODES}, got '
                     f'{batch_norm!r}.')
  stem, conv_tower, transformer, _, final_pointwise = model.trunk.layers
  blocks = transformer.layers
  if train == 'last_k_blocks' and (int(last_k) != last_k or
                                   not 0 <= last_k <= len(blocks)):
    raise ValueError(f'last_k must be an integer in 0..{len(blocks)} (the '
                     f'transformer blocks), got {last_k!r}.')
  adapters = lora_lib.lora_layers(model)
  model.trainable = True
  for adapter in adapters:  # Their base kernels stay frozen.
    adapter.layer.trainable = False
  if train == 'heads':
    to_freeze = [stem, conv_tower, *blocks, final_pointwise]
  elif train == 'last_k_blocks':
    to_freeze = [stem, conv_tower, *blocks[:len(blocks) - int(last_k)]]
  else:
    to_freeze = []
  to_freeze += [find_layer(model, path) for path in frozen]
  for layer in to_freeze:
    freeze(layer)
  for block in model.trunk._flatten_layers():  # pylint: disable=protected-access
    if isinstance(block, ConvBlock):
      block.freeze_statistics = False
      if block.batch_norm.trainable:  # In a part that trains.
        if batch_norm == 'freeze':
          block.batch_norm.trainable = False
        elif batch_norm == 'freeze_statistics':
          block.freeze_statistics = True
  return trainable_counts(model)


def trainable_counts(model: keras.Model) -> Dict[str, int]:
  """Parameters that train and that do not (numbers of scalars)."""
  def count(weights):
    return int(sum(int(tf.size(w)) for w in weights))
  return dict(trainable=count(model.trainable_weights),
              frozen=count(model.non_trainable_weights))


# -- Putting it together -------------------------------------------------------


def prepare_finetune(source: Source,
                     heads: Optional[Mapping[str, int]] = None,
                     keep_source_heads: bool = True,
                     copy_heads: bool = True,
                     model_kwargs: Optional[Mapping[str, Any]] = None,
                     train: str = 'all', last_k: int = 1,
                     batch_norm: str = 'train',
                     frozen: Sequence[str] = (),
                     lora: Optional[Mapping[str, Any]] = None
                     ) -> Tuple[Enformer, InitReport]:
  """A new `Enformer` initialised from `source`, with its trainability set.

  Args:
    source: see `load_source`.
    heads: new heads, organism -> tracks (e.g. an `enformer-make-data`
      output's track count); added to (or replacing) the source's.
    keep_source_heads: keep the source's other heads (False: only `heads`).
    copy_heads: copy source heads of the same name and size.
    model_kwargs: `Enformer` arguments overriding the source's (lengths,
      dropout rates, `recompute_grad`, ...); for a DeepMind checkpoint also
      used to build the source.
    train, last_k, batch_norm, frozen: see `set_trainable`.
    lora: `apply_lora` arguments (`rank`, `alpha`, `dropout_rate`,
      `targets`, `blocks`), or None for no adapters.

  Returns:
    (the built model, its `InitReport`).
  """
  model_kwargs = dict(model_kwargs or {})
  source_model = load_source(source, **model_kwargs)
  if not source_model.built:
    source_model.build(tf.TensorShape([None, None, 4]))
  config = source_model.get_config()
  config.update(model_kwargs)
  new_heads = dict(source_model.heads) if keep_source_heads else {}
  new_heads.update({str(k): int(v) for k, v in (heads or {}).items()})
  if not new_heads:
    raise ValueError('The fine-tuned model has no heads: pass heads= '
                     '(organism -> tracks) or keep_source_heads=True.')
  config['heads'] = new_heads
  model = Enformer(**config)
  model.build(tf.TensorShape([None, None, 4]))
  report = initialise_from(model, source_model, copy_heads=copy_heads)
  if lora:
    lora_lib.apply_lora(model, **dict(lora))
  counts = set_trainable(model, train=train, last_k=last_k,
                         batch_norm=batch_norm, frozen=frozen)
  logger.info('Fine-tuning from %s: %s; %d parameters train, %d frozen.',
              source if not isinstance(source, Enformer) else source.name,
              report.summary(), counts['trainable'], counts['frozen'])
  for mismatch in report.mismatched_heads:
    logger.warning('Head %s: re-initialised.', mismatch)
  return model, report


def finetune_model(source: Source,
                   heads: Optional[Mapping[str, int]] = None,
                   keep_source_heads: bool = True,
                   copy_heads: bool = True,
                   model_kwargs: Optional[Mapping[str, Any]] = None,
                   train: str = 'all', last_k: int = 1,
                   batch_norm: str = 'train',
                   frozen: Sequence[str] = (),
                   lora: Optional[Mapping[str, Any]] = None) -> Enformer:
  """`prepare_finetune` returning the model only: gin's `Trainer.model`
  (`enformer_tf.train.finetune_model`, bound uncalled)."""
  return prepare_finetune(
      source, heads=heads, keep_source_heads=keep_source_heads,
      copy_heads=copy_heads, model_kwargs=model_kwargs, train=train,
      last_k=last_k, batch_norm=batch_norm, frozen=frozen, lora=lora)[0]


# -- Discriminative learning rates ---------------------------------------------


@keras.saving.register_keras_serializable(package='enformer_tf')
class DiscriminativeAdam(keras.optimizers.Adam):
  """Adam whose pretrained variables learn at a fraction of the rate.

  Variables whose name matches `new_variable_pattern` (heads, LoRA
  adapters) take the learning rate; every other variable takes it times
  `trunk_learning_rate_multiplier`. Adam's step is proportional to its rate,
  so this is exactly Adam with a rate per group; clipping stays global.
  """

  def __init__(self, trunk_learning_rate_multiplier: float = 0.1,
               new_variable_pattern: str = NEW_VARIABLE_PATTERN, **kwargs):
    kwargs.setdefault('name', 'DiscriminativeAdam')
    super().__init__(**kwargs)
    if not trunk_learning_rate_multiplier >= 0:
      raise ValueError('trunk_learning_rate_multiplier must be >= 0, got '
                       f'{trunk_learning_rate_multiplier!r}.')
    self.trunk_learning_rate_multiplier = float(trunk_learning_rate_multiplier)
    self.new_variable_pattern = new_variable_pattern
    self._new_variable = re.compile(new_variable_pattern)

  def multiplier(self, variable: tf.Variable) -> float:
    """The learning-rate factor of `variable`."""
    if self._new_variable.search(variable.name):
      return 1.0
    return self.trunk_learning_rate_multiplier

  def update_step(self, gradient, variable):
    multiplier = self.multiplier(variable)
    if multiplier == 1.0 or isinstance(gradient, tf.IndexedSlices):
      return super().update_step(gradient, variable)
    dtype = variable.dtype
    lr = tf.cast(self.learning_rate, dtype) * tf.cast(multiplier, dtype)
    local_step = tf.cast(self.iterations + 1, dtype)
    beta_1_power = tf.pow(tf.cast(self.beta_1, dtype), local_step)
    beta_2_power = tf.pow(tf.cast(self.beta_2, dtype), local_step)
    var_key = self._var_key(variable)
    m = self._momentums[self._index_dict[var_key]]
    v = self._velocities[self._index_dict[var_key]]
    alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    m.assign_add((gradient - m) * (1 - self.beta_1))
    v.assign_add((tf.square(gradient) - v) * (1 - self.beta_2))
    if self.amsgrad:
      v_hat = self._velocity_hats[self._index_dict[var_key]]
      v_hat.assign(tf.maximum(v_hat, v))
      v = v_hat
    epsilon = (self.epsilon * tf.sqrt(1 - beta_2_power)
               if getattr(self, 'adaptive_epsilon', False) else self.epsilon)
    variable.assign_sub((m * alpha) / (tf.sqrt(v) + epsilon))
    return None

  def get_config(self):
    config = super().get_config()
    config.update(
        trunk_learning_rate_multiplier=self.trunk_learning_rate_multiplier,
        new_variable_pattern=self.new_variable_pattern)
    return config


def finetune_adam(learning_rate: optimizer_lib.LearningRate = (
    schedules.PEAK_LEARNING_RATE),
                  trunk_learning_rate_multiplier: float = 0.1
                  ) -> keras.optimizers.Optimizer:
  """The recipe's Adam (global clipnorm 0.2) with a lower trunk rate."""
  return DiscriminativeAdam(
      trunk_learning_rate_multiplier=trunk_learning_rate_multiplier,
      learning_rate=learning_rate, epsilon=optimizer_lib.ADAM_EPSILON,
      global_clipnorm=optimizer_lib.GLOBAL_CLIPNORM, jit_compile=False)
