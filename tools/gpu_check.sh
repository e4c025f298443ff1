#!/usr/bin/env bash
# One prepared GPU check of the DINO pretraining cost (issue #25; docs/benchmarks.md, "One GPU check"), sized for
# one 8-minute call on one H100 with nothing downloaded there:
#   1. every attention path on the GPU against float32 on the CPU (tools/analysis/device_parity.py);
#   2. the benchmark table in bf16: timm ViT-S/16 (SDPA) vs RATS-S/16 at 224, 512 and 1024, the DINO step with
#      its parts and its MFU, the SDPA kernel of every path (tools/analysis/benchmark.py);
#   3. the memory prediction of the RATS-S and RATS-B DINO configs beside torch.cuda.max_memory_allocated of a
#      real step at their batch per GPU (tools/analysis/memory_estimate.py --measure-cuda);
#   4. 20 iterations (after 2 of warm-up) of the real RATS-S DINO config on the bundled photos
#      (tools/analysis/train_step_benchmark.py).
#
#   bash tools/setup/gpu_wheels.sh                          # here, once: the OpenMMLab wheels into .whl/
#   bash tools/gpu_check.sh [--tiny] [OUT_DIR]              # there (.whl carried), OUT_DIR default work_dirs/gpu_check
#
# Where mmengine is not importable, the wheels in .whl/ are installed with pip --no-index into a temporary
# folder first. Every step has its own time limit and the check goes on after a failed step; the exit code is
# the number of failed steps. OUT_DIR gets gpu_check.md (every table), gpu_check.log (all output) and
# gpu_check.tar.gz (the JSON and markdown of every step). --tiny: the same steps at tiny sizes on the CPU,
# the benchmark without its DINO rows (what tests/test_tools/test_gpu_check.py runs).
set -uo pipefail
cd "$(dirname "$0")/.."
TINY=0
if [ "${1:-}" = "--tiny" ]; then TINY=1; shift; fi
OUT=${1:-work_dirs/gpu_check}
PY=${PYTHON:-python3}
mkdir -p "$OUT/steps"
LOG="$OUT/gpu_check.log"
: > "$LOG"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

if ! "$PY" -c 'import mmengine, mmpretrain' 2> /dev/null; then
  if ! compgen -G '.whl/*.whl' > /dev/null; then
    echo "error: mmengine/mmpretrain are not importable and .whl/ holds no wheels: run bash tools/setup/gpu_wheels.sh" \
         "where PyPI is reachable and carry .whl" | tee -a "$LOG" >&2
    exit 2
  fi
  SITE=$(mktemp -d /tmp/mmrats_gpu_site.XXXX)
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" .whl/*.whl >> "$LOG" 2>&1 \
    || { echo 'error: pip could not install the wheels of .whl/ (see gpu_check.log)' >&2; exit 2; }
  export PYTHONPATH="$PYTHONPATH:$SITE"
fi
"$PY" - >> "$LOG" 2>&1 << 'EOF'
import torch, mmengine, mmpretrain
print('torch', torch.__version__, 'mmengine', mmengine.__version__, 'mmpretrain', mmpretrain.__version__,
      'cuda', torch.cuda.get_device_name() if torch.cuda.is_available() else 'none')
EOF

S=configs/dino/dino_rats-s16_8xb96-300e_in1k-224.py
B=configs/dino/dino_rats-b16_8xb128-400e_in1k-224.py
LAB=configs/lab/dino_rats-lab_1xb32-2e_part-objects-64.py
LAB_TINY=(model.backbone.arch.embed_dims=32 model.backbone.arch.num_layers=2 model.backbone.arch.num_heads=2
          model.backbone.arch.num_registers=4 model.neck.in_channels=32 model.neck.hidden_channels=64
          model.neck.bottleneck_channels=16)
MODELS=('timm ViT-S/16' 'RATS-S/16')
if [ $TINY = 1 ]; then
  PARITY=(--device cpu --tiny --models RATS 'RATS + parallel' 'ViT (mhsa)')
  BENCH=(--device cpu --amp --resolutions 32 --batch 32=1 --repeats 1 --models "${MODELS[@]}" --no-dino --sdpa-check)
  MEMORY=("$LAB" --device cpu --with-cp config --cfg-options "${LAB_TINY[@]}")
  TRAIN=("$S" --iters 1 --warmup 0 --batch-size 1 --num-workers 0 --cfg-options model.backbone.arch=tiny
         model.neck.in_channels=64 model.neck.hidden_channels=64 model.neck.bottleneck_channels=16
         model.neck.out_channels=256 model.head.out_channels=256)
  LIMIT=300
else
  PARITY=(--device cuda)
  BENCH=(--device cuda --amp --resolutions 224 512 1024 --repeats 3 --models "${MODELS[@]}" --dino-split --sdpa-check)
  MEMORY=("$S" "$B" --device cuda --measure-cuda --with-cp config)
  TRAIN=("$S" --iters 20 --warmup 2 --amp --num-workers 12)
  LIMIT=240
fi

FAILED=0
step() {  # step NAME SECONDS TOOL ARGS...: one tool under its time limit, its output into the log
  local name=$1 seconds=$2 t0=$SECONDS
  shift 2
  echo "==> $name" | tee -a "$LOG"
  if timeout "$seconds" "$PY" "$@" --out-dir "$OUT/steps/$name" >> "$LOG" 2>&1; then
    echo "    done in $((SECONDS - t0)) s" | tee -a "$LOG"
  else
    echo "    FAILED (exit $?) after $((SECONDS - t0)) s: see $LOG" | tee -a "$LOG"
    FAILED=$((FAILED + 1))
  fi
}
step parity "$LIMIT" tools/analysis/device_parity.py "${PARITY[@]}"
step benchmark "$LIMIT" tools/analysis/benchmark.py "${BENCH[@]}"
step memory "$LIMIT" tools/analysis/memory_estimate.py "${MEMORY[@]}"
step train "$LIMIT" tools/analysis/train_step_benchmark.py "${TRAIN[@]}" --data-root "$OUT/data"

{
  echo "# GPU check ($(date -u '+%Y-%m-%d %H:%M UTC'), $FAILED failed steps)"
  grep -m1 '^torch ' "$LOG"
  for f in "$OUT"/steps/parity/*.md "$OUT"/steps/benchmark/*.md "$OUT"/steps/memory/*.md "$OUT"/steps/train/*.md; do
    [ -f "$f" ] && { echo; cat "$f"; }
  done
} > "$OUT/gpu_check.md"
tar -czf "$OUT/gpu_check.tar.gz" -C "$OUT" --exclude='*.pth' --exclude='*.log' \
  $(cd "$OUT" && find steps -name '*.json' -o -name '*.md' | sort)
echo "wrote $OUT/gpu_check.md, $OUT/gpu_check.log, $OUT/gpu_check.tar.gz ($FAILED failed steps)"
exit $FAILED
