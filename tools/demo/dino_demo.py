#!/usr/bin/env python
"""DINO demo: pretrain -> extract -> fine-tune -> part discovery, on embedded data, on the CPU.

    python tools/demo/dino_demo.py [--models rats vit] [--work-dir work_dirs/dino_demo]
        [--photos data/sample_photos] [--scenes data/synthetic] [--epochs N]
        [--finetune-iters 300] [--no-finetune] [--no-parts]

1. writes the 17 sample photographs scikit-image and scikit-learn ship
   (``mmrats.datasets.sample_photos``) if they are not there;
2. pretrains the tiny RATS (and, with ``vit``, the ViT baseline of the same
   size) with DINO (``configs/demo/dino_{rats,vit}-demo_*.py``) and reports
   the loss and the collapse monitors of the first and the last epoch;
3. extracts the teacher backbone (``mmrats.apis.extract_backbone``, as
   ``tools/model_converters/dino2backbone.py``;
   for RATS also with the parallel branch, ``--finetune``);
4. fine-tunes the register-query Mask2Former demo (synthetic scenes, ADE20K
   layout) from the extracted RATS backbone and reports its mIoU;
5. runs part discovery (``mmrats.apis.evaluate_parts``, as
   ``tools/analysis/part_segmentation.py``) on the
   synthetic scenes for each pretrained backbone and for the same backbones
   untrained, and prints the Table-1-style rows.

Writes ``WORK_DIR/dino_demo_results.json``. The console shows one line per
stage, a progress bar and the tables, with the pictures' folders (part
discovery overlays); each stage's full output goes to a log under
``WORK_DIR/logs`` (``--verbose`` streams everything instead). The stages are
``mmrats.apis.demo.dino_demo``.
"""
from __future__ import annotations

import argparse
import sys

from mmrats.apis.demo import DINO_CONFIGS, dino_demo, dino_tables
from mmrats.utils.console import say


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--models', nargs='+', choices=sorted(DINO_CONFIGS), default=['rats', 'vit'])
    p.add_argument('--work-dir', default='work_dirs/dino_demo')
    p.add_argument('--photos', default='data/sample_photos', help='where the sample photos are (or go)')
    p.add_argument('--scenes', default='data/synthetic', help='the synthetic scenes (made if missing)')
    p.add_argument('--epochs', type=int, default=None, help="pretraining epochs (default: the config's)")
    p.add_argument('--finetune-iters', type=int, default=300)
    p.add_argument('--no-finetune', action='store_true', help='skip the Mask2Former fine-tuning step')
    p.add_argument('--no-parts', action='store_true', help='skip the part discovery step')
    p.add_argument('--top-k', type=int, default=8, help='part discovery: regions per image')
    p.add_argument('--verbose', action='store_true', help='stream every log line instead of one line per stage')
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        p.error(f'--epochs must be >= 1, got {args.epochs}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    results = dino_demo(args.models, args.work_dir, args.photos, args.scenes, args.epochs, args.finetune_iters,
                        not args.no_finetune, not args.no_parts, args.top_k, args.verbose)
    say()
    say(dino_tables(results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
