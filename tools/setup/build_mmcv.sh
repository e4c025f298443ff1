#!/usr/bin/env bash
# Build mmcv 2.1.0 with its compiled ops for the torch in PYTHON, or reuse the
# wheel cached for this build flavour (see docs/install.md):
#   bash tools/setup/build_mmcv.sh PYTHON WHEEL_DIR
# - the cache is keyed by the build flavour: CPU ops in
#   WHEEL_DIR/torch-<version>/; CPU + CUDA ops in
#   WHEEL_DIR/torch-<version>-cuda<nvcc version>-sm<compute capability>/, so a
#   CPU-built wheel is never reused on a GPU machine, nor one built for another
#   CUDA toolkit or GPU generation;
# - with a GPU and nvcc present the CUDA ops are compiled (FORCE_CUDA=1, for
#   the GPU's architecture unless TORCH_CUDA_ARCH_LIST says otherwise); a GPU
#   without nvcc is an error (set MMRATS_MMCV_CPU_ONLY=1 to build the CPU ops
#   anyway: then mmcv's CUDA ops, e.g. deformable attention, are unavailable);
# - build isolation off, so setup.py sees torch and builds the ops;
# - mmcv 2.1.0 hard-codes -std=c++17, torch >= 2.14 headers need C++20:
#   compiler wrappers (gcc, g++ and, for CUDA, nvcc) rewrite that one flag.
set -euo pipefail
py="$1"; wheel_root="$2"
torch_ver="$("$py" -c 'import torch; print(torch.__version__.replace("+", "_"))')"
flavour=""
if [[ "${MMRATS_MMCV_CPU_ONLY:-0}" != 1 ]] && "$py" -c 'import torch,sys; sys.exit(not torch.cuda.is_available())'; then
  if ! command -v nvcc >/dev/null; then
    echo "[mmrats setup] error: a GPU is visible but nvcc is not on PATH, so mmcv's CUDA ops cannot be built." \
         "Put the CUDA toolkit's bin/ on PATH (nvcc matching torch's CUDA" \
         "$("$py" -c 'import torch; print(torch.version.cuda)')), or set MMRATS_MMCV_CPU_ONLY=1 for CPU ops only." >&2
    exit 1
  fi
  cuda_ver="$(nvcc --version | sed -n 's/.*release \([0-9][0-9.]*\).*/\1/p' | head -1)"
  arch="${TORCH_CUDA_ARCH_LIST:-$("$py" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())')}"
  export TORCH_CUDA_ARCH_LIST="$arch" FORCE_CUDA=1
  flavour="-cuda${cuda_ver}-sm$(echo "$arch" | tr -cd '0-9;+' | tr ';' '_')"
fi
dir="$wheel_root/torch-$torch_ver$flavour"
mkdir -p "$dir"
whl="$(ls "$dir"/mmcv-2.1.0-*.whl 2>/dev/null | head -1 || true)"
if [[ -z "$whl" ]]; then
  echo "[mmrats setup] building mmcv 2.1.0 with ops for torch $torch_ver${flavour:+ ($flavour)} (~15 min on 2 cores)" >&2
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
  if [[ -n "$flavour" ]]; then  # nvcc gets the same -std rewrite (torch's ninja build honours PYTORCH_NVCC)
    cat > "$work/nvcc" <<W
#!/usr/bin/env bash
args=()
for a in "\$@"; do [[ "\$a" == -std=c++17 ]] && a=-std=c++20; args+=("\$a"); done
exec $(command -v nvcc) "\${args[@]}"
W
    chmod +x "$work/nvcc"
    export PYTORCH_NVCC="$work/nvcc"
  fi
  PATH="$(dirname "$py"):$PATH" "$py" -m pip wheel --disable-pip-version-check -q \
    --no-build-isolation --no-deps -w "$work/out" mmcv==2.1.0 >&2
  cp "$work"/out/mmcv-2.1.0-*.whl "$dir/"
  whl="$(ls "$dir"/mmcv-2.1.0-*.whl | head -1)"
fi
"$py" -m pip install --disable-pip-version-check -q --no-deps "$whl" >&2
