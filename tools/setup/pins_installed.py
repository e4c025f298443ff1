"""Exit 0 iff every ``name==version`` pin of a requirements file is installed at that version (else 1).

    python tools/setup/pins_installed.py requirements/page.txt [--size]

The set-up scripts' idempotence check (install_sam2.sh, install_page.sh): a fraction of a second, no pip.
``--size`` also prints the installed size of the pins (the files pip recorded for each, largest first), as
docs/part_discovery.md quotes it for the parts page.
"""
import os
import sys
from importlib.metadata import PackageNotFoundError, distribution, version

pins = [line.split('==') for line in open(sys.argv[1]).read().split() if '==' in line and not line.startswith('#')]
try:
    missing = any(version(name) != pinned for name, pinned in pins)
except PackageNotFoundError:
    sys.exit(1)
if '--size' in sys.argv[2:] and not missing:
    sizes = {}
    for name, _ in pins:
        dist = distribution(name)
        files = (dist.locate_file(f) for f in dist.files or [])
        sizes[name] = sum(os.path.getsize(p) for p in files if os.path.isfile(p))
    for name, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        print(f'{name:<24} {size / 1e6:8.1f} MB')
    print(f'{"total":<24} {sum(sizes.values()) / 1e6:8.1f} MB ({len(pins)} pins)')
sys.exit(missing)
