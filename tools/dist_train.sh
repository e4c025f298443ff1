#!/usr/bin/env bash
# Distributed training with torchrun:
#   bash tools/dist_train.sh CONFIG GPUS [tools/train.py args...]
# As in the OpenMMLab toolboxes: NNODES, NODE_RANK, PORT and MASTER_ADDR set up a
# multi-node run. PYTHON picks the interpreter; by default the project's
# environment (tools/setup/setup_env.sh, built on first use, cached), so nothing
# needs to be activated. On a machine without CUDA the processes run on the CPU
# (add --cfg-options env_cfg.dist_cfg.backend=gloo).
set -euo pipefail
if [[ $# -lt 2 ]]; then
  echo "usage: bash tools/dist_train.sh CONFIG GPUS [tools/train.py args...]" >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON=${PYTHON:-$(bash "$ROOT/tools/setup/setup_env.sh")}
PYTHONPATH="$ROOT:${PYTHONPATH:-}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
