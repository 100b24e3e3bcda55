"""The multi-organism `Trainer`: one strategy-aware train step, checkpoints.

REFERENCE §5 (`enformer-training.ipynb`): each global step does one update
per organism in turn (human, then mouse), each with only its own head's
Poisson loss; Adam with the learning rate warmed up linearly and the global
gradient norm clipped at 0.2 (`optimizer.adam`).

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
- Corrupt TFRecords: the error names the file and the step
  (`op_errors.at_step`); with `basenji_datasets(skip_corrupt=True)` the
  files are skipped and counted in `Trainer.read_reports`.

Two ways to train: this `Trainer` (the multi-organism recipe; `run.py` has
the functions that train and evaluate with it), or `model.fit` (`fit.py`:
one organism per dataset).
"""
import logging
import os
from typing import Callable, Dict, Iterator, Mapping, Optional, Sequence, Union

import gin
import tensorflow as tf
import tf_keras as keras
import tqdm

from enformer_tf.atomic import write_atomically
from enformer_tf.constants import OPERATIVE_CONFIG
from enformer_tf.io import training_dir
from enformer_tf.train import augment as augment_lib
from enformer_tf.train import checkpointing
from enformer_tf.train import datasets as datasets_lib
from enformer_tf.train import evaluate as evaluate_lib
from enformer_tf.train import head_bias as head_bias_lib
from enformer_tf.train import interrupt
from enformer_tf.train import non_finite as non_finite_lib
from enformer_tf.train import op_errors
from enformer_tf.train import optimizer as optimizer_lib
from enformer_tf.train import schedules
from enformer_tf.train import step as step_lib
from enformer_tf.train import strategy as strategy_lib
from enformer_tf.train import summaries

logger = logging.getLogger(__name__)

NonFiniteLossError = non_finite_lib.NonFiniteLossError
TrainingInterrupted = interrupt.TrainingInterrupted


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
      evaluation tables (`eval/*.tsv`), `operative_config.gin` and
      `model_config.json` (`io.training_dir`).
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
               train_data: datasets_lib.DataSource,
               model_dir: str,
               batch_size: int = 64,
               optimizer: Callable[..., keras.optimizers.Optimizer] = (
                   optimizer_lib.adam),
               learning_rate: Optional[optimizer_lib.LearningRate] = None,
               strategy: Union[str, tf.distribute.Strategy, None] = None,
               max_shift: int = augment_lib.MAX_SHIFT,
               reverse_complement: bool = True,
               strand_pairs: Optional[Mapping[str, Sequence[int]]] = None,
               eval_data: Optional[datasets_lib.DataSource] = None,
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
    if resume_data not in datasets_lib.RESUME_DATA:
      raise ValueError(f'resume_data must be one of '
                       f'{datasets_lib.RESUME_DATA}, got '
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

    train_data = datasets_lib.resolve_data(train_data)
    eval_data = datasets_lib.resolve_data(eval_data)
    # Reports of datasets that skip corrupt files ('train/human', ...).
    self.read_reports = {
        f'{split}/{organism}': report
        for split, data in (('train', train_data), ('eval', eval_data))
        for organism, report in getattr(data, 'read_reports', {}).items()}
    self.train_data = dict(train_data)
    self.eval_data = dict(eval_data) if eval_data else None
    with self.strategy.scope():
      self.model = model()
      datasets_lib.check_datasets(self.train_data, self.model, 'training')
      if self.eval_data:
        datasets_lib.check_datasets(self.eval_data, self.model, 'evaluation')
      heads = list(getattr(self.model, 'heads', self.train_data))
      self.heads = [h for h in heads if h in self.train_data]
      length = self.train_data[self.heads[0]].element_spec['sequence'].shape[0]
      self.model.build(tf.TensorShape([None, length, 4]))
      self.optimizer = optimizer(learning_rate=float(
          step_lib.learning_rate_at(self.learning_rate, 0)))
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
          dropout_generators=checkpointing.dropout_generators(self.model))
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
    self._train_step_fn = tf.function(autograph=False, func=step_lib.TrainStep(
        self.model, self.optimizer, self.strategy, self.heads,
        self.batch_size, self.learning_rate, self.step).__call__)
    if self.is_chief:
      self._save_operative_config()

  # -- Setup ------------------------------------------------------------------

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
      write_atomically(os.path.join(self.model_dir, OPERATIVE_CONFIG), config)
    # The model's own config: what `enformer_tf.load_model` rebuilds it from.
    training_dir.write_model_config(self.model_dir, self.model)

  # -- What the train step reads and does ------------------------------------

  def training_stream(self, head: str, start_step: int = 0
                      ) -> tf.data.Dataset:
    """The repeated, augmented, globally batched stream of one organism.

    What `train` distributes and feeds its step, from `start_step` on
    (`datasets.training_stream`): with `resume_data='skip'` the examples of
    the steps before are skipped, and the augmentation of each example is
    the same however the stream was restarted.

    Args:
      head: an organism of `heads`.
      start_step: the global step the stream starts at.
    """
    return datasets_lib.training_stream(
        self.train_data[head], self.batch_size, start_step=start_step,
        resume_data=self.resume_data,
        seed=(self.seed or 0) * 1_000_003 + self.heads.index(head),
        max_shift=self.max_shift, reverse_complement=self.reverse_complement,
        strand_pair=self.strand_pairs.get(head))

  def distributed_iterators(self, start_step: int = 0
                            ) -> Dict[str, Iterator]:
    """organism -> iterator over its distributed `training_stream`.

    The argument of the `train_step_function`.
    """
    return {head: iter(self.strategy.experimental_distribute_dataset(
        self.training_stream(head, start_step))) for head in self.heads}

  def train_step_function(self) -> Callable:
    """The compiled global train step that `train` runs (`step.TrainStep`).

    `step_fn(iterators)` takes the next batch of each organism from
    `iterators` (organism -> iterator over distributed batches, e.g.
    `distributed_iterators()`), applies one update per organism in the
    order of `heads`, increments `step` and returns `(organism -> (loss,
    gradient norm, applied), learning rate)`. An update whose loss or
    gradient norm is not finite is not applied; unlike `train`, calling
    the function directly neither stops on that nor checkpoints, writes
    summaries or evaluates: it is the step alone (for benchmarks).
    """
    return self._train_step_fn

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
    iterators = self.distributed_iterators(start)
    writer = (tf.summary.create_file_writer(
        os.path.join(self.model_dir, 'train')) if self.is_chief
              else tf.summary.create_noop_writer())
    scalars = summaries.TrainingScalars(self.heads)
    means = {}
    bar = tqdm.tqdm(total=num_steps, initial=start, unit='step',
                    dynamic_ncols=True, desc='train',
                    disable=not (self.progress and self.is_chief))
    # A save needs every worker, so one worker cannot stop on its own.
    signals = interrupt.StopSignals(
        enabled=self.handle_signals and not strategy_lib.is_multi_worker(
            self.strategy))
    logger.info('Training from step %d to %d.', start, num_steps)
    try:
      with writer.as_default(), signals:
        for step in range(start + 1, num_steps + 1):
          results, learning_rate = self._run_step(iterators, step)
          values = self._guard.applied_losses(results, step,
                                              self._latest_checkpoint())
          scalars.add(values)
          bar.update(1)
          bar.set_postfix({**{h: f'{v:.4f}' for h, v in values.items()},
                           'lr': f'{float(learning_rate):.2e}'}, refresh=False)
          if step % self.summary_every == 0 or step == num_steps:
            means = scalars.write(step, learning_rate, self.skipped_updates)
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
    """The step function, with the step and checkpoint added to data errors."""
    try:
      return self._train_step_fn(iterators)
    except tf.errors.OpError as error:
      rebuilt = op_errors.at_step(error, step, self._latest_checkpoint())
      if rebuilt is error:
        raise
      raise rebuilt from error

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
    non_finite_lib.check_saveable(
        self.model.variables + self.optimizer.variables,
        int(self.step.numpy()), self._latest_checkpoint())
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
        summaries.write_evaluation(results, names, step)
      self._eval_writer.flush()
    self.last_eval = results
    return results

