"""Exit 0 iff every ``name==version`` pin of a requirements file is installed at that version (else 1).

    python tools/setup/pins_installed.py requirements/page.txt

The set-up scripts' idempotence check (install_sam2.sh, install_page.sh): a fraction of a second, no pip.
"""
import sys
from importlib.metadata import PackageNotFoundError, version

pins = [line.split('==') for line in open(sys.argv[1]).read().split() if '==' in line and not line.startswith('#')]
try:
    sys.exit(any(version(name) != pinned for name, pinned in pins))
except PackageNotFoundError:
    sys.exit(1)
