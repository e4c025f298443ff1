#!/usr/bin/env python
"""The main demo: RATS register-query Mask2Former trained and evaluated on the synthetic scenes.

    python tools/demo/mask2former_demo.py [--task seg det] [--data-root data/synthetic]
        [--work-dir work_dirs/demo] [--iters 300]

End to end on the CPU, with the stock OpenMMLab runners:

1. writes the embedded synthetic scene dataset (ADE20K and COCO layouts) if it
   is not there yet (deterministic; ``tools/dataset_converters/make_synthetic_scenes.py``);
2. evaluates the untrained model (the reference a trained model must beat);
3. trains the demo config (``configs/demo/``) for ``--iters`` iterations,
   checkpointing into the work dir;
4. evaluates the trained model with the stock metric (mmseg ``IoUMetric``:
   mIoU; mmdet ``CocoMetric``: box and mask AP),

then prints an untrained-vs-trained table and writes it to
``WORK_DIR/demo_results.json``, with the folders of the trained model's
pictures (every test image with its prediction). The console shows one line
per stage, a progress bar and the tables; each stage's full output goes to a
log in the work dir (``--verbose`` streams everything instead). ``tools/train.py`` and ``tools/test.py`` run
the same configs step by step (see ``docs/downstream.md``). The stages are
``mmrats.apis.demo.mask2former_demo``.
"""
from __future__ import annotations

import argparse
import sys

from mmrats.apis.demo import M2F_CONFIGS, mask2former_demo


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--task', nargs='+', choices=sorted(M2F_CONFIGS), default=['seg', 'det'],
                   help='seg: ADE20K-layout semantic segmentation (mIoU); det: COCO-layout instance '
                        'segmentation with boxes (mask and box AP)')
    p.add_argument('--data-root', default='data/synthetic', help='where the synthetic scenes are (or go)')
    p.add_argument('--work-dir', default='work_dirs/demo', help='logs, checkpoints and demo_results.json')
    p.add_argument('--iters', type=int, default=None, help='training iterations (default: the config\'s 300)')
    p.add_argument('--verbose', action='store_true', help='stream every log line instead of one line per stage')
    args = p.parse_args(argv)
    if args.iters is not None and args.iters < 1:
        p.error(f'--iters must be >= 1, got {args.iters}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    mask2former_demo(args.task, args.data_root, args.work_dir, args.iters, args.verbose)
    return 0


if __name__ == '__main__':
    sys.exit(main())
