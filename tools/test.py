#!/usr/bin/env python
"""Evaluate a checkpoint with an mmseg, mmdet or mmpretrain config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--show-dir DIR]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]

Prints the config's metrics (mIoU for mmseg, box/mask AP for mmdet) and, with
``--show-dir``, renders every prediction as an image. Before the runner is
built, a pre-flight (``mmrats.utils.preflight``) checks CHECKPOINT, the
test dataset's folders and that its classes agree with the head; a problem is
one ``error:`` line on stderr and exit status 2.
"""
import argparse
import os
import sys

import mmrats  # noqa: F401  (first: torch >= 2.6 resume fix, known-warning filters)
from mmengine.config import DictAction
from mmengine.runner import Runner
from mmrats.utils import PreflightError, preflight
from mmrats.utils.run_config import build_cfg, exit_process, prepare_cpu_distributed, release_distributed


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='Test (and evaluate) a model')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--work-dir')
    p.add_argument('--show-dir', help='render predictions into WORK_DIR/TIMESTAMP/SHOW_DIR')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    args.resume, args.amp = None, False
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = build_cfg(args)
    cfg.load_from = args.checkpoint
    try:
        # the model's init_cfg files are not loaded when testing: CHECKPOINT replaces them
        preflight(cfg, ('test_dataloader',), load_from_key='CHECKPOINT', model_weights=False)
    except PreflightError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    prepare_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    release_distributed()
    print({k: round(float(v), 4) for k, v in metrics.items()})
    return 0


if __name__ == '__main__':
    exit_process(main())
