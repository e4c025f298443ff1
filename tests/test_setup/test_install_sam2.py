"""tools/setup/install_sam2.sh: the optional sam2 step of the set-up, idempotent, never building sam2's CUDA extension.

A fake python records what the script asks of it: nothing is installed here.
"""
import os
import subprocess
import sys

from tests.conftest import REPO

SCRIPT = REPO / 'tools' / 'setup' / 'install_sam2.sh'
FAKE = r'''#!/bin/bash
# "installed" once pip ran; every call is logged with SAM2_BUILD_CUDA
echo "SAM2_BUILD_CUDA=${SAM2_BUILD_CUDA:-unset} $*" >> "$LOG"
if [[ "$1 $2" == "-m pip" ]]; then touch "$DONE"; exit 0; fi
[[ -f "$DONE" ]]
'''


def run(py, env=None):
    return subprocess.run(['bash', str(SCRIPT), str(py)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_installs_once_with_no_cuda_build(tmp_path):
    fake = tmp_path / 'python'
    fake.write_text(FAKE)
    fake.chmod(0o755)
    env = dict(LOG=str(tmp_path / 'log'), DONE=str(tmp_path / 'done'))
    first = run(fake, env)
    assert first.returncode == 0 and first.stdout == '', first.stderr
    pip = [ln for ln in (tmp_path / 'log').read_text().splitlines() if ' -m pip ' in ln]
    assert len(pip) == 1 and pip[0].startswith('SAM2_BUILD_CUDA=0 ')
    assert '--no-deps' in pip[0] and '--no-build-isolation' in pip[0] and 'requirements/sam2.txt' in pip[0]
    second = run(fake, env)  # already there: no pip
    assert second.returncode == 0 and 'sam2 ready' in second.stderr
    assert sum(' -m pip ' in ln for ln in (tmp_path / 'log').read_text().splitlines()) == 1


def test_the_real_environment_has_the_pins():
    """The set-up ran the step on this environment: the check passes without installing anything."""
    res = run(sys.executable)
    assert res.returncode == 0 and 'installing' not in res.stderr, res.stderr
