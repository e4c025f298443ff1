#!/usr/bin/env python
"""Every attention path on a device against float32 on the CPU: prints a table, writes JSON + markdown.

    python tools/analysis/device_parity.py [--device cuda] [--dtypes float32 bfloat16] [--sizes 224 96]
        [--batch 2] [--tiny] [--out-dir work_dirs/device_parity]

The same RATS-S/16 and ViT-S/16 weights (every attention form: RATS with and without the parallel branch,
shared registers, the learned communication; the ViT with and without registers; fused and manual attention)
run forward + backward once on the CPU in float32 and once on ``--device`` in each of ``--dtypes`` (bf16:
autocast, as training runs); the table gives the largest output and gradient differences relative to the
reference (``mmrats.utils.benchmark.parity``) and whether they are within the dtype's tolerance. Exit code 1
when a row is not: a kernel that computes something else on the device. ``--tiny``: a 2-block, 32-wide model
at 32 and 16 pixels (what the tests run on the CPU). Part of ``tools/gpu_check.sh``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from mmrats.utils.benchmark.parity import PARITY_MODELS, parity_rows

TINY_ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64, num_registers=4)


def markdown(rows: list[dict], device: str) -> str:
    lines = [f'# Attention paths on {device} against float32 on the CPU', '',
             '| model | attention | input | dtype | output rel. error | gradient rel. error (worst parameter) | '
             'tolerance | within |', '|---' * 8 + '|']
    for r in rows:
        lines.append(f"| {r['model']} | {r['attention']} | {r['size']} | {r['dtype']} | {r['out_rel_err']:.2e} | "
                     f"{r['grad_rel_err']:.2e} | {r['tolerance']:g} | {'yes' if r['ok'] else '**no**'} |")
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', choices=('cpu', 'cuda'))
    p.add_argument('--dtypes', nargs='+', default=['float32', 'bfloat16'], choices=('float32', 'bfloat16'))
    p.add_argument('--sizes', type=int, nargs='+', default=None, help='input sizes (default: 224 96; tiny: 32 16)')
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--models', nargs='+', default=list(PARITY_MODELS), choices=list(PARITY_MODELS), metavar='MODEL')
    p.add_argument('--tiny', action='store_true', help='a 2-block, 32-wide backbone (tests on the CPU)')
    p.add_argument('--out-dir', default='work_dirs/device_parity')
    args = p.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        p.error('--device cuda: no CUDA device is available (use --device cpu)')
    sizes = args.sizes or ([32, 16] if args.tiny else [224, 96])
    if args.batch < 1 or any(s < 16 or s % 16 for s in sizes):
        p.error(f'--batch must be >= 1 and --sizes multiples of the patch size 16, got {args.batch}, {sizes}')
    args.sizes = sizes
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    arch = TINY_ARCH if args.tiny else 'small'
    models = {m: PARITY_MODELS[m] for m in args.models}
    rows = []
    for dtype in args.dtypes:
        rows += parity_rows(args.device, dtype == 'bfloat16', arch, tuple(args.sizes), args.batch, models=models)
    device = torch.cuda.get_device_name() if args.device == 'cuda' else 'the CPU'
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'device_parity.json').write_text(json.dumps(dict(device=device, torch=torch.__version__, rows=rows),
                                                       indent=1))
    table = markdown(rows, device)
    (out / 'device_parity.md').write_text(table)
    bad = [r for r in rows if not r['ok']]
    print('\n' + table + f'\nwritten: {out}/device_parity.json, device_parity.md')
    if bad:
        print(f'error: {len(bad)} of {len(rows)} rows outside their tolerance: '
              + ', '.join(f"{r['model']} {r['attention']} {r['size']} {r['dtype']}" for r in bad), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
