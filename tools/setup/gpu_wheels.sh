#!/usr/bin/env bash
# The pure-Python wheels tools/gpu_check.sh needs on a GPU machine that has torch, timm, numpy, opencv,
# matplotlib, rich, pyyaml, einops, scikit-image and scikit-learn but no OpenMMLab packages and no network
# (docs/benchmarks.md, "One GPU check"): mmengine, mmcv-lite (mmpretrain uses no mmcv.ops) and mmpretrain, with
# their small dependencies, for Python 3.12, into .whl/ (git-ignored).
#
#   bash tools/setup/gpu_wheels.sh [DEST]      # here, where PyPI is reachable; idempotent (present files kept)
#
# On the GPU machine tools/gpu_check.sh installs them with pip --no-index into a temporary folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=${1:-.whl}
PY=${PYTHON:-python3}
WHEELS=(mmengine==0.10.7 mmcv-lite==2.1.0 mmpretrain==1.2.0 addict==2.4.0 termcolor==3.3.0 yapf==0.43.0
        platformdirs==4.14.9 mat4py==0.6.0 model-index==0.1.11 ordered-set==4.1.0 importlib-metadata==10.2.0)
mkdir -p "$DEST"
missing=()
for spec in "${WHEELS[@]}"; do
  name=${spec%%==*}; version=${spec##*==}
  # wheel file names spell the project with underscores (mmcv_lite-2.1.0-..., ordered_set-4.1.0-...)
  if ! compgen -G "$DEST/${name//-/_}-${version}-*.whl" > /dev/null; then missing+=("$spec"); fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "gpu_wheels: all ${#WHEELS[@]} wheels are in $DEST"
  exit 0
fi
echo "gpu_wheels: downloading ${missing[*]} into $DEST"
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any -d "$DEST" "${missing[@]}"
echo "gpu_wheels: $(ls "$DEST"/*.whl | wc -l) wheels in $DEST ($(du -sh "$DEST" | cut -f1))"
