#!/usr/bin/env python
"""Write the procedural part-structured objects in the PartImageNet layout (and an mmseg copy).

    python tools/dataset_converters/make_part_objects.py --out data/part_objects \\
        [--num-train 2000] [--num-val 0] [--num-test 300] [--img-size 96] [--seed 0] [--no-ade]

writes OUT/images/<split>/<category>/*.png, OUT/annotations/<split>.json
(COCO, part types as categories: read by ``tools/analysis/part_segmentation.py
--dataset-type partimagenet --split test``), OUT/ade/{images,annotations}/<split>/
(mmseg, label = part type, 0 background) and OUT/manifest.json, and prints
the generation speed. Rerunning with the same parameters reuses the files.
``--samples PNG`` also draws the first ``--num-samples`` test images above
their part label maps (the docs' sample picture).
"""
import argparse
import sys
import time

import numpy as np
from PIL import Image

from mmrats.datasets.part_objects import PartObjectsConfig, generate_part_objects
from mmrats.datasets.part_objects_catalogue import CATEGORIES, PART_NAMES
from mmrats.datasets.part_objects_writer import write_part_objects


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default='data/part_objects', help='output folder (new, empty, or written before)')
    p.add_argument('--num-train', type=int, default=2000)
    p.add_argument('--num-val', type=int, default=0)
    p.add_argument('--num-test', type=int, default=300)
    p.add_argument('--img-size', type=int, default=96, help='image side in pixels')
    p.add_argument('--seed', type=int, default=0, help='dataset seed')
    p.add_argument('--no-ade', action='store_true', help='skip the mmseg (ADE20K-layout) copy')
    p.add_argument('--samples', default=None, help='also write a PNG of test images over their part labels')
    p.add_argument('--num-samples', type=int, default=12)
    args = p.parse_args(argv)
    counts = dict(train=args.num_train, val=args.num_val, test=args.num_test)
    if min(counts.values()) < 0 or args.img_size < 16:
        p.error('--num-train/--num-val/--num-test must be >= 0 and --img-size >= 16')
    return args


def generation_speed(cfg: PartObjectsConfig, n: int = 50) -> float:
    """Images per second of :func:`generate_part_objects` alone (in memory, one process)."""
    t0 = time.perf_counter()
    for i in range(n):
        generate_part_objects(i, 0, 'train', cfg)
    return n / (time.perf_counter() - t0)


# one colour per part type (0: background, black)
PALETTE = np.array([(0, 0, 0), (230, 25, 75), (245, 130, 48), (255, 225, 25), (128, 0, 0), (60, 180, 75),
                    (70, 240, 240), (0, 0, 128), (145, 30, 180), (240, 50, 230), (170, 255, 195),
                    (0, 130, 200)], np.uint8)


def sample_picture(cfg: PartObjectsConfig, num: int, seed: int, cols: int = 6) -> np.ndarray:
    """Rows of ``cols`` test images, each row followed by the images' part label maps (PALETTE)."""
    samples = [generate_part_objects(i, seed, 'test', cfg) for i in range(num)]
    rows = []
    for r in range(0, num, cols):
        chunk = samples[r:r + cols] + [None] * (cols - len(samples[r:r + cols]))
        blank = np.full((cfg.img_size, cfg.img_size, 3), 255, np.uint8)
        rows.append(np.concatenate([blank if s is None else s.image for s in chunk], 1))
        rows.append(np.concatenate([blank if s is None else PALETTE[s.parts] for s in chunk], 1))
    return np.concatenate(rows, 0)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = PartObjectsConfig(img_size=args.img_size)
    counts = {s: n for s, n in dict(train=args.num_train, val=args.num_val, test=args.num_test).items() if n}
    t0 = time.perf_counter()
    try:
        manifest = write_part_objects(args.out, counts, args.seed, cfg, ade=not args.no_ade)
    except (FileExistsError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    dt = time.perf_counter() - t0
    print(f"{args.out}: " + ', '.join(f"{s} {c['images']} images / {c['part_annotations']} part masks"
                                     for s, c in manifest['splits'].items()) + f' ({dt:.1f} s)')
    print(f'{len(CATEGORIES)} categories: ' + ', '.join(f'{c.name} ({c.supercategory})' for c in CATEGORIES))
    print(f'{len(PART_NAMES)} part types: ' + ', '.join(PART_NAMES))
    print(f'generation alone: {generation_speed(cfg):.0f} images/s at {args.img_size} px (one process)')
    if args.samples:
        Image.fromarray(sample_picture(cfg, args.num_samples, args.seed)).save(args.samples)
        print(f'wrote {args.samples}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
