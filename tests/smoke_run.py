"""One run of `enformer-train` on the smoke experiment, shared by the tests
that check what that command does and writes (a CLI training costs ~25 s
of a worker: imports, building the model, tracing the train step).

`run(work_dir)` starts `python -m enformer_tf.cli.train --gin_file
experiments/smoke.gin --model_dir work_dir/run` in a fresh process, as a
user would, and records its exit status and output beside the run
(`result.json`, written last), so that a second caller, or a later
`ENFORMER_TEST_*` session reusing the directory, reads it instead of
training again. `tests/conftest.py` makes it once per pytest session
(fixture `smoke_training`). Tests that change the directory copy it first.
"""
import json
import os
import subprocess
import sys
from typing import NamedTuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND = ('enformer_tf.cli.train', '--gin_file', 'experiments/smoke.gin')
NUM_STEPS = 2  # experiments/smoke.gin's train.num_steps.


class SmokeTraining(NamedTuple):
  model_dir: str
  returncode: int
  stdout: str
  stderr: str


def run(work_dir: str) -> SmokeTraining:
  """The smoke training's directory and output (trained once per dir)."""
  result_path = os.path.join(work_dir, 'result.json')
  model_dir = os.path.join(work_dir, 'run')
  if not os.path.exists(result_path):
    done = subprocess.run(
        [sys.executable, '-m', *COMMAND, '--model_dir', model_dir],
        capture_output=True, text=True, cwd=REPO, timeout=600, check=False,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2'))
    with open(result_path + '.tmp', 'w', encoding='utf-8') as f:
      json.dump(dict(returncode=done.returncode, stdout=done.stdout,
                     stderr=done.stderr), f)
    os.replace(result_path + '.tmp', result_path)
  with open(result_path, encoding='utf-8') as f:
    return SmokeTraining(model_dir, **json.load(f))
