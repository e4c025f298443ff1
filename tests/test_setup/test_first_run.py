"""The set-up's first run, for real, in a scratch cache (what every new user and every fresh CI machine meets).

The cached environment hides first-run bugs: once the stamp exists, the
branch that builds the environment never runs again (a shipped bug printed a
second line on stdout only in that branch, and ``make test`` failed on every
fresh machine). Here the whole branch runs in an empty ``MMRATS_CACHE``,
seeded only with the mmcv wheel that the real cache already built (so mmcv is
installed, not compiled: a few minutes instead of twenty).
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

SETUP = REPO / 'tools' / 'setup' / 'setup_env.sh'


def real_cache() -> Path:
    """The cache the running environment came from (``<cache>/venv-<key>/bin/python``)."""
    return Path(os.environ.get('MMRATS_CACHE') or Path(sys.executable).parents[2])


def setup_command(cache: Path) -> dict:
    """``bash setup_env.sh`` as a fresh shell runs it: the test's venv neither on PATH nor named."""
    env = {k: v for k, v in os.environ.items() if k not in ('VIRTUAL_ENV', 'PYTHONPATH')}
    venv_bin = str(Path(sys.executable).parent)
    env['PATH'] = os.pathsep.join(p for p in env['PATH'].split(os.pathsep) if p != venv_bin)
    env['MMRATS_CACHE'] = str(cache)
    return dict(args=['bash', str(SETUP)], capture_output=True, text=True, env=env, cwd='/')


def run_setup(cache: Path) -> subprocess.CompletedProcess:
    return subprocess.run(**setup_command(cache), timeout=1800)


@pytest.fixture(scope='module')
def scratch_cache(tmp_path_factory):
    wheels = real_cache() / 'wheels'
    if not list(wheels.glob('*/mmcv-2.1.0-*.whl')):
        pytest.skip(f'no cached mmcv wheel under {wheels} to seed the scratch cache with (run make test once)')
    cache = tmp_path_factory.mktemp('mmrats-cache')
    shutil.copytree(wheels, cache / 'wheels')
    yield cache
    shutil.rmtree(cache, ignore_errors=True)


def assert_one_python_line(out: subprocess.CompletedProcess, cache: Path) -> str:
    assert out.returncode == 0, out.stderr[-4000:]
    lines = out.stdout.splitlines()
    assert len(lines) == 1, f'stdout must be the python path alone, got {lines!r}'
    py = lines[0]
    assert Path(py).is_file() and os.access(py, os.X_OK), py
    assert py.startswith(str(cache)), f'{py} is not in the scratch cache {cache}'
    return py


def test_first_run_prints_one_line_and_the_environment_works(scratch_cache):
    # two set-ups at once (a test run and a launcher, two terminals): one builds, the other waits
    # for it on the cache's lock instead of deleting the half-built environment
    cmd = setup_command(scratch_cache)
    cmd.pop('capture_output')
    logs = [(scratch_cache.parent / f'setup{i}.out', scratch_cache.parent / f'setup{i}.err') for i in range(2)]
    files = [(open(o, 'w'), open(e, 'w')) for o, e in logs]  # files, not pipes: no pipe can fill up and block
    procs = [subprocess.Popen(**cmd, stdout=o, stderr=e) for o, e in files]
    codes = [p.wait(timeout=1800) for p in procs]
    for f in sum(files, ()):
        f.close()
    runs = [subprocess.CompletedProcess(p.args, c, o.read_text(), e.read_text())
            for p, c, (o, e) in zip(procs, codes, logs)]
    builders = [r for r in runs if 'creating environment' in r.stderr]
    assert len(builders) == 1, [r.stderr[-2000:] for r in runs]
    first = builders[0]
    waiter = runs[1 - runs.index(first)]
    assert 'waiting for it to finish' in waiter.stderr, waiter.stderr[-2000:]
    assert 'building mmcv' not in first.stderr  # the seeded wheel was reused, not rebuilt
    py = assert_one_python_line(first, scratch_cache)
    assert assert_one_python_line(waiter, scratch_cache) == py
    check = subprocess.run([py, '-c', 'import mmcv.ops, mmdet, mmseg, mmpretrain, mmrats; print(mmrats.__file__)'],
                           capture_output=True, text=True, cwd='/')
    assert check.returncode == 0, check.stderr[-3000:]
    assert Path(check.stdout.strip()).is_relative_to(REPO)  # the checkout, installed editable

    # the second run takes the cached branch and prints the same single line
    second = run_setup(scratch_cache)
    assert 'creating environment' not in second.stderr
    assert assert_one_python_line(second, scratch_cache) == py

    # what `make test` does with it: the PY=$(...) form must hold a runnable command
    shell = subprocess.run(['bash', '-c', f'PY=$(MMRATS_CACHE={scratch_cache} bash {SETUP}) && "$PY" -c "print(1)"'],
                           capture_output=True, text=True, timeout=600)
    assert shell.returncode == 0 and shell.stdout == '1\n', shell.stderr[-2000:]
