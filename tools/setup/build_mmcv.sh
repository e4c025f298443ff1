#!/usr/bin/env bash
# Build mmcv 2.1.0 with its compiled ops for the torch in PYTHON, or reuse the
# wheel cached under WHEEL_DIR/<torch version>/ (see docs/install.md):
#   bash tools/setup/build_mmcv.sh PYTHON WHEEL_DIR
# - build isolation off, so setup.py sees torch and builds the ops;
# - mmcv 2.1.0 hard-codes -std=c++17, torch >= 2.14 headers need C++20: a
#   compiler wrapper rewrites that one flag;
# - FORCE_CUDA=1 is set when nvcc and a GPU are present.
set -euo pipefail
py="$1"; wheel_root="$2"
torch_ver="$("$py" -c 'import torch; print(torch.__version__.replace("+", "_"))')"
dir="$wheel_root/torch-$torch_ver"
mkdir -p "$dir"
whl="$(ls "$dir"/mmcv-2.1.0-*.whl 2>/dev/null | head -1 || true)"
if [[ -z "$whl" ]]; then
  echo "[mmrats setup] building mmcv 2.1.0 with ops for torch $torch_ver (~15 min on 2 cores)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  for c in gcc g++; do
    cat > "$work/$c" <<W
#!/usr/bin/env bash
args=()
for a in "\$@"; do [[ "\$a" == -std=c++17 ]] && a=-std=c++20; args+=("\$a"); done
exec $(command -v $c) "\${args[@]}"
W
    chmod +x "$work/$c"
  done
  export CC="$work/gcc" CXX="$work/g++" MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}"
  if command -v nvcc >/dev/null && "$py" -c 'import torch,sys; sys.exit(not torch.cuda.is_available())'; then
    export FORCE_CUDA=1
  fi
  PATH="$(dirname "$py"):$PATH" "$py" -m pip wheel --disable-pip-version-check -q \
    --no-build-isolation --no-deps -w "$work/out" mmcv==2.1.0 >&2
  cp "$work"/out/mmcv-2.1.0-*.whl "$dir/"
  whl="$(ls "$dir"/mmcv-2.1.0-*.whl | head -1)"
fi
"$py" -m pip install --disable-pip-version-check -q --no-deps "$whl" >&2
