#!/usr/bin/env bash
# Install the parts page's dependencies (requirements/page.txt) into an environment, idempotently.
#
#   bash tools/setup/install_page.sh PYTHON [--browser]
#
# Nothing happens when every pin of requirements/page.txt is installed at its version (a fraction of a
# second). Otherwise pip installs them with requirements/pinned.txt as constraints (torch, numpy, pillow
# & co. stay as they are). --browser also makes sure Debian's chromium is there for the browser test
# (apt-get, as root only; otherwise it prints the command and the test skips). Messages go to stderr.
set -euo pipefail

py="${1:?usage: install_page.sh PYTHON [--browser]}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
reqs="$repo/requirements/page.txt"
log() { echo "[mmrats setup] $*" >&2; }

check="$repo/tools/setup/pins_installed.py"  # exit 0 iff every pin is installed at its version
if "$py" "$check" "$reqs" 2>/dev/null; then
  log "parts page ready (requirements/page.txt)"
else
  log "installing the parts page's dependencies (requirements/page.txt, ~360 MB installed)"
  "$py" -m pip install --disable-pip-version-check -q -r "$reqs" -c "$repo/requirements/pinned.txt" >&2
  "$py" -c 'import gradio, playwright.sync_api' >&2
  "$py" "$check" "$reqs"
  log "parts page ready (requirements/page.txt)"
fi

if [[ "${2:-}" == "--browser" ]] && ! command -v chromium >/dev/null; then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing Debian's chromium for the browser test (apt-get, once)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2 \
      || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >&2; }
  else
    log "warning: no chromium; the browser test skips. Install it with: sudo apt-get install chromium"
  fi
fi
