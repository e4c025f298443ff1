#!/usr/bin/env python
"""Extract the teacher backbone of an mmrats DINO pretraining checkpoint (paper §3.1: the
teacher is the network DINO evaluates and transfers).

    python tools/model_converters/dino2backbone.py SRC.pth DST.pth [--student] [--finetune]
        [--parallel-qkv shared|separate] [--force]

SRC is a checkpoint written by ``tools/train.py`` with a ``configs/dino`` (or
demo) config. DST holds ``state_dict`` (the ``RATSViT`` keys) and
``meta.backbone`` (its config), loadable with
``init_cfg=dict(type='Pretrained', checkpoint=DST)``. The backbone is rebuilt
from the config saved in SRC and loaded strictly. With ``--finetune`` (RATS
only) the parallel full-rank branch is added for dense fine-tuning (as
``rats2finetune.py``: zero output projection, so DST computes exactly the
pretrained function; checked on a random image) -- what the Mask2Former
configs load.
"""
import argparse
import sys

import torch
from mmengine.config import Config

import mmrats  # noqa: F401  (resume fix: mmengine checkpoints load with weights_only=True)
from mmrats.models import RATSViT
from mmrats.models.utils import CheckpointMismatchError, check_state_dict, extract_state_dict
from mmrats.models.utils.ckpt_convert import verified_finetune_state_dict
from mmrats.utils.cli import check_paths

BACKBONE_ARGS = ('arch', 'mode', 'img_size', 'patch_size', 'num_registers', 'with_cls_token', 'shared_registers',
                 'learned_communicate', 'final_norm', 'layer_scale_init', 'qkv_bias')


def backbone_kwargs(checkpoint: dict, src: str) -> dict:
    """The ``RATSViT`` arguments of the pretraining config saved in the checkpoint's meta."""
    text = (checkpoint.get('meta') or {}).get('cfg')
    if not text:
        raise ValueError(f'{src} has no meta.cfg (the config mmengine saves): not a checkpoint written by '
                         'tools/train.py with a DINO config')
    cfg = Config.fromstring(text, '.py')
    bb = cfg.get('model', {}).get('backbone', {})
    if not str(bb.get('type', '')).endswith('RATSViT'):
        raise ValueError(f'{src}: model.backbone.type is {bb.get("type")!r}, expected mmrats.RATSViT')
    kwargs = {k: bb[k] for k in BACKBONE_ARGS if k in bb}
    if isinstance(kwargs.get('arch'), dict):
        kwargs['arch'] = {k: v for k, v in kwargs['arch'].items() if k != '_delete_'}
    return kwargs


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('src', help='DINO pretraining checkpoint (tools/train.py output)')
    p.add_argument('dst', help='backbone checkpoint to write (refuses to overwrite unless --force)')
    p.add_argument('--student', action='store_true', help='take the student instead of the teacher')
    p.add_argument('--finetune', action='store_true',
                   help='add the parallel full-rank branch (RATS) for the Mask2Former configs')
    p.add_argument('--parallel-qkv', choices=('shared', 'separate'), default='shared')
    p.add_argument('--force', action='store_true', help='overwrite DST')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    paths = check_paths(args.src, args.dst, args.force)
    if paths is None:
        return 2
    src, dst = paths
    ckpt = torch.load(src, map_location='cpu', weights_only=True)
    prefix = 'backbone.' if args.student else 'teacher.backbone.'
    sd = extract_state_dict(ckpt, prefix)
    if not sd:
        print(f'error: {src} has no {prefix}* weights: not a DINO pretraining checkpoint', file=sys.stderr)
        return 2
    try:
        kwargs = backbone_kwargs(ckpt, str(src))
        pretrained = RATSViT(**kwargs).eval()
        check_state_dict(pretrained, sd, source=f'{src} ({prefix}*)')
        pretrained.load_state_dict(sd, strict=True)
        cfg = dict(type='mmrats.RATSViT', **kwargs)
        if args.finetune:
            sd, _ = verified_finetune_state_dict(pretrained, kwargs, args.parallel_qkv,
                                                 source=f'{dst} (fine-tuning backbone)')
            cfg.update(parallel_branch=True, parallel_qkv=args.parallel_qkv)
    except (ValueError, KeyError, CheckpointMismatchError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state_dict=sd, meta=dict(backbone=cfg, converted_from=str(src),
                                             which='student' if args.student else 'teacher')), dst)
    print(f"wrote {dst}: the {'student' if args.student else 'teacher'} backbone, {len(sd)} tensors"
          f"{' (with the parallel branch)' if args.finetune else ''}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
