"""The training loop: one strategy-aware `train_step`, checkpoints, summaries.

REFERENCE §5 (`enformer-training.ipynb`): each global step does one update
per organism in turn (human, then mouse), each with only its own head's
Poisson loss; Adam with the learning rate warmed up linearly and the global
gradient norm clipped at 0.2.

Everything runs through a `tf.distribute.Strategy` (the default strategy when
none is given): datasets are batched to the *global* batch and distributed
with `experimental_distribute_dataset`, per-replica losses are scaled by the
global batch, and BatchNorm statistics are synchronised by the model
(`Enformer(synchronized_batch_norm=True)`).

Faults the loop survives (tests/reliability/):
- SIGKILL or a crash: the restart restores the newest *readable* checkpoint
  (`checkpointing.restore_newest_readable`); with `deterministic=True` the
  resumed run ends with the weights of an uninterrupted one.
- SIGINT / SIGTERM: the step finishes, a checkpoint is saved and
  `TrainingInterrupted` is raised (`interrupt.StopSignals`).
- A NaN or infinite loss or gradient norm: detected in the graph, before the
  optimizer runs, identically on every replica; the update is not applied
  and training stops (`NonFiniteLossError`) or, with `non_finite='skip'`,
  goes on and counts it (`non_finite`). Weights that are not finite are
  never saved.
- Corrupt TFRecords: the error names the file and the step; with
  `basenji_datasets(skip_corrupt=True)` the files are skipped and counted in
  `Trainer.read_reports`.

Two ways to train:
- `Trainer` / `train` (this module): the multi-organism recipe.
- `model.fit` (`compile_for_fit`, `fit_dataset`): one organism per dataset;
  Keras computes the loss only for the heads given in `loss`.
"""
import logging
import os
import re
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

import gin
import tensorflow as tf
import tf_keras as keras
import tqdm
from tensorflow.core.framework import summary_pb2

from enformer_tf.constants import OPERATIVE_CONFIG
from enformer_tf.train import augment as augment_lib
from enformer_tf.train import checkpointing
from enformer_tf.train import evaluate as evaluate_lib
from enformer_tf.train import head_bias as head_bias_lib
from enformer_tf.train import interrupt
from enformer_tf.train import losses as losses_lib
from enformer_tf.train import metrics as metrics_lib
from enformer_tf.train import non_finite as non_finite_lib
from enformer_tf.train import schedules
from enformer_tf.train import strategy as strategy_lib

logger = logging.getLogger(__name__)

GLOBAL_CLIPNORM = 0.2
ADAM_EPSILON = 1e-8  # Sonnet's Adam, which the reference trains with.
DataSource = Union[Mapping[str, tf.data.Dataset],
                   Callable[[], Mapping[str, tf.data.Dataset]]]
LearningRate = Union[float, keras.optimizers.schedules.LearningRateSchedule]
RESUME_DATA = ('skip', 'restart')
NonFiniteLossError = non_finite_lib.NonFiniteLossError
TrainingInterrupted = interrupt.TrainingInterrupted


class OrganismDatasets(dict):
  """organism -> dataset, with the read reports of datasets that have them.

  What `config.basenji_datasets` returns: with `skip_corrupt=True` each
  dataset skips corrupt TFRecord files and counts them in its
  `basenji.ReadReport`; the `Trainer` collects those reports
  (`Trainer.read_reports`) and logs them.
  """

  def __init__(self, datasets: Mapping[str, tf.data.Dataset],
               read_reports: Optional[Mapping[str, object]] = None):
    super().__init__(datasets)
    self.read_reports = dict(read_reports or {})


def adam(learning_rate: LearningRate = schedules.PEAK_LEARNING_RATE
         ) -> keras.optimizers.Optimizer:
  """Adam with the recipe's global gradient-norm clipping (0.2)."""
  return keras.optimizers.Adam(learning_rate=learning_rate,
                               epsilon=ADAM_EPSILON,
                               global_clipnorm=GLOBAL_CLIPNORM)


def scalar_summary(name: str, value, step: int):
  """`tf.summary.scalar` without needing the tensorboard package installed.

  Writes the same record (a float32 scalar tagged for TensorBoard's scalars
  plugin) to the default summary writer.
  """
  metadata = summary_pb2.SummaryMetadata(
      plugin_data=summary_pb2.SummaryMetadata.PluginData(
          plugin_name='scalars'),
      data_class=summary_pb2.DATA_CLASS_SCALAR)
  return tf.summary.write(name, tf.cast(value, tf.float32), step=step,
                          metadata=metadata)


def _resolve_data(data: Optional[DataSource]) -> Optional[Mapping]:
  if data is None:
    return None
  if callable(data):
    data = data()
  if not isinstance(data, Mapping) or not data:
    raise ValueError('Expected a non-empty mapping organism -> tf.data.Dataset '
                     f'(or a callable returning one), got {data!r}.')
  return data


def _clean_message(message: str) -> str:
  """A TensorFlow runtime error message on one line, without graph noise.

  An `Assert` from the input pipeline (a corrupt TFRecord file, a record of
  the wrong size) carries a message written for people: that is kept
  alone. Otherwise the "Graph execution error", node stack traces, function
  names and op names are dropped.
  """
  assertion = re.search(r'assertion failed: \[(.*?)\]\s*(?:\n|$)', message,
                        flags=re.S)
  if assertion:
    message = assertion.group(1)
  else:
    lines = [line for line in message.splitlines()
             if line.strip() and not line.startswith((' ', '\t'))
             and not line.startswith('Detected at node')
             and line.strip() != '<stack traces unavailable>']
    message = re.sub(r'^Graph execution error:', '', ' '.join(lines))
  message = re.sub(r'\{\{function_node [^}]*\}\}', '', message)
  message = re.sub(r'\[\[[^\]]*\]\]|\[Op:[^\]]*\]', '', message)
  # Assert prints its string data with quotes escaped.
  return ' '.join(message.replace("\\'", "'").split())


def _is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
  resolver = strategy.cluster_resolver
  cluster = resolver.cluster_spec().as_dict() if resolver else {}
  return sum(len(tasks) for tasks in cluster.values()) > 1


def _check_datasets(datasets: Mapping[str, tf.data.Dataset],
                    model: keras.Model, what: str):
  """Checks keys, element structure and track counts against the model."""
  model_heads = getattr(model, 'heads', None)
  for head, dataset in datasets.items():
    if model_heads is not None and head not in model_heads:
      raise ValueError(f'The {what} data has organism {head!r}, but the model '
                       f'has heads {sorted(model_heads)}.')
    spec = dataset.element_spec
    if not isinstance(spec, Mapping) or not {'sequence', 'target'} <= set(spec):
      raise ValueError(
          f'The {head} {what} dataset must yield unbatched dicts with keys '
          f"'sequence' [L, 4] and 'target' [T, N], got element_spec {spec}.")
    sequence, target = spec['sequence'].shape, spec['target'].shape
    if sequence.rank != 2 or sequence[-1] != 4 or target.rank != 2:
      raise ValueError(
          f'The {head} {what} dataset must yield unbatched examples '
          f'(sequence [L, 4], target [T, N]); got sequence {sequence} and '
          f'target {target}. Do not batch it: the trainer batches to the '
          'global batch size.')
    if model_heads is not None and target[-1] not in (None, model_heads[head]):
      raise ValueError(
          f'The {head} {what} targets have {target[-1]} tracks but the '
          f'model\'s {head} head has {model_heads[head]}.')


def dropout_generators(model: keras.Model) -> List[tf.random.Generator]:
  """The `tf.random.Generator`s behind the model's dropout layers, in order.

  They exist when `keras.backend.experimental.enable_tf_random_generator()`
  was called before the model was built (`Trainer(deterministic=True)` does).
  tf_keras keeps them in each layer's `_random_generator` but leaves them
  out of checkpoints; the trainer saves them so that a resumed run draws the
  same dropout masks as an uninterrupted one.
  """
  generators = []
  for layer in model.submodules:
    generator = getattr(getattr(layer, '_random_generator', None),
                        '_generator', None)
    if isinstance(generator, tf.random.Generator):
      generators.append(generator)
  return generators


class Trainer:
  """Trains a multi-head model on one dataset per organism.

  Construction builds the model, optimizer and checkpoint inside
  `strategy.scope()` and restores the newest readable checkpoint in
  `model_dir` (falling back past damaged ones with a warning), so
  `train(num_steps)` continues a stopped run.

  Args:
    model: zero-argument callable returning the model (e.g. the `Enformer`
      class with its arguments bound by gin, or a `functools.partial`);
      called inside `strategy.scope()`.
    train_data: organism -> unbatched dataset of `{'sequence': [L, 4],
      'target': [T, N]}`, or a callable returning that mapping. The trainer
      repeats, augments and batches it.
    model_dir: checkpoints, TensorBoard summaries (`train/`, `eval/`),
      evaluation tables (`eval/*.tsv`) and `operative_config.gin`.
    batch_size: global batch size per organism update (split over replicas).
    optimizer: callable `learning_rate -> optimizer`; Adam with global
      clipnorm 0.2 by default.
    learning_rate: a float or a schedule of the *global* step (each global
      step makes one update per organism).
    strategy: a strategy or its name (see `strategy.get_strategy`).
    max_shift: random shifts of up to this many bp (0 disables).
    reverse_complement: randomly reverse-complement half of the examples.
    strand_pairs: organism -> track permutation applied on reverse
      complement (stranded tracks); identity if absent.
    eval_data: organism -> finite unbatched dataset (or a callable) for
      periodic and final evaluation.
    eval_every: evaluate every this many steps (0: only at the end).
    eval_steps: batches per organism per evaluation (all if None).
    track_names: organism -> identifiers, `targets.txt` or data directory,
      for the evaluation tables.
    checkpoint_every: save every this many steps (and at the end).
    max_checkpoints: checkpoints kept.
    summary_every: write TensorBoard training scalars every this many steps.
    seed: seeds weights, dropout and augmentation (`keras.utils.
      set_random_seed`); None leaves the random state alone.
    deterministic: enable TF op determinism and stateful-generator dropout so
      that a resumed run reproduces an uninterrupted one exactly (slower;
      process-wide and irreversible).
    resume_data: `'skip'` replays the data stream to where the checkpoint
      stopped (exact, but reads past the consumed examples); `'restart'`
      starts the stream again with fresh augmentations (fast).
    progress: show a progress bar (chief only).
    non_finite: what a NaN or infinite loss or gradient norm does. Either
      way the update is not applied (decided in the graph, the same on every
      replica) and nothing non-finite is checkpointed. `'stop'` raises
      `NonFiniteLossError` naming the step and head; `'skip'` logs a warning,
      counts it in `skipped_updates` and goes on.
    max_consecutive_skips: with `'skip'`, stop anyway (`NonFiniteLossError`)
      after this many skipped updates of one head in a row: the run has
      diverged rather than met a bad batch.
    handle_signals: on SIGINT/SIGTERM during `train`, finish the step, save
      a checkpoint and raise `TrainingInterrupted` (main thread, single
      worker only; elsewhere the signals keep their behaviour).
    head_bias_init: `'zeros'` (the reference's) or `'target_mean'`: each
      head's bias starts at softplus^-1 of its tracks' mean over the first
      training examples (`head_bias.py` says why), on a fresh run only.
  """

  def __init__(self,
               model: Callable[[], keras.Model],
               train_data: DataSource,
               model_dir: str,
               batch_size: int = 64,
               optimizer: Callable[..., keras.optimizers.Optimizer] = adam,
               learning_rate: Optional[LearningRate] = None,
               strategy: Union[str, tf.distribute.Strategy, None] = None,
               max_shift: int = augment_lib.MAX_SHIFT,
               reverse_complement: bool = True,
               strand_pairs: Optional[Mapping[str, Sequence[int]]] = None,
               eval_data: Optional[DataSource] = None,
               eval_every: int = 0,
               eval_steps: Optional[int] = None,
               track_names: Optional[evaluate_lib.TrackNames] = None,
               checkpoint_every: int = 1000,
               max_checkpoints: int = 5,
               summary_every: int = 100,
               seed: Optional[int] = 0,
               deterministic: bool = False,
               resume_data: str = 'skip',
               progress: bool = True,
               non_finite: str = 'stop',
               max_consecutive_skips: int = 10,
               handle_signals: bool = True,
               head_bias_init: str = 'zeros'):
    for arg, value in (('batch_size', batch_size),
                       ('checkpoint_every', checkpoint_every),
                       ('max_checkpoints', max_checkpoints),
                       ('summary_every', summary_every)):
      if int(value) != value or value < 1:
        raise ValueError(f'{arg} must be a positive integer, got {value!r}.')
    if int(eval_every) != eval_every or eval_every < 0:
      raise ValueError(
          f'eval_every must be a non-negative integer, got {eval_every!r}.')
    if head_bias_init not in head_bias_lib.HEAD_BIAS_INITS:
      raise ValueError(f'head_bias_init must be one of '
                       f'{head_bias_lib.HEAD_BIAS_INITS}, got '
                       f'{head_bias_init!r}.')
    if resume_data not in RESUME_DATA:
      raise ValueError(f'resume_data must be one of {RESUME_DATA}, got '
                       f'{resume_data!r}.')
    self._guard = non_finite_lib.NonFiniteGuard(non_finite,
                                                max_consecutive_skips)
    if not model_dir:
      raise ValueError('model_dir must name a directory for checkpoints and '
                       'summaries.')
    self.strategy = strategy_lib.get_strategy(strategy)
    if batch_size % self.strategy.num_replicas_in_sync:
      raise ValueError(
          f'batch_size={batch_size} must be divisible by the number of '
          f'replicas ({self.strategy.num_replicas_in_sync}).')
    self.model_dir = model_dir
    self.batch_size = int(batch_size)
    self.learning_rate = (schedules.LinearWarmup() if learning_rate is None
                          else learning_rate)
    self.max_shift = int(max_shift)
    self.reverse_complement = bool(reverse_complement)
    self.strand_pairs = dict(strand_pairs or {})
    self.eval_every = int(eval_every)
    self.eval_steps = eval_steps
    self.track_names = track_names
    self.checkpoint_every = int(checkpoint_every)
    self.summary_every = int(summary_every)
    self.seed = seed
    self.resume_data = resume_data
    self.progress = progress
    self.non_finite = non_finite
    self.max_consecutive_skips = max_consecutive_skips
    self.handle_signals = bool(handle_signals)
    self.is_chief = strategy_lib.is_chief(self.strategy)
    self.last_eval: Optional[Dict[str, evaluate_lib.HeadEvaluation]] = None
    self._eval_writer = None

    if deterministic:
      tf.config.experimental.enable_op_determinism()
      # Dropout through tf.random.Generator keeps its state in a variable,
      # which the checkpoint saves.
      keras.backend.experimental.enable_tf_random_generator()
    if seed is not None:
      keras.utils.set_random_seed(seed)

    train_data = _resolve_data(train_data)
    eval_data = _resolve_data(eval_data)
    # Reports of datasets that skip corrupt files ('train/human', ...).
    self.read_reports = {
        f'{split}/{organism}': report
        for split, data in (('train', train_data), ('eval', eval_data))
        for organism, report in getattr(data, 'read_reports', {}).items()}
    self.train_data = dict(train_data)
    self.eval_data = dict(eval_data) if eval_data else None
    with self.strategy.scope():
      self.model = model()
      _check_datasets(self.train_data, self.model, 'training')
      if self.eval_data:
        _check_datasets(self.eval_data, self.model, 'evaluation')
      heads = list(getattr(self.model, 'heads', self.train_data))
      self.heads = [h for h in heads if h in self.train_data]
      length = self.train_data[self.heads[0]].element_spec['sequence'].shape[0]
      self.model.build(tf.TensorShape([None, length, 4]))
      self.optimizer = optimizer(
          learning_rate=float(self._learning_rate_at(0)))
      if not isinstance(self.optimizer, keras.optimizers.Optimizer):
        raise TypeError(
            'optimizer must make a tf_keras optimizer (keras.optimizers.'
            f'Optimizer, not a legacy one); got {type(self.optimizer)}.')
      # Slots for every variable now: each update touches only the trunk and
      # one head.
      self.optimizer.build(self.model.trainable_variables)
      self.step = tf.Variable(0, dtype=tf.int64, trainable=False,
                              name='global_step')
      self.checkpoint = tf.train.Checkpoint(
          step=self.step, model=self.model, optimizer=self.optimizer,
          dropout_generators=dropout_generators(self.model))
    if not self._restore() and head_bias_init == 'target_mean':
      # A fresh run only: a restored checkpoint has its own biases.
      head_bias_lib.initialise_head_biases(
          self.model, {h: self.train_data[h] for h in self.heads})
    self._write_dir = (model_dir if self.is_chief else os.path.join(
        model_dir, f'.worker_{strategy_lib.task_index(self.strategy)}'))
    self.manager = tf.train.CheckpointManager(
        self.checkpoint, self._write_dir, max_to_keep=max_checkpoints,
        step_counter=self.step, checkpoint_name='ckpt')
    self.evaluator = evaluate_lib.Evaluator(self.model, self.strategy)
    self._train_step_fn = tf.function(self._train_step)
    if self.is_chief:
      self._save_operative_config()

  # -- Setup ------------------------------------------------------------------

  def _learning_rate_at(self, step) -> float:
    if callable(self.learning_rate):
      return self.learning_rate(step)
    return self.learning_rate

  def _restore(self):
    restored = checkpointing.restore_newest_readable(
        self.checkpoint, self.model_dir, repair_state=self.is_chief)
    if restored:
      logger.info('Restored %s (step %d).', restored, int(self.step.numpy()))
    return restored

  def _save_operative_config(self):
    tf.io.gfile.makedirs(self.model_dir)
    config = gin.operative_config_str()
    if config:
      checkpointing.write_atomically(
          os.path.join(self.model_dir, OPERATIVE_CONFIG), config)

  def _dataset(self, head: str, start_step: int) -> tf.data.Dataset:
    """Repeated, augmented, globally batched stream of one organism."""
    dataset = self.train_data[head].repeat()
    consumed = start_step * self.batch_size
    if self.resume_data == 'skip' and consumed:
      dataset = dataset.skip(consumed)
    if self.max_shift or self.reverse_complement:
      dataset = augment_lib.augment_dataset(
          dataset, seed=(self.seed or 0) * 1_000_003 + self.heads.index(head),
          start_index=consumed, max_shift=self.max_shift,
          reverse_complement_prob=0.5 if self.reverse_complement else 0.0,
          strand_pair=self.strand_pairs.get(head))
    dataset = dataset.batch(self.batch_size, drop_remainder=True)
    options = tf.data.Options()
    options.deterministic = True
    # Every worker builds the same global stream and keeps its share of each
    # batch, so n workers see exactly the batches one worker would.
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)

  # -- The train step ---------------------------------------------------------

  def _head_update(self, batch, head: str):
    """One organism's update on this replica's share of the global batch.

    Returns:
      (global loss, global gradient norm, whether the update was applied),
      the same on every replica.
    """
    with tf.GradientTape() as tape:
      prediction = evaluate_lib.predict_head(
          self.model, batch['sequence'], head, training=True)  # [b, T, N]
      per_example = losses_lib.poisson_nll(batch['target'], prediction)  # [b]
      loss = tf.nn.compute_average_loss(
          per_example, global_batch_size=self.batch_size)
      if self.model.losses:
        loss += tf.nn.scale_regularization_loss(tf.add_n(self.model.losses))
    variables = self.model.trainable_variables
    gradients = tape.gradient(loss, variables)
    # The other organisms' heads get no gradient from this loss.
    return non_finite_lib.apply_gradients_if_finite(
        self.optimizer, loss,
        [(g, v) for g, v in zip(gradients, variables) if g is not None])

  def _train_step(self, iterators):
    """One global step: an update per organism, in order. Cross-replica.

    Returns:
      (organism -> (loss, gradient norm, applied), learning rate).
    """
    learning_rate = tf.cast(self._learning_rate_at(self.step), tf.float32)
    self.optimizer.learning_rate.assign(learning_rate)
    results = {}
    for head in self.heads:
      batch = next(iterators[head])
      replica_results = self.strategy.run(
          lambda batch, head=head: self._head_update(batch, head),
          args=(batch,))
      # All-reduced in the replica function: any replica's copy will do.
      results[head] = tuple(self.strategy.experimental_local_results(value)[0]
                            for value in replica_results)
    self.step.assign_add(1)
    return results, learning_rate

  # -- The loop ---------------------------------------------------------------

  def train(self, num_steps: int) -> Dict[str, float]:
    """Trains until the global step reaches `num_steps`.

    Returns:
      organism -> mean loss since the last summary (empty if no step ran).

    Raises:
      NonFiniteLossError: with `non_finite='stop'`, a loss or gradient norm
        was NaN or infinite (that update was not applied); or the weights
        became non-finite. Nothing from that step was checkpointed.
      TrainingInterrupted: SIGINT or SIGTERM arrived; the step it arrived in
        was finished and checkpointed.
      tf.errors.OpError: e.g. a corrupt TFRecord file; the message names the
        file, the step and the latest checkpoint.
    """
    start = int(self.step.numpy())
    if start >= num_steps:
      logger.info('Step %d already reached %d; nothing to train.', start,
                  num_steps)
      return {}
    iterators = {
        head: iter(self.strategy.experimental_distribute_dataset(
            self._dataset(head, start)))
        for head in self.heads}
    writer = (tf.summary.create_file_writer(
        os.path.join(self.model_dir, 'train')) if self.is_chief
              else tf.summary.create_noop_writer())
    sums = {head: 0.0 for head in self.heads}
    counts = {head: 0 for head in self.heads}
    means = {}
    count, interval_start = 0, time.time()
    bar = tqdm.tqdm(total=num_steps, initial=start, unit='step',
                    dynamic_ncols=True, desc='train',
                    disable=not (self.progress and self.is_chief))
    # A save needs every worker, so one worker cannot stop on its own.
    signals = interrupt.StopSignals(
        enabled=self.handle_signals and not _is_multi_worker(self.strategy))
    logger.info('Training from step %d to %d.', start, num_steps)
    try:
      with writer.as_default(), signals:
        for step in range(start + 1, num_steps + 1):
          results, learning_rate = self._run_step(iterators, step)
          values = {}
          for head, (loss, gradient_norm, applied) in results.items():
            self._guard.check(head, bool(applied), float(loss),
                              float(gradient_norm), step,
                              self._latest_checkpoint())
            if bool(applied):
              values[head] = float(loss)
          for head, value in values.items():
            sums[head] += value
            counts[head] += 1
          count += 1
          bar.update(1)
          bar.set_postfix({**{h: f'{v:.4f}' for h, v in values.items()},
                           'lr': f'{float(learning_rate):.2e}'}, refresh=False)
          if step % self.summary_every == 0 or step == num_steps:
            means = {head: sums[head] / counts[head] for head in self.heads
                     if counts[head]}
            elapsed = time.time() - interval_start
            for head, mean in means.items():
              scalar_summary(f'loss/{head}', mean, step=step)
            for head, skipped in self.skipped_updates.items():
              if skipped:
                scalar_summary(f'skipped_updates/{head}', skipped, step=step)
            scalar_summary('learning_rate', learning_rate, step=step)
            scalar_summary('steps_per_second', count / max(elapsed, 1e-9),
                           step=step)
            sums = {head: 0.0 for head in self.heads}
            counts = {head: 0 for head in self.heads}
            count, interval_start = 0, time.time()
          saved = None
          if step % self.checkpoint_every == 0 or step == num_steps:
            saved = self._save()
          if self.eval_data and self.eval_every and (
              step % self.eval_every == 0) and step != num_steps:
            self.evaluate()
          if signals.received is not None:
            stop = interrupt.TrainingInterrupted(signals.received, step,
                                                 saved or self._save())
            logger.warning('Training %s.', stop)
            raise stop
    finally:
      bar.close()
      writer.close()
      self._log_read_reports()
    return means

  def _run_step(self, iterators, step: int):
    """`_train_step_fn`, with the step and checkpoint added to data errors."""
    try:
      return self._train_step_fn(iterators)
    except tf.errors.OpError as error:
      # pylint: disable-next=unidiomatic-typecheck
      if type(error) is tf.errors.OpError:
        raise  # The base class: no error code to rebuild it with.
      last = self._latest_checkpoint()
      # Same error type, so callers can still tell DataLoss from OOM.
      raise type(error)(
          error.node_def, error.op,
          f'Training stopped at global step {step}: '
          f'{_clean_message(error.message)} Nothing from this step was '
          f'checkpointed (latest checkpoint: {last or "none"}).') from error

  @property
  def skipped_updates(self) -> Dict[str, int]:
    """organism -> updates skipped for a non-finite loss or gradient."""
    return {head: self._guard.skipped.get(head, 0) for head in self.heads}

  def _latest_checkpoint(self) -> Optional[str]:
    return self.manager.latest_checkpoint if self.is_chief else None

  def _log_read_reports(self):
    for name, report in self.read_reports.items():
      if report.num_skipped:
        logger.warning('%s data: %s', name, report.summary())

  def _save(self) -> str:
    """Saves a checkpoint of this step, unless a weight is not finite."""
    step = int(self.step.numpy())
    bad = non_finite_lib.non_finite_variables(
        self.model.variables + self.optimizer.variables)
    if bad:
      last = self._latest_checkpoint()
      names = ', '.join(bad[:3]) + (', ...' if len(bad) > 3 else '')
      raise NonFiniteLossError(
          f'After global step {step}, {len(bad)} variables hold NaN or '
          f'infinite values ({names}); no checkpoint was written (latest '
          f'checkpoint: {last or "none"}). Lower the learning rate.')
    path = self.manager.save(checkpoint_number=self.step)
    if not self.is_chief:
      # Other workers take part in the save (it may need collectives) but
      # only the chief's copy is kept.
      tf.io.gfile.rmtree(self._write_dir)
    return path

  def evaluate(self, output_dir: Optional[str] = None
               ) -> Dict[str, evaluate_lib.HeadEvaluation]:
    """Evaluates on `eval_data`; writes summaries and tables (chief only)."""
    if not self.eval_data:
      raise ValueError('This Trainer has no eval_data to evaluate on.')
    results = self.evaluator.evaluate(self.eval_data, self.batch_size,
                                      self.eval_steps)
    step = int(self.step.numpy())
    if self.is_chief:
      output_dir = output_dir or os.path.join(self.model_dir, 'eval')
      names = evaluate_lib.resolve_track_names(results, self.track_names)
      evaluate_lib.write_tables(results, output_dir, names, step=step)
      evaluate_lib.append_curves(results, output_dir, step, names)
      if self._eval_writer is None:
        self._eval_writer = tf.summary.create_file_writer(
            os.path.join(self.model_dir, 'eval'))
      with self._eval_writer.as_default():
        for head, result in results.items():
          scalar_summary(f'pearson_r/{head}', result.mean_pearson_r, step=step)
          scalar_summary(f'r2/{head}', result.mean_r2, step=step)
          # Per track too: a mean over tracks hides a track that stays flat.
          labels = evaluate_lib.track_labels(names[head])
          for name, r in zip(labels, result.pearson_r):
            scalar_summary(f'pearson_r/{head}/{name}', r, step=step)
      self._eval_writer.flush()
    self.last_eval = results
    return results


def train(model: Callable[[], keras.Model],
          train_data: DataSource,
          model_dir: str,
          num_steps: int,
          eval_data: Optional[DataSource] = None,
          **trainer_kwargs) -> Trainer:
  """Trains (or resumes) to `num_steps`, then evaluates on `eval_data`.

  Args:
    model: see `Trainer`.
    train_data: see `Trainer`.
    model_dir: see `Trainer`.
    num_steps: the final global step (150,000 in the paper).
    eval_data: evaluated every `eval_every` steps and at the end.
    **trainer_kwargs: the other `Trainer` arguments.

  Returns:
    The `Trainer`; `trainer.model` holds the trained model and
    `trainer.last_eval` the final evaluation.
  """
  return run(lambda: Trainer(model, train_data, model_dir,
                             eval_data=eval_data, **trainer_kwargs),
             num_steps)


def run(trainer: Union[Trainer, Callable[[], Trainer]],
        num_steps: int) -> Trainer:
  """Trains `trainer` to `num_steps`, then evaluates if it has eval data.

  `trainer` may be a zero-argument callable making the `Trainer` (as gin
  binds it); `num_steps` is checked before it is called.
  """
  _check_num_steps(num_steps)
  if not isinstance(trainer, Trainer):
    trainer = trainer()
  trainer.train(int(num_steps))
  if trainer.eval_data:
    trainer.evaluate()
  return trainer


def _check_num_steps(num_steps):
  if int(num_steps) != num_steps or num_steps < 1:
    raise ValueError(
        f'num_steps must be a positive integer, got {num_steps!r}.')


# -- The model.fit path -------------------------------------------------------


def fit_dataset(dataset: tf.data.Dataset, head: str, batch_size: int,
                augment: bool = False, seed: int = 0,
                drop_remainder: bool = True) -> tf.data.Dataset:
  """`{'sequence', 'target'}` examples -> `(sequence, {head: target})` batches.

  The form `model.fit` / `model.evaluate` take for a model compiled with
  `compile_for_fit`. One dataset feeds one organism: with `fit`, every batch
  trains the heads named in its targets, so mixed-organism training (one
  human and one mouse update per step) is the custom loop's job
  (`Trainer`).

  Args:
    dataset: unbatched examples.
    head: the organism whose head the targets belong to.
    batch_size: global batch size.
    augment: apply the random shift / reverse complement of `augment`.
    seed: augmentation seed.
    drop_remainder: drop a last partial batch (keeps shapes static).
  """
  if augment:
    dataset = augment_lib.augment_dataset(dataset, seed=seed)
  dataset = dataset.map(lambda example: (example['sequence'],
                                         {head: example['target']}))
  return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(
      tf.data.AUTOTUNE)


def compile_for_fit(model: keras.Model, heads: Mapping[str, int],
                    optimizer: Optional[keras.optimizers.Optimizer] = None,
                    **compile_kwargs) -> keras.Model:
  """Compiles `model` with the Poisson loss and Pearson R / R² per head.

  Call inside the strategy scope the model was built in; build the model
  (`model.build((None, L, 4))`) before `fit` under a distribution strategy,
  since a lazy build inside the replica function traces the synchronised
  BatchNorm in a nested graph, which `tf.distribute` rejects. Heads missing
  from `heads` get no loss (Keras warns that they were left out on purpose).

  Args:
    model: the multi-head model.
    heads: organism -> number of tracks, for the heads to train.
    optimizer: defaults to `adam(LinearWarmup())`; with `fit` the schedule
      sees one update per step.
    **compile_kwargs: passed to `model.compile`.

  Returns:
    The compiled model.
  """
  model.compile(
      optimizer=optimizer or adam(schedules.LinearWarmup()),
      loss={head: losses_lib.PoissonLoss() for head in heads},
      metrics={head: [metrics_lib.PearsonR(n), metrics_lib.R2(n)]
               for head, n in heads.items()},
      **compile_kwargs)
  return model
