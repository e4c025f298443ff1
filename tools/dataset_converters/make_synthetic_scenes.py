#!/usr/bin/env python
"""Write the embedded synthetic scenes in the ADE20K and COCO layouts.

    python tools/dataset_converters/make_synthetic_scenes.py --out data/synthetic

writes OUT/ade/{images,annotations}/{training,validation}/ (mmseg),
OUT/coco/{train,val}2017/ and OUT/coco/annotations/instances_{train,val}2017.json
(mmdet) and OUT/manifest.json. Rerunning with the same parameters reuses them.
"""
import argparse
import os
import os.path as osp
import sys
import time

from mmrats.datasets.synthetic_scenes import CLASSES, write_dataset


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default='data/synthetic', help='output folder (empty, new, or a previous one)')
    p.add_argument('--num-train', type=int, default=200, help='training images')
    p.add_argument('--num-val', type=int, default=50, help='validation images')
    p.add_argument('--size', type=int, default=128, help='image side in pixels')
    p.add_argument('--seed', type=int, default=0, help='dataset seed')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    man = osp.join(args.out, 'manifest.json')
    before = os.stat(man).st_mtime_ns if osp.isfile(man) else None
    t0 = time.perf_counter()
    try:
        manifest = write_dataset(args.out, args.num_train, args.num_val, args.size, args.seed)
    except FileExistsError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    dt = time.perf_counter() - t0
    counts = ', '.join(f"{s}: {c['images']} images / {c['instances']} instances"
                       for s, c in manifest['splits'].items())
    if before is not None and os.stat(man).st_mtime_ns == before:
        print(f'reused the cached {args.out} ({counts}): same parameters, all files present')
    else:
        print(f'wrote {args.out} ({counts}) in {dt:.1f}s')
    print(f'  ADE20K layout: {args.out}/ade  (mmrats.SyntheticSceneSegDataset)')
    print(f'  COCO layout:   {args.out}/coco (CocoDataset, metainfo=DET_METAINFO)')
    print(f'classes: {", ".join(CLASSES)}  (COCO categories 1..{len(CLASSES) - 1}: {", ".join(CLASSES[1:])})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
