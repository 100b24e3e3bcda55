"""Exports shared by the test modules that only read them, and
`saved_model_cli` in this process or in a subprocess.

Exporting the tiny Enformer traces every signature (~7-10 s of CPU), and a
module-scoped export is paid again on every pytest-xdist worker that runs
one of the module's tests. The exports here are written once per run, for
all workers (a file lock, as `trained_synthetic` in conftest.py), and, within
one process, loaded once:

- `tiny_export`: `tiny_serving.tiny_model()` (the reliability tests' tiny
  Enformer, weights from seed 0) exported with every default of
  `export_saved_model`, warm-up requests included. tests/export,
  tests/reliability and tests/serving read it (`tiny_loaded`,
  `tiny_session`).
- `options_cli_export`, `mixed_bfloat16_cli_export`: `enformer-export` on
  the same model's `.keras` file (`tiny_keras_file`) with non-default
  options, checked by tests/cli/test_export.py (the command) and
  tests/export/test_export_options.py and test_tf_hub.py (the export).

Do not modify them: copy one first (`tiny_serving.private_copy`).
"""
import contextlib
import io
import json
import os
import subprocess
import sys

import per_run
from reliability import tiny_serving

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable),
                               'saved_model_cli')
_TINY_EXPORT = 'tiny_export'
_CACHE = {}


def tiny_twin():
  """`tiny_serving.tiny_model()`, the Keras model every export here was made
  of, built once per process for the modules that compare with it. Only call
  it: do not train, rebuild or change it."""
  if 'twin' not in _CACHE:
    _CACHE['twin'] = tiny_serving.tiny_model()
  return _CACHE['twin']


def tiny_export_dir(tmp_path_factory) -> str:
  """The export directory of `tiny_export` (it holds only version `1`)."""
  return os.path.join(per_run.run_dir(tmp_path_factory), _TINY_EXPORT)


def tiny_export(tmp_path_factory) -> str:
  """The version directory of the run's tiny export; exports it once.

  The first worker to take the lock exports; the others wait and reuse it.
  `export_saved_model` publishes the version with one rename, so the version
  directory exists only once it is complete.
  """
  if 'path' in _CACHE:
    return _CACHE['path']
  from enformer_tf.export import export_saved_model
  export_dir = tiny_export_dir(tmp_path_factory)
  path = os.path.join(export_dir, '1')
  # The lock sits beside the export directory, not in it.
  with per_run.locked(export_dir + '.lock'):
    if not os.path.isdir(path):
      exported = export_saved_model(tiny_serving.tiny_model(), export_dir)
      assert exported == path, exported
  _CACHE['path'] = path
  return path


def tiny_loaded(tmp_path_factory):
  """`tf.saved_model.load` of `tiny_export`, once per process."""
  import tensorflow as tf
  if 'loaded' not in _CACHE:
    _CACHE['loaded'] = tf.saved_model.load(tiny_export(tmp_path_factory))
  return _CACHE['loaded']


def tiny_session(tmp_path_factory):
  """A `SessionRunner` (TF Serving's C++ session) on `tiny_export`, once per
  process."""
  from session_runner import SessionRunner
  if 'session' not in _CACHE:
    _CACHE['session'] = SessionRunner(tiny_export(tmp_path_factory))
  return _CACHE['session']


# -- enformer-export on the tiny model's .keras file --------------------------


def tiny_keras_file(tmp_path_factory) -> str:
  """`model.keras` of `tiny_serving.tiny_model()`, written once per run."""
  if 'keras' in _CACHE:
    return _CACHE['keras']
  path = os.path.join(per_run.run_dir(tmp_path_factory), 'tiny_model.keras')
  with per_run.locked(path + '.lock'):
    if not os.path.exists(path):
      tiny_serving.tiny_model().save(path + '.tmp.keras')
      os.rename(path + '.tmp.keras', path)
  _CACHE['keras'] = path
  return path


# The CLI export with the export options away from their defaults (kept
# tracks, in a new order; float16 outputs; no warm-up requests; a version
# number; a TF Hub length other than 2 L): tests/cli/test_export.py checks the
# CLI's output and the values, tests/export/test_export_options.py the tracks
# and float16, tests/export/test_tf_hub.py the hub length (the TF Hub
# functions ignore `tracks` and `output_dtype`: every track, float32).
OPTIONS_HUB_LENGTH = tiny_serving.L + 2 * 256
OPTIONS_VERSION = 5
OPTIONS_FLAGS = ('--tracks', 'human=4,0', '--float16', '--no_warmup',
                 '--version', str(OPTIONS_VERSION), '--hub_sequence_length',
                 str(OPTIONS_HUB_LENGTH))
# --mixed_bfloat16 apart: its outputs differ from float32's by bfloat16's
# rounding, which would hide the float16 check's tolerance.
MIXED_BFLOAT16_FLAGS = ('--mixed_bfloat16', '--no_warmup')


def options_cli_export(tmp_path_factory):
  """`cli_export` with `OPTIONS_FLAGS`: (version dir, code, stdout, stderr)."""
  base, code, out, err = cli_export(tmp_path_factory, 'options',
                                    *OPTIONS_FLAGS)
  return os.path.join(base, str(OPTIONS_VERSION)), code, out, err


def mixed_bfloat16_cli_export(tmp_path_factory):
  """`cli_export` with `MIXED_BFLOAT16_FLAGS`: (version dir, code, stdout,
  stderr)."""
  base, code, out, err = cli_export(tmp_path_factory, 'mixed_bfloat16',
                                    *MIXED_BFLOAT16_FLAGS)
  return os.path.join(base, '1'), code, out, err


def cli_export(tmp_path_factory, name: str, *flags: str):
  """`enformer-export --keras_model TINY.keras --export_dir DIR FLAGS`, run
  once per run (in the process of the first caller) for every module that
  checks the same export: `(DIR, exit code, stdout, stderr)`.

  `name` names the export; every caller must pass the same `flags` with it.
  DIR holds only what the command wrote. Do not modify it.
  """
  from enformer_tf.cli import export as export_cli
  base = os.path.join(per_run.run_dir(tmp_path_factory), f'cli_export_{name}')
  keras_path = tiny_keras_file(tmp_path_factory)
  argv = ['--keras_model', keras_path, '--export_dir', base, *flags]
  with per_run.locked(base + '.lock'):
    if not os.path.exists(base + '.json'):
      out, err = io.StringIO(), io.StringIO()
      with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = export_cli.main(argv)
      with open(base + '.json', 'w') as f:
        json.dump(dict(argv=argv, code=code, out=out.getvalue(),
                       err=err.getvalue()), f)
    with open(base + '.json') as f:
      record = json.load(f)
  assert record['argv'] == argv, (
      f'cli_export {name!r} was run as {record["argv"]}, not {argv}')
  return base, record['code'], record['out'], record['err']


# -- saved_model_cli -----------------------------------------------------------


def run_saved_model_cli(*args):
  """`saved_model_cli ARGS` in a subprocess: a `CompletedProcess` (text)."""
  return subprocess.run([SAVED_MODEL_CLI, *args], capture_output=True,
                        text=True, timeout=300,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'))


def saved_model_cli_in_process(*args) -> str:
  """`saved_model_cli ARGS` in this process; returns what it prints.

  The CLI's own code as its `main` runs it (`create_parser`, then the
  command's function: `show`, `run`, ... read the parsed absl flags), minus
  `absl.app.run`'s process set-up (logging handlers, `sys.exit`), without
  a subprocess's ~5-8 s of imports. An error is raised as the exception the
  CLI would die of (its message is what the CLI prints to stderr).
  """
  from absl import flags
  from tensorflow.python.tools import saved_model_cli
  parser = saved_model_cli.create_parser()
  out = io.StringIO()
  try:
    parsed = parser.parse_args(list(args))  # Sets the absl flags too.
    with contextlib.redirect_stdout(out):
      parsed.func()
  finally:
    flags.FLAGS.unparse_flags()  # Back to the defaults for the next call.
  return out.getvalue()
