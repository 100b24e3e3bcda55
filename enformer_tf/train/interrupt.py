"""Stopping training on SIGINT / SIGTERM: finish the step, checkpoint, exit.

A scheduler preempting a job sends SIGTERM (then SIGKILL after a grace
period); a user presses Ctrl-C (SIGINT). Either would lose the steps since
the last periodic checkpoint. While `Trainer.train` runs, `StopSignals`
turns the first such signal into a request that the loop checks after each
step: it saves a checkpoint and raises `TrainingInterrupted`. A second signal
gets the previous behaviour at once (`KeyboardInterrupt` for SIGINT,
termination for SIGTERM); the last checkpoint written stays valid.
"""
import logging
import signal
import threading
from typing import Dict, Optional, Sequence

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
  """Training stopped on a signal after saving a checkpoint.

  A `KeyboardInterrupt`, so that `except Exception` blocks do not swallow
  it and code that cleans up on Ctrl-C still runs.

  Attributes:
    signal_number: the signal received.
    step: the global step saved.
    checkpoint: the checkpoint prefix written (or already there) for `step`.
  """

  def __init__(self, signal_number: int, step: int, checkpoint: str):
    self.signal_number = int(signal_number)
    self.step = int(step)
    self.checkpoint = checkpoint
    super().__init__(str(self))

  @property
  def signal_name(self) -> str:
    return signal.Signals(self.signal_number).name

  @property
  def exit_code(self) -> int:
    """The shell convention for death by a signal: 128 + its number."""
    return 128 + self.signal_number

  def __str__(self):
    return (f'interrupted by {self.signal_name} at global step {self.step}; '
            f'saved checkpoint {self.checkpoint}')


class StopSignals:
  """Context manager: the first SIGINT/SIGTERM sets `received` instead.

  Handlers can only be installed from the main thread; elsewhere (and with
  `enabled=False`) the signals keep their behaviour and `received` stays
  None. The previous handlers are restored on exit.

  Args:
    enabled: install the handlers.
    signals: the signals to catch.
  """

  def __init__(self, enabled: bool = True,
               signals: Sequence[int] = STOP_SIGNALS):
    self.enabled = enabled
    self.signals = tuple(signals)
    self.received: Optional[int] = None
    self._previous: Dict[int, object] = {}

  def __enter__(self) -> 'StopSignals':
    if not self.enabled:
      return self
    if threading.current_thread() is not threading.main_thread():
      logger.info('Not in the main thread: SIGINT/SIGTERM stop training '
                  'without saving a checkpoint first.')
      return self
    for signal_number in self.signals:
      self._previous[signal_number] = signal.signal(signal_number,
                                                    self._handle)
    return self

  def __exit__(self, *exc_info):
    for signal_number, previous in self._previous.items():
      signal.signal(signal_number, _installable(previous))
    self._previous.clear()

  def _handle(self, signal_number, frame):
    name = signal.Signals(signal_number).name
    if self.received is None:
      self.received = signal_number
      logger.warning('Received %s: finishing this step, then saving a '
                     'checkpoint and stopping (send it again to stop at '
                     'once).', name)
      return
    # A second signal: behave as if we had never caught it.
    previous = _installable(self._previous.pop(signal_number, None))
    signal.signal(signal_number, previous)
    if callable(previous):
      previous(signal_number, frame)
    else:
      signal.raise_signal(signal_number)


def _installable(handler):
  """A handler `signal.signal` accepts (None means one installed from C)."""
  return signal.SIG_DFL if handler is None else handler
