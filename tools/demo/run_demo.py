#!/usr/bin/env python
"""``make demo``: the main job end to end on embedded data, on the CPU.

    python tools/demo/run_demo.py [--verbose] [--work-dir work_dirs]

1. Mask2Former with register queries on the synthetic scenes
   (``mmrats.apis.demo.mask2former_demo``, also ``tools/demo/mask2former_demo.py``):
   untrained vs trained, mmseg and mmdet;
2. DINO pretraining of a tiny RATS and a ViT on the sample photos, teacher
   extraction, Mask2Former fine-tuning from the RATS teacher, part discovery
   (``mmrats.apis.demo.dino_demo``, also ``tools/demo/dino_demo.py``).

The console shows one line per stage, a progress bar with ETA while a stage
trains or evaluates, and each stage's result; the full logs stay in the work
dirs (the demo prints where). At the end, all tables together with the
pictures' folders. ``--verbose`` streams every log line instead.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
import time

from mmrats.apis.demo import dino_demo, dino_tables, mask2former_demo, mask2former_tables
from mmrats.utils.console import say


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--verbose', action='store_true', help='stream every log line instead of one line per stage')
    p.add_argument('--work-dir', default='work_dirs', help='parent of the demo/ and dino_demo/ work dirs')
    p.add_argument('--data-root', default='data', help='parent of synthetic/ and sample_photos/')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    m2f_dir, dino_dir = osp.join(args.work_dir, 'demo'), osp.join(args.work_dir, 'dino_demo')
    scenes, photos = osp.join(args.data_root, 'synthetic'), osp.join(args.data_root, 'sample_photos')
    start = time.time()
    say('[1/2] Mask2Former with register queries, trained from scratch on the synthetic scenes')
    m2f = mask2former_demo(data_root=scenes, work_dir=m2f_dir, verbose=args.verbose)
    say('\n[2/2] DINO pretraining -> teacher extraction -> fine-tuning -> part discovery')
    dino = dino_demo(scenes=scenes, photos=photos, work_dir=dino_dir, verbose=args.verbose)
    minutes, seconds = divmod(round(time.time() - start), 60)
    say(f'\n==== Summary ({minutes} min {seconds} s) ====\n')
    say(mask2former_tables(m2f))
    say()
    say(dino_tables(dino))
    say(f'\nresults: {m2f_dir}/demo_results.json, {dino_dir}/dino_demo_results.json; '
        f'logs: {m2f_dir}/logs/, {dino_dir}/logs/')
    return 0


if __name__ == '__main__':
    sys.exit(main())
