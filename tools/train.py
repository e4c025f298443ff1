#!/usr/bin/env python
"""Train with an mmseg, mmdet or mmpretrain config; the config's ``default_scope`` decides.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi] [--show-dir DIR]

The standard OpenMMLab command line (as mmseg/mmdet/mmpretrain's own
tools/train.py). Before the run starts, the dataset folders the config names
are checked (a clear error names the path and the expected layout).
"""
import argparse
import os
import sys

import mmrats  # noqa: F401  (first: torch >= 2.6 resume fix, known-warning filters)
from mmengine.config import DictAction
from mmengine.runner import Runner
from mmrats.utils import DataRootError, check_data_roots
from mmrats.utils.run_config import build_cfg, prepare_cpu_distributed


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Train a model with an OpenMMLab config')
    p.add_argument('config', help='config file')
    p.add_argument('--work-dir', help='where logs and checkpoints go (default: work_dirs/<config name>)')
    p.add_argument('--resume', nargs='?', type=str, const='auto',
                   help='resume from CKPT, or from the latest checkpoint in the work dir if no CKPT')
    p.add_argument('--amp', action='store_true', help='automatic mixed precision')
    p.add_argument('--show-dir', help='also render validation predictions as images into WORK_DIR/SHOW_DIR')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys: key=value')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = build_cfg(args)
    try:
        check_data_roots(cfg, ('train_dataloader', 'val_dataloader'))
    except DataRootError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    prepare_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return 0


if __name__ == '__main__':
    sys.exit(main())
