"""Helpers for the training reliability tests, and a child-process entry.

As a module (`from reliability import train_child`): a toy multi-head model
that builds and traces in about a second (the faults under test are in the
loop, not the model), random data, gin files and command lines for
`enformer-train`, subprocess control and checkpoint readers.

As a script, it runs `enformer-train` with the toy model registered in gin
(`reliability.ToyModel`, `reliability.toy_datasets`):

  python train_child.py cli ENFORMER-TRAIN-ARGS...
  python train_child.py crash-in-save K ENFORMER-TRAIN-ARGS...

`crash-in-save` kills the process with SIGKILL once `ckpt-K`'s data and
index files are written, before `tf.train.CheckpointManager` updates the
`checkpoint` state file: the moment a crash would leave a new checkpoint
that nothing points at.
"""
import os
import signal
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import gin  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
HEADS = {'human': 3, 'mouse': 2}
SEQUENCE_LENGTH = 64
TARGET_LENGTH = 4
# Generous: a child imports TensorFlow and traces the tiny Enformer, about
# 20 s of CPU that took over two minutes on two cores shared with others.
CHILD_TIMEOUT = 600


# -- In-process: a toy model and data ------------------------------------------


class ToyModel(keras.Model):
  """`[B, L, 4]` -> `{head: [B, T, N]}`: bins of bases, a shared dense layer,
  a softplus dense head per organism.

  Args:
    heads: organism -> number of tracks.
    target_length: output bins T (divides the input length).
    on_train_call: called (in the graph, through `tf.py_function`) with the
      number of training calls so far, after each training forward pass.
    seconds_per_call: sleep this long in each training forward pass, so that
      a signal can be sent while a run is in progress.
  """

  def __init__(self, heads: Optional[Dict[str, int]] = None,
               target_length: int = TARGET_LENGTH,
               on_train_call: Optional[Callable[[int], None]] = None,
               seconds_per_call: float = 0.0, **kwargs):
    super().__init__(**kwargs)
    self.heads = dict(heads or HEADS)
    self.target_length = target_length
    self.seconds_per_call = seconds_per_call
    self.on_train_call = on_train_call
    if seconds_per_call and on_train_call is None:
      self.on_train_call = lambda _: time.sleep(seconds_per_call)
    self.trunk = keras.layers.Dense(8, activation='relu', name='trunk')
    self.head_layers = {
        head: keras.layers.Dense(n, activation='softplus', name=head)
        for head, n in self.heads.items()}
    self._train_calls = 0

  def embed(self, inputs, training=None):
    length = inputs.shape[1]
    binned = tf.reshape(inputs, [-1, self.target_length,
                                 4 * length // self.target_length])  # [B, T, .]
    embedding = self.trunk(binned)  # [B, T, 8]
    if training and self.on_train_call is not None:
      done = tf.py_function(self._count_call, [], tf.int64)
      with tf.control_dependencies([done]):
        embedding = tf.identity(embedding)
    return embedding

  def _count_call(self):
    self._train_calls += 1
    self.on_train_call(self._train_calls)
    return self._train_calls

  def call(self, inputs, training=None):
    embedding = self.embed(inputs, training=training)
    return {head: layer(embedding) for head, layer in self.head_layers.items()}

  def predict_head(self, inputs, head: str, training=None):
    return self.head_layers[head](self.embed(inputs, training=training))


def random_examples(num_examples: int, num_tracks: int, seed: int = 0,
                    length: int = SEQUENCE_LENGTH,
                    target_length: int = TARGET_LENGTH):
  """One-hot `[n, L, 4]` float32 sequences and gamma `[n, T, N]` targets."""
  rng = np.random.default_rng(seed)
  sequence = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (num_examples,
                                                            length))]
  target = rng.gamma(1.0, 1.0, (num_examples, target_length,
                                num_tracks)).astype(np.float32)
  return sequence, target


def dataset(sequence, target) -> tf.data.Dataset:
  return tf.data.Dataset.from_tensor_slices({'sequence': sequence,
                                             'target': target})


def toy_datasets(heads: Optional[Dict[str, int]] = None, num_examples: int = 8,
                 seed: int = 0, nan_at: Sequence[int] = ()
                 ) -> Dict[str, tf.data.Dataset]:
  """organism -> random examples; targets of examples `nan_at` are NaN."""
  datasets = {}
  for i, (head, tracks) in enumerate((heads or HEADS).items()):
    sequence, target = random_examples(num_examples, tracks, seed + 100 * i)
    target[list(nan_at)] = np.nan
    datasets[head] = dataset(sequence, target)
  return datasets


_registered = []


def register_gin():
  """Registers `reliability.ToyModel` and `reliability.toy_datasets` once."""
  if not _registered:
    # An earlier test in this process may have parsed (and so locked) a
    # config; registering is still allowed.
    with gin.unlock_config():
      gin.external_configurable(ToyModel, module='reliability')
      gin.external_configurable(toy_datasets, module='reliability')
    _registered.append(True)


def toy_gin(path: str, num_steps: int, bindings: Sequence[str] = (),
            train_data: str = '@reliability.toy_datasets') -> str:
  """Writes a gin file training the toy model (one head).

  Args:
    path: the file to write.
    num_steps: `train.num_steps`.
    bindings: more gin lines.
    train_data: the `Trainer.train_data` binding; toy data by default.

  Returns:
    `path`.
  """
  lines = [
      f'train.num_steps = {num_steps}',
      'enformer_tf.train.Trainer.model = @reliability.ToyModel',
      "reliability.ToyModel.heads = {'human': 3}",
      f'enformer_tf.train.Trainer.train_data = {train_data}',
      "reliability.toy_datasets.heads = {'human': 3}",
      'enformer_tf.train.Trainer.batch_size = 2',
      'enformer_tf.train.Trainer.learning_rate = 0.01',
      'enformer_tf.train.Trainer.max_shift = 0',
      'enformer_tf.train.Trainer.reverse_complement = False',
      'enformer_tf.train.Trainer.checkpoint_every = 1',
      'enformer_tf.train.Trainer.summary_every = 1',
      'enformer_tf.train.Trainer.progress = False',
      *bindings]
  with open(path, 'w') as f:
    f.write('\n'.join(lines) + '\n')
  return path


def trainer_kwargs(**overrides):
  """Small, fast `Trainer` settings: no augmentation, no progress bar."""
  kwargs = dict(batch_size=2, learning_rate=1e-2, max_shift=0,
                reverse_complement=False, checkpoint_every=1,
                summary_every=1, progress=False, seed=0)
  kwargs.update(overrides)
  return kwargs


# -- Checkpoints ---------------------------------------------------------------


def checkpoint_values(prefix: str) -> Dict[str, np.ndarray]:
  """name -> value of every tensor in a checkpoint except the save counter."""
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()
          if not name.startswith('save_counter')}


def state_latest(model_dir: str) -> Optional[str]:
  """The checkpoint the state file selects, or None."""
  state = tf.train.get_checkpoint_state(model_dir)
  return state.model_checkpoint_path if state else None


def assert_all_finite(model_dir: str):
  """Every float tensor of every checkpoint in `model_dir` is finite."""
  for index in tf.io.gfile.glob(os.path.join(model_dir, 'ckpt-*.index')):
    for name, value in checkpoint_values(index[:-len('.index')]).items():
      if np.issubdtype(np.asarray(value).dtype, np.floating):
        assert np.isfinite(value).all(), f'{index}: {name} is not finite'


# -- Subprocesses --------------------------------------------------------------


def child_env() -> Dict[str, str]:
  paths = [REPO] + [p for p in [os.environ.get('PYTHONPATH')] if p]
  return dict(os.environ, PYTHONPATH=os.pathsep.join(paths),
              TF_CPP_MIN_LOG_LEVEL='2')


def train_args(model_dir: str, num_steps: int, checkpoint_every: int = 1,
               extra: Sequence[str] = ()) -> List[str]:
  """`enformer-train` arguments: the tiny Enformer (one head) on random data.

  Deterministic ops, dropout through checkpointed generators, augmentation
  on, no evaluation.
  """
  params = [
      f'train.num_steps = {num_steps}',
      "HEADS = {'human': 3}",
      'enformer_tf.train.Trainer.deterministic = True',
      'enformer_tf.train.Trainer.eval_data = None',
      'enformer_tf.train.Trainer.learning_rate = 1e-3',
      f'enformer_tf.train.Trainer.checkpoint_every = {checkpoint_every}',
      'enformer_tf.train.Trainer.max_checkpoints = 3',
      *extra]
  args = ['--gin_file', 'experiments/smoke.gin', '--model_dir', model_dir]
  for param in params:
    args += ['--gin_param', param]
  return args


def start_training(args: Sequence[str], log_path: str, toy: bool = False,
                   crash_in_save: Optional[int] = None) -> subprocess.Popen:
  """Starts `python -m enformer_tf.cli.train ARGS` or, for the toy model or
  a crash in a save, this script.

  stdout and stderr go to `log_path` (a file, so that the child never
  blocks on a full pipe).
  """
  if crash_in_save is not None:
    command = [sys.executable, os.path.abspath(__file__), 'crash-in-save',
               str(crash_in_save), *args]
  elif toy:
    command = [sys.executable, os.path.abspath(__file__), 'cli', *args]
  else:
    command = [sys.executable, '-m', 'enformer_tf.cli.train', *args]
  log = open(log_path, 'w')  # pylint: disable=consider-using-with
  try:
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                            env=child_env(), cwd=REPO)
  finally:
    log.close()


def finish(process: subprocess.Popen, log_path: str,
           timeout: float = CHILD_TIMEOUT) -> str:
  """Waits for `process` (killing it after `timeout`); returns its output."""
  try:
    process.wait(timeout=timeout)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait()
    raise AssertionError(f'{process.args} did not finish in {timeout} s; '
                         f'output:\n{read(log_path)[-3000:]}') from None
  return read(log_path)


def read(path: str) -> str:
  with open(path) as f:
    return f.read()


def wait_for(condition: Callable[[], bool], process: subprocess.Popen,
             log_path: str, timeout: float = CHILD_TIMEOUT,
             interval: float = 0.02):
  """Polls `condition` until true; fails if `process` ends or time runs out."""
  deadline = time.monotonic() + timeout
  while not condition():
    if process.poll() is not None:
      raise AssertionError(
          f'the child ended (status {process.returncode}) before the '
          f'condition held; output:\n{read(log_path)[-3000:]}')
    if time.monotonic() > deadline:
      process.kill()
      process.wait()
      raise AssertionError(f'timed out after {timeout} s; output:\n'
                           f'{read(log_path)[-3000:]}')
    time.sleep(interval)


def latest_step(model_dir: str) -> int:
  """The step number of the checkpoint the state file selects (0 if none)."""
  try:
    latest = state_latest(model_dir)
  except (ValueError, tf.errors.OpError):
    return 0
  return int(latest.rsplit('-', 1)[1]) if latest else 0


# -- Child entry point ---------------------------------------------------------


def _crash_in_save(number: int):
  """Makes the save of checkpoint `number` kill the process mid-way."""
  save = tf.train.CheckpointManager.save

  def crash_after_write(path):
    if path.endswith(f'-{number}'):
      # The data and index files are complete; the state file is not
      # updated yet (the manager's own callback runs after this one).
      sys.stdout.flush()
      os.kill(os.getpid(), signal.SIGKILL)

  def save_then_crash(self, checkpoint_number=None, check_interval=True,
                      options=None):
    options = options or tf.train.CheckpointOptions()
    options.experimental_write_callbacks = [
        crash_after_write, *(options.experimental_write_callbacks or [])]
    return save(self, checkpoint_number, check_interval, options)

  tf.train.CheckpointManager.save = save_then_crash


def main(argv: Sequence[str]) -> int:
  mode, *args = argv
  if mode == 'crash-in-save':
    number, *args = args
    _crash_in_save(int(number))
  elif mode != 'cli':
    raise SystemExit(f'unknown mode {mode!r}')
  register_gin()
  # pylint: disable-next=g-import-not-at-top
  from enformer_tf.cli import train as cli
  return cli.main(args)


if __name__ == '__main__':
  sys.exit(main(sys.argv[1:]))
