"""Is the trained test fixture robust? Train it for several seeds under both
oneDNN settings and run every test that depends on it against each.

  python tests/fixture_sweep.py --work_dir /tmp/sweep [--seeds 0 1 2 3 4]

For each seed and TF_ENABLE_ONEDNN_OPTS in (1, 0) (other kernels: a stand-in
for another CPU), in fresh processes:

1. `python tests/synthetic_model.py DIR SEED` trains to the criterion on chr2
   and prints the held-out (chr3) figures of tests/trained_checks.py;
2. `pytest -m trained_synthetic` runs the dependent tests with
   ENFORMER_TEST_TRAINED_DIR=DIR, i.e. on that seed's model.

One JSON line per run goes to stdout and to WORK_DIR/sweep.jsonl: steps to
the criterion, minutes, the figures, and the pytest pass/fail counts.
`--reuse` keeps a run whose model is already there (e.g. after a cut).
tests/README.md has the table this produced.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

TESTS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(TESTS)


def _env(onednn: str, **extra) -> dict:
  path = os.pathsep.join([TESTS, REPO] + [
      p for p in [os.environ.get('PYTHONPATH')] if p])
  return dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn,
              TF_CPP_MIN_LOG_LEVEL='2', PYTHONPATH=path, **extra)


def _train(run_dir: str, seed: int, onednn: str) -> dict:
  report_path = os.path.join(run_dir, 'report.json')
  if os.path.exists(os.path.join(run_dir, 'DONE')) and os.path.exists(
      report_path):
    with open(report_path) as f:
      return json.load(f)
  result = subprocess.run(
      [sys.executable, os.path.join(TESTS, 'synthetic_model.py'), run_dir,
       str(seed)], env=_env(onednn), capture_output=True, text=True)
  if result.returncode != 0:
    return dict(seed=seed, onednn=onednn,
                error=result.stderr.strip().splitlines()[-1:])
  report = json.loads(result.stdout.strip().splitlines()[-1])
  with open(report_path, 'w') as f:
    json.dump(report, f)
  with open(os.path.join(run_dir, 'DONE'), 'w') as f:
    f.write('ok\n')  # What tests/conftest.py's fixture reuses.
  return report


def _dependent_tests(run_dir: str, onednn: str) -> dict:
  begin = time.time()
  result = subprocess.run(
      [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider',
       '-m', 'trained_synthetic', os.path.join(REPO, 'tests')],
      cwd=REPO, env=_env(onednn, ENFORMER_TEST_TRAINED_DIR=run_dir),
      capture_output=True, text=True)
  summary = result.stdout.strip().splitlines()[-1] if result.stdout else ''
  counts = {key: int(n) for n, key in
            re.findall(r'(\d+) (passed|failed|error)', summary)}
  failed = [line.split()[1] for line in result.stdout.splitlines()
            if line.startswith(('FAILED', 'ERROR'))]
  return dict(tests_passed=counts.get('passed', 0),
              tests_failed=counts.get('failed', 0) + counts.get('error', 0),
              failed_tests=failed, test_minutes=round(
                  (time.time() - begin) / 60, 2))


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--work_dir', required=True)
  parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4])
  parser.add_argument('--onednn', nargs='+', default=['1', '0'],
                      choices=['1', '0'])
  args = parser.parse_args(argv)
  os.makedirs(args.work_dir, exist_ok=True)
  all_passed = True
  for seed in args.seeds:
    for onednn in args.onednn:
      run_dir = os.path.join(args.work_dir, f'seed{seed}_onednn{onednn}')
      os.makedirs(run_dir, exist_ok=True)
      record = _train(run_dir, seed, onednn)
      if 'error' not in record:
        record.update(_dependent_tests(run_dir, onednn))
      all_passed &= ('error' not in record and not record['tests_failed']
                     and not record['test_failures'])
      line = json.dumps(record, sort_keys=True)
      print(line, flush=True)
      with open(os.path.join(args.work_dir, 'sweep.jsonl'), 'a') as f:
        f.write(line + '\n')
  return 0 if all_passed else 1


if __name__ == '__main__':
  sys.exit(main())
