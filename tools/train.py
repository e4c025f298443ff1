#!/usr/bin/env python
"""Train with an mmseg, mmdet or mmpretrain config; the config's ``default_scope`` decides.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--auto-scale-lr]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi] [--show-dir DIR]

The standard OpenMMLab command line (as mmseg/mmdet/mmpretrain's own
tools/train.py). Before the runner is built, a pre-flight
(``mmrats.utils.preflight``) checks the dataset folders, every weights
file the run would load (``init_cfg`` checkpoints, ``load_from``, ``--resume
PATH``) and that the classes of the config, its head and its annotations agree;
a problem is one ``error:`` line on stderr and exit status 2.

``--amp``: bf16 autocast where the CUDA device supports it, float16 with loss scaling where it
does not, float32 without CUDA (``mmrats.utils.run_config.set_precision``). ``--auto-scale-lr``:
the lr scaled by (GPUs x batch per GPU) / ``auto_scale_lr.base_batch_size`` (mmengine's linear
rule, as mmdet's and mmseg's ``--auto-scale-lr``); the DINO configs scale so by default.
"""
import argparse
import os
import sys

import mmrats  # noqa: F401  (first: torch >= 2.6 resume fix, known-warning filters)
from mmengine.config import DictAction
from mmengine.runner import Runner
from mmrats.utils import PreflightError, preflight
from mmrats.utils.run_config import build_cfg, exit_process, prepare_cpu_distributed, release_distributed
from mmrats.utils.preflight import check_checkpoint


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Train a model with an OpenMMLab config')
    p.add_argument('config', help='config file')
    p.add_argument('--work-dir', help='where logs and checkpoints go (default: work_dirs/<config name>)')
    p.add_argument('--resume', nargs='?', type=str, const='auto',
                   help='resume from CKPT, or from the latest checkpoint in the work dir if no CKPT')
    p.add_argument('--amp', action='store_true',
                   help='automatic mixed precision: bf16 where the GPU supports it, else float16 with loss scaling')
    p.add_argument('--auto-scale-lr', action='store_true',
                   help='scale the lr by (GPUs x batch per GPU) / auto_scale_lr.base_batch_size of the config')
    p.add_argument('--show-dir', help='also render validation predictions as images into WORK_DIR/SHOW_DIR')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys: key=value')
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    resume_path = args.resume not in (None, 'auto')
    try:
        if resume_path:  # before build_cfg, which stops on a missing file without naming a converter
            check_checkpoint('--resume', args.resume)
        cfg = build_cfg(args)
        preflight(cfg, ('train_dataloader', 'val_dataloader'),
                  load_from_key='--resume' if resume_path else 'load_from')
    except PreflightError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    prepare_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    release_distributed()
    return 0


if __name__ == '__main__':
    exit_process(main())
