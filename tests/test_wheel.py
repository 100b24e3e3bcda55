"""A wheel carries the gin files, and its installed copy trains from them.

`pip install .` (not editable) is how most users install: the bundled gin
files must be package data inside the wheel, found from site-packages, and
`enformer-train --gin_file experiments/smoke.gin` must work from any folder.
"""
import importlib.util
import os
from pathlib import Path
import shutil
import subprocess
import sys
import zipfile

import pytest

REPO = Path(__file__).resolve().parents[1]
# What setup.py reads; the rest of the checkout (tests, .git, build/) stays
# out of the copy the wheel is built from.
SOURCES = ['setup.py', 'README.md', 'LICENSE', 'enformer_tf']
PIP_ENV = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK='1', PIP_NO_INPUT='1')


def _pip(*args, cwd):
  result = subprocess.run([sys.executable, '-m', 'pip', *args], cwd=cwd,
                          env=PIP_ENV, capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
  """The wheel built offline from a clean copy of this checkout."""
  if importlib.util.find_spec('wheel') is None:  # setuptools < 70 needs it.
    pytest.skip('the `wheel` package is needed to build a wheel offline')
  base = tmp_path_factory.mktemp('wheel')
  source = base / 'source'
  for name in SOURCES:
    if (REPO / name).is_dir():
      shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns(
          '__pycache__', '*.pyc', '*.egg-info'))
    else:
      source.mkdir(exist_ok=True)
      shutil.copy2(REPO / name, source / name)
  _pip('wheel', '--no-deps', '--no-build-isolation', '--no-index',
       '-w', str(base / 'dist'), str(source), cwd=base)
  wheels = list((base / 'dist').glob('enformer_tf-*.whl'))
  assert len(wheels) == 1, wheels
  return wheels[0]


def test_wheel_contains_every_gin_file(wheel):
  gin_dir = REPO / 'enformer_tf' / 'gin'
  expected = {f'enformer_tf/gin/{path.relative_to(gin_dir).as_posix()}'
              for path in gin_dir.rglob('*.gin')}
  assert 'enformer_tf/gin/experiments/smoke.gin' in expected
  with zipfile.ZipFile(wheel) as archive:
    shipped = {name for name in archive.namelist() if name.endswith('.gin')}
  assert shipped == expected


@pytest.mark.slow
def test_installed_wheel_trains_the_smoke_experiment(wheel, tmp_path):
  site = tmp_path / 'site'
  _pip('install', '--no-deps', '--no-index', '--target', str(site),
       str(wheel), cwd=tmp_path)
  # An unrelated working folder; the installed copy first on sys.path (ahead
  # of any editable install of the checkout).
  work = tmp_path / 'elsewhere'
  work.mkdir()
  env = dict(os.environ, PYTHONPATH=str(site), TF_CPP_MIN_LOG_LEVEL='2')
  env.pop('ENFORMER_GIN_PATH', None)
  origin = subprocess.run(
      [sys.executable, '-c', 'import importlib.util; '
       "print(importlib.util.find_spec('enformer_tf').origin)"],
      cwd=work, env=env, capture_output=True, text=True, check=True)
  assert Path(origin.stdout.strip()) == site / 'enformer_tf' / '__init__.py'
  # The console script pip wrote, i.e. the wheel's entry point.
  result = subprocess.run(
      [str(site / 'bin' / 'enformer-train'),
       '--gin_file', 'experiments/smoke.gin'],
      cwd=work, env=env, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'Trained to step 2' in result.stdout
  # smoke.gin's own train.model_dir = 'runs/smoke', under the working folder.
  model_dir = work / 'runs' / 'smoke'
  assert (model_dir / 'ckpt-2.index').exists()
  assert 'Enformer.channels = 48' in (
      model_dir / 'operative_config.gin').read_text()
