"""tools/setup/pins_installed.py: the optional set-ups' idempotence check, and its --size table."""
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

TOOL = Path(__file__).resolve().parents[2] / 'tools/setup/pins_installed.py'


def _run(reqs: Path, *args):
    return subprocess.run([sys.executable, str(TOOL), str(reqs), *args], capture_output=True, text=True, timeout=60)


def test_pins_installed_and_their_size(tmp_path):
    reqs = tmp_path / 'reqs.txt'
    reqs.write_text(f'# a comment\npytest=={version("pytest")}\n')
    done = _run(reqs, '--size')
    assert done.returncode == 0
    size = float(done.stdout.split()[1])
    assert done.stdout.startswith('pytest') and size > 0.1 and '(1 pins)' in done.stdout
    reqs.write_text('pytest==0.0.1\n')  # another version: not installed, and no table
    assert _run(reqs, '--size').returncode == 1 and _run(reqs, '--size').stdout == ''
    reqs.write_text('no-such-distribution-mmrats==1.0\n')
    assert _run(reqs).returncode == 1
