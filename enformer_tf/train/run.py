"""Train to a step, then evaluate: the Python entry points of a whole run.

  trainer = train_and_evaluate(model, train_data, 'runs/x', num_steps=1000,
                               eval_data=valid_data, batch_size=8)

`run_training` does the same with a `Trainer` already made (or a callable
making it, as the gin entry point `config.train_from_bindings` passes).
`Trainer.train` alone trains without the final evaluation.
"""
import logging
from typing import Callable, Optional, Union

import tf_keras as keras

from enformer_tf.train import datasets as datasets_lib
from enformer_tf.train import trainer as trainer_lib


def train_and_evaluate(model: Callable[[], keras.Model],
                       train_data: datasets_lib.DataSource,
                       model_dir: str,
                       num_steps: int,
                       eval_data: Optional[datasets_lib.DataSource] = None,
                       **trainer_kwargs) -> trainer_lib.Trainer:
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
  return run_training(
      lambda: trainer_lib.Trainer(model, train_data, model_dir,
                                  eval_data=eval_data, **trainer_kwargs),
      num_steps)


def run_training(trainer: Union[trainer_lib.Trainer,
                                 Callable[[], trainer_lib.Trainer]],
                 num_steps: int) -> trainer_lib.Trainer:
  """Trains `trainer` to `num_steps`, then evaluates if it has eval data.

  `trainer` may be a zero-argument callable making the `Trainer` (as gin
  binds it); `num_steps` is checked before it is called.
  """
  _check_num_steps(num_steps)
  if not isinstance(trainer, trainer_lib.Trainer):
    trainer = trainer()
  _warn_if_schedule_ends_elsewhere(trainer.learning_rate, int(num_steps))
  trainer.train(int(num_steps))
  if trainer.eval_data:
    trainer.evaluate()
  return trainer


def _warn_if_schedule_ends_elsewhere(learning_rate, num_steps: int) -> None:
  # A decaying schedule (`WarmupCosineDecay`) is tuned to one run length: a
  # run that stops early ends at a high rate, one that goes on trains at the
  # floor. Both are legitimate (resuming to extend a run), so warn, not fail.
  total = getattr(learning_rate, 'total_steps', None)
  if total is not None and total != num_steps:
    logging.warning(
        'The learning-rate schedule decays over %d steps but the run trains '
        'to step %d; bind its total_steps to the run length (the CPU gin '
        'files use the NUM_STEPS macro for both).', total, num_steps)


def _check_num_steps(num_steps):
  if int(num_steps) != num_steps or num_steps < 1:
    raise ValueError(
        f'num_steps must be a positive integer, got {num_steps!r}.')
