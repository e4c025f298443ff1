#!/usr/bin/env python
"""Turn a RATS pretraining checkpoint into a fine-tuning backbone checkpoint.

    python tools/model_converters/rats2finetune.py SRC.pth DST.pth [--prefix backbone.] \
        [--parallel-qkv shared|separate]

Adds the parallel full-rank branch of every block, initialised as the spec
says (zero output projection; a separate qkv starts as a copy of qkv), checks
the result strictly against ``RATSViT(mode='rats', parallel_branch=True)`` and
checks that it computes the same function as the pretrained backbone.
"""
import argparse
import sys

import torch

from mmrats.models import RATSViT
from mmrats.models.utils import CheckpointMismatchError, check_state_dict, extract_state_dict
from mmrats.models.utils.ckpt_convert import check_rats_pretrained, infer_vit_arch, verified_finetune_state_dict
from mmrats.utils.cli import check_paths


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('src', help='RATS pretraining checkpoint (backbone state dict or a whole model)')
    p.add_argument('dst', help='output path (refuses to overwrite unless --force)')
    p.add_argument('--prefix', default=None,
                   help="where the backbone sits in SRC, e.g. 'backbone.' or 'teacher.backbone.' "
                        "(default: the keys as they are, or 'backbone.' if that is where they are)")
    p.add_argument('--parallel-qkv', choices=('shared', 'separate'), default='shared')
    p.add_argument('--num-heads', type=int, default=None)
    p.add_argument('--force', action='store_true', help='overwrite DST')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    paths = check_paths(args.src, args.dst, args.force)
    if paths is None:
        return 2
    src, dst = paths
    ckpt = torch.load(src, map_location='cpu', weights_only=False)
    prefix = args.prefix
    if prefix is None:
        raw = extract_state_dict(ckpt)
        prefix = 'backbone.' if 'registers' not in raw and 'backbone.registers' in raw else None
    pre = extract_state_dict(ckpt, prefix)
    try:
        check_rats_pretrained(pre)
        kwargs = infer_vit_arch(pre, args.num_heads)
        kwargs.update(mode='rats', with_cls_token=False, num_registers=pre['registers'].shape[1],
                      learned_communicate='blocks.0.attn.comm_qkv' in pre)
        pretrained = RATSViT(**kwargs).eval()
        check_state_dict(pretrained, pre, source=f'{src} (pretrained backbone)')
        pretrained.load_state_dict(pre, strict=True)
        sd, diff = verified_finetune_state_dict(pretrained, kwargs, args.parallel_qkv,
                                                source=f'{dst} (fine-tuning backbone)')
    except (ValueError, KeyError, CheckpointMismatchError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    dst.parent.mkdir(parents=True, exist_ok=True)
    cfg = dict(type='mmrats.RATSViT', **kwargs, parallel_branch=True, parallel_qkv=args.parallel_qkv)
    torch.save(dict(state_dict=sd, meta=dict(backbone=cfg, converted_from=str(src))), dst)
    added = len(sd) - len(pre)
    print(f'wrote {dst}: {len(pre)} pretrained tensors + {added} parallel-branch tensors; '
          f'max |f_finetune - f_pretrained| on a random image = {diff:.2e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
