#!/usr/bin/env python
"""Table 1 of the paper (§4.2, App. E): checkpoints x the five part-segmentation benchmarks, in one command.

    python tools/analysis/part_table.py --checkpoint rats_s.pth dino_vits16_ratsvit.pth [--name RATS-S DINO]
        [--data-dir data] [--root coco=PATH ...] [--benchmarks coco ade20k imagenet imagenet-s partimagenet]
        [--img-size 512] [--top-k 80] [--batch-size 8] [--any-size] [--out-dir work_dirs/part_table]

Checks every benchmark first (a missing or incomplete one is skipped with one
line naming what is missing and how to prepare it, docs/part_benchmarks.md),
loads every checkpoint (any weights file the project writes or converts: RATS,
DINO ViT with [CLS] heads, ViT with registers, converted DINO / timm weights),
then evaluates each on each prepared benchmark exactly as
``tools/analysis/part_segmentation.py`` does, one result file per checkpoint
and benchmark (a rerun reads the finished ones). Prints and writes
``table.md`` (Table 1's row format, then the paper's rows) and ``table.json``
(with O2O). Bad input: one line on stderr and exit code 2.
"""
import argparse
import sys

import torch

from mmrats.apis.part_table import TABLE1_IMG_SIZE, TABLE1_TOP_K, PartTableError, part_table
from mmrats.datasets.part_benchmarks import BENCHMARKS
from mmrats.evaluation.part_segmentation import METHODS
from mmrats.evaluation.part_table import table_markdown
from mmrats.utils.cli import InputError, report_input_error
from mmrats.utils.console import track


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--checkpoint', nargs='+', required=True, help='weights files, one row each')
    p.add_argument('--name', nargs='+', default=None, help='row names, one per checkpoint')
    p.add_argument('--checkpoint-prefix', default=None, help="key prefix to strip, e.g. 'backbone.'")
    p.add_argument('--benchmarks', nargs='+', default=list(BENCHMARKS), choices=list(BENCHMARKS))
    p.add_argument('--data-dir', default='data', help='where the benchmarks are, each in its folder '
                   '(' + ', '.join(f'{b.key}: {b.folder}' for b in BENCHMARKS.values()) + ')')
    p.add_argument('--root', nargs='+', default=[], metavar='KEY=PATH', help='a benchmark elsewhere')
    p.add_argument('--img-size', type=int, default=TABLE1_IMG_SIZE)
    p.add_argument('--top-k', type=int, default=TABLE1_TOP_K)
    p.add_argument('--sigma', type=float, default=1.0, help='Gaussian std in patch cells (0: none)')
    p.add_argument('--method', default=None, choices=METHODS, help='default: as the backbone')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--workers', type=int, default=0)
    p.add_argument('--max-images', type=int, default=None, help='the first N images only (rows marked partial)')
    p.add_argument('--any-size', action='store_true', help="evaluate a benchmark with fewer images than its split's")
    p.add_argument('--device', default=None, help='default: cuda when present, else cpu')
    p.add_argument('--out-dir', default='work_dirs/part_table')
    return p.parse_args(argv)


def roots(args) -> dict:
    """``--root KEY=PATH`` as a dict; raises :class:`InputError` on a malformed one."""
    out = {}
    for item in args.root:
        key, sep, path = item.partition('=')
        if not sep or key not in BENCHMARKS or not path:
            raise InputError(f'--root {item!r}: expected KEY=PATH with KEY one of {", ".join(BENCHMARKS)}')
        out[key] = path
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        if args.device and args.device.startswith('cuda') and not torch.cuda.is_available():
            raise InputError(f'--device {args.device}: no CUDA device on this machine; use --device cpu')
        if min(args.top_k, args.batch_size, args.max_images or 1) < 1:
            raise InputError('--top-k, --batch-size and --max-images must be >= 1')
        result = part_table(args.checkpoint, args.out_dir, args.benchmarks, args.data_dir, roots(args), args.name,
                            args.img_size, args.top_k, args.sigma, args.method, args.batch_size, args.workers,
                            args.device, not args.any_size, args.max_images, args.checkpoint_prefix,
                            progress=lambda loader: track(loader, 'parts', stream=sys.stderr))
    except (InputError, PartTableError) as e:
        return report_input_error(e)
    if not result['rows']:
        return report_input_error(InputError(f'none of the benchmarks {", ".join(args.benchmarks)} is ready '
                                             f'under {args.data_dir} (the skip lines above say what is missing)'))
    print(table_markdown(result['rows']))
    print(f'wrote {args.out_dir}/table.json and {args.out_dir}/table.md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
