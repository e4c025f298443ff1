#!/usr/bin/env python
"""Extract the teacher backbone of an mmrats DINO pretraining checkpoint (paper §3.1: the
teacher is the network DINO evaluates and transfers).

    python tools/model_converters/dino2backbone.py SRC.pth DST.pth [--student] [--finetune]
        [--parallel-qkv shared|separate] [--force]

SRC is a checkpoint written by ``tools/train.py`` with a ``configs/dino`` (or
demo) config. DST holds ``state_dict`` (the ``RATSViT`` keys) and
``meta.backbone`` (its config), loadable with
``init_cfg=dict(type='Pretrained', checkpoint=DST)``. The backbone is rebuilt
from the config saved in SRC and loaded strictly (``mmrats.apis.extract_backbone``). With ``--finetune`` (RATS
only) the parallel full-rank branch is added for dense fine-tuning (as
``rats2finetune.py``: zero output projection, so DST computes exactly the
pretrained function; checked on a random image) -- what the Mask2Former
configs load.
"""
import argparse
import sys

from mmrats.apis import BackboneLoadError, extract_backbone
from mmrats.utils.cli import check_paths


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
    which = 'student' if args.student else 'teacher'
    try:
        dst = extract_backbone(*paths, which=which, finetune=args.finetune, parallel_qkv=args.parallel_qkv,
                               force=args.force)
    except BackboneLoadError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f"wrote {dst}: the {which} backbone{' (with the parallel branch)' if args.finetune else ''}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
