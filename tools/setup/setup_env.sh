#!/usr/bin/env bash
# Idempotent, cached set-up of the mmrats environment (see docs/install.md).
#
#   bash tools/setup/setup_env.sh        # prints the venv's python path last
#
# - One virtual environment per pinned-requirements hash, under
#   $MMRATS_CACHE (default ~/.cache/mmrats), outside the checkout.
# - mmcv 2.1.0 is compiled once with its ops (C++20, see build_mmcv.sh); the
#   wheel is cached under $MMRATS_CACHE/wheels/<torch version>/ and reused.
# - A finished environment is marked with a stamp; a second run only checks
#   the stamp and reinstalls mmrats itself (editable, cheap).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${MMRATS_CACHE:-$HOME/.cache/mmrats}"
pins="$repo/requirements/pinned.txt"
# Bump ENV_REVISION when a change to this script changes what the environment holds.
ENV_REVISION=1
# The key covers what is pinned, not the comments: a reworded comment keeps the environment.
key="$( (grep -vE '^[[:space:]]*(#|$)' "$pins"; echo "$ENV_REVISION") | sha256sum | cut -c1-12)"
venv="$cache/venv-$key"
py="$venv/bin/python"
stamp="$venv/.mmrats-ready"
log() { echo "[mmrats setup] $*" >&2; }

pin() { grep -E "^$1==" "$pins" | head -1; }

# One set-up at a time per cache: a second one (another terminal, a launcher, a test) waits
# here instead of deleting the environment the first one is building.
mkdir -p "$cache"
if command -v flock >/dev/null; then
  exec 9>"$cache/.setup.lock"
  if ! flock -n 9; then
    log "another set-up is running in $cache; waiting for it to finish"
    flock 9
  fi
fi

# The stamp is written only after the full import check below passed; here a cheap look
# (find_spec imports nothing) that the packages are still there keeps a cached run fast.
present='import importlib.util as u, sys; sys.exit(not all(u.find_spec(m) for m in ("mmcv", "mmdet", "mmseg", "mmpretrain")))'
if [[ -f "$stamp" ]] && "$py" -c "$present" 2>/dev/null; then
  log "environment ready: $venv"
else
  log "creating environment $venv (first run: ~20-30 min, mostly the mmcv build)"
  base_python="${MMRATS_PYTHON:-python3.11}"
  command -v "$base_python" >/dev/null || base_python=python3
  rm -rf "$venv"
  "$base_python" -m venv "$venv"
  pip_() { "$py" -m pip install --disable-pip-version-check -q "$@"; }
  pip_ "setuptools>=77,<82" wheel
  pip_ "$(pin torch)" "$(pin torchvision)" "$(pin numpy)" "$(pin ninja)"
  bash "$repo/tools/setup/build_mmcv.sh" "$py" "$cache/wheels"
  # Everything pinned except what is installed above; --no-build-isolation
  # keeps pip from pulling another torch into a build environment.
  grep -vE '^(#|$|torch==|torchvision==)' "$pins" > "$venv/pins-rest.txt"
  pip_ -r "$venv/pins-rest.txt" "$(pin torch)" "$(pin torchvision)" mmcv==2.1.0
  # setuptools 82 dropped pkg_resources, which mmcv and mmengine's Config use:
  # pin it last, in case a dependency upgraded it.
  pip_ "setuptools>=77,<82"
  # The sanity check reports on stderr: stdout carries only the python path.
  "$py" - >&2 <<'PY'
import importlib.metadata as md
import mmcv.ops  # noqa: F401  (compiled ops present)
import mmdet, mmseg, mmpretrain  # noqa: F401
st = md.version("setuptools")
assert int(st.split(".")[0]) < 82, f"setuptools {st} >= 82 breaks pkg_resources"
print("mmcv", md.version("mmcv"), "torch", md.version("torch"), "setuptools", st)
PY
  touch "$stamp"
  log "environment ready: $venv"
fi
# The optional SAM 2.1 mask generator (requirements/sam2.txt), on a cached environment too; idempotent.
bash "$repo/tools/setup/install_sam2.sh" "$py" \
  || log "warning: sam2 not installed (offline?); only tools/dataset_converters/sam_masks.py needs it"
# mmrats itself: editable, no dependencies (they are pinned above).
where='import importlib.util as u, os, sys; s = u.find_spec("mmrats"); sys.exit(not s or os.path.dirname(os.path.dirname(s.origin)) != sys.argv[1])'
if ! (cd / && "$py" -c "$where" "$repo") 2>/dev/null; then
  "$py" -m pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e "$repo" >&2
fi
echo "$py"
