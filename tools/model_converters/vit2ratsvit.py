#!/usr/bin/env python
"""Convert an official DINO or timm ViT checkpoint to RATSViT (mode='mhsa').

    python tools/model_converters/vit2ratsvit.py SRC.pth DST.pth [--num-heads H]

The converted weights are loaded strictly into the RATSViT they describe
(arch read off the shapes): every renamed and dropped key is reported, and any
key that matches nothing fails the conversion. The output is an mmengine-style
``{'state_dict': ..., 'meta': ...}`` that ``init_cfg=dict(type='Pretrained',
checkpoint=DST)`` of a ``mmrats.RATSViT`` backbone loads.
"""
import argparse
import sys

import torch

from mmrats.models import RATSViT
from mmrats.models.utils import CheckpointMismatchError, check_state_dict, convert_vit_to_ratsvit
from mmrats.models.utils.ckpt_convert import infer_vit_arch
from mmrats.utils.cli import check_paths


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('src', help='official DINO (.pth) or timm ViT state dict / checkpoint')
    p.add_argument('dst', help='output path (refuses to overwrite unless --force)')
    p.add_argument('--num-heads', type=int, default=None, help='heads, if the width is not a standard ViT one')
    p.add_argument('--force', action='store_true', help='overwrite DST')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    paths = check_paths(args.src, args.dst, args.force)
    if paths is None:
        return 2
    src, dst = paths
    ckpt = torch.load(src, map_location='cpu', weights_only=False)
    sd, report = convert_vit_to_ratsvit(ckpt)
    kwargs = infer_vit_arch(sd, args.num_heads)
    print(f'origin: {report["origin"][0]}')
    for k in report['renamed']:
        print(f'renamed: {k}')
    for k in report['dropped']:
        print(f'dropped (not backbone): {k}')
    model = RATSViT(**kwargs)
    try:
        check_state_dict(model, sd, source=str(src))
    except CheckpointMismatchError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    model.load_state_dict(sd, strict=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state_dict=sd, meta=dict(backbone=dict(type='mmrats.RATSViT', **kwargs),
                                             converted_from=str(src))), dst)
    print(f'wrote {dst}: {len(sd)} tensors, RATSViT({kwargs})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
