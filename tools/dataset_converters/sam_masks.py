#!/usr/bin/env python
"""SAM 2.1 proxy ground truth for the part benchmarks (paper §4.1, App. E): one label PNG per image.

    python tools/dataset_converters/sam_masks.py --benchmark coco --data-dir data --checkpoint sam2.1_hiera_large.pt
    python tools/dataset_converters/sam_masks.py --images DIR [--out DIR] --checkpoint sam2.1_hiera_large.pt
        [--model-size large] [--shard I --num-shards N] [--device cuda:I] [--points-per-side 32 ...]

Runs the sam2 package's automatic mask generator (SAM 2.1 Hiera-L, the
paper's) over every image and writes ``<out>/<name>.png`` (16-bit, 0 = no
mask; overlapping masks: the smaller one wins) and ``<out>/sam_settings.json``.
``--benchmark coco|imagenet`` takes the split's folder and writes where
``tools/analysis/part_table.py`` reads (``<root>/sam2.1_masks/<split>``).
Rerunning continues a killed run (finished images are kept); N processes with
``--shard 0..N-1 --num-shards N`` share the images. Needs the sam2 package
(``bash tools/setup/install_sam2.sh <python>``). Bad input: one line on
stderr and exit code 2.
"""
import argparse
import sys
from pathlib import Path

from mmrats.apis.sam_masks import GENERATOR_DEFAULTS, MODEL_SIZES, SamMaskError, generate_sam_masks
from mmrats.datasets.part_benchmarks import BENCHMARKS, SAM_MASK_DIR, benchmark_root
from mmrats.utils.cli import InputError, report_input_error
from mmrats.utils.console import track

SAM_BENCHMARKS = [k for k, b in BENCHMARKS.items() if b.sam]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument('--benchmark', choices=SAM_BENCHMARKS, help='a Table 1 benchmark under --data-dir')
    src.add_argument('--images', help='an image folder (sub-folders too)')
    p.add_argument('--data-dir', default='data')
    p.add_argument('--root', default=None, help="with --benchmark: the benchmark's folder if not under --data-dir")
    p.add_argument('--out', default=None, help='default: <images parent>/sam2.1_masks/<images folder name>')
    p.add_argument('--checkpoint', default=None, help='the official SAM 2.1 checkpoint, e.g. sam2.1_hiera_large.pt')
    p.add_argument('--model-size', default='large', choices=list(MODEL_SIZES))
    p.add_argument('--random-init', action='store_true', help='random weights, no checkpoint (tests only)')
    p.add_argument('--shard', type=int, default=0)
    p.add_argument('--num-shards', type=int, default=1)
    p.add_argument('--device', default=None, help='default: cuda when present, else cpu')
    p.add_argument('--points-per-batch', type=int, default=64, help='speed / memory only')
    for key, value in GENERATOR_DEFAULTS.items():
        kind = {bool: lambda s: s.lower() in ('1', 'true', 'yes'), int: int, float: float}[type(value)]
        p.add_argument('--' + key.replace('_', '-'), type=kind, default=value, help=f'generator (default {value})')
    return p.parse_args(argv)


def folders(args) -> tuple[Path, Path]:
    """The image folder and the mask folder the arguments name."""
    if args.benchmark:
        bench = BENCHMARKS[args.benchmark]
        root = benchmark_root(bench, args.data_dir, {bench.key: args.root} if args.root else None)
        images = root / bench.split
        if not images.is_dir():
            raise InputError(f'{bench.column} ({bench.key}): no image folder {images}; {bench.prepare}')
        return images, Path(args.out) if args.out else root / SAM_MASK_DIR / bench.split
    images = Path(args.images)
    return images, Path(args.out) if args.out else images.parent / SAM_MASK_DIR / images.name


def main(argv=None) -> int:
    args = parse_args(argv)
    generator = {k: getattr(args, k) for k in GENERATOR_DEFAULTS}
    try:
        images, out = folders(args)
        res = generate_sam_masks(images, out, args.checkpoint, args.model_size, args.device, args.shard,
                                 args.num_shards, args.random_init, args.points_per_batch,
                                 progress=lambda items: track(items, 'SAM 2.1 masks', stream=sys.stderr),
                                 **generator)
    except (InputError, SamMaskError) as e:
        return report_input_error(e)
    print(f"{res['written']} label maps written, {res['done_before']} done before ({res['images']} images of this "
          f"shard) in {res['out_dir']}; settings in {res['out_dir']}/sam_settings.json")
    return 0


if __name__ == '__main__':
    sys.exit(main())
