#!/usr/bin/env bash
# Install the optional SAM 2.1 mask generator (requirements/sam2.txt) into an environment, idempotently.
#
#   bash tools/setup/install_sam2.sh PYTHON
#
# Nothing happens when every pinned distribution is already there at its version
# (a fraction of a second). Otherwise pip installs exactly the pins with --no-deps
# (torch & co. stay those of requirements/pinned.txt), --no-build-isolation (no
# second torch in a build environment) and SAM2_BUILD_CUDA=0: sam2's CUDA
# extension is never compiled (it is optional; sam2 runs without it). Only
# tools/dataset_converters/sam_masks.py needs sam2. Messages go to stderr.
set -euo pipefail

py="${1:?usage: install_sam2.sh PYTHON}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
reqs="$repo/requirements/sam2.txt"
log() { echo "[mmrats setup] $*" >&2; }

check="$repo/tools/setup/pins_installed.py"  # exit 0 iff every pin is installed at its version
if "$py" "$check" "$reqs" 2>/dev/null; then
  log "sam2 ready (requirements/sam2.txt)"
  exit 0
fi
log "installing sam2 (requirements/sam2.txt, no CUDA extension)"
SAM2_BUILD_CUDA=0 "$py" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -r "$reqs" >&2
"$py" -c 'import sam2.build_sam, sam2.automatic_mask_generator' >&2
"$py" "$check" "$reqs"
log "sam2 ready (requirements/sam2.txt)"
