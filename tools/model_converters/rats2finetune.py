#!/usr/bin/env python
"""Turn a RATS pretraining checkpoint into a fine-tuning backbone checkpoint.

    python tools/model_converters/rats2finetune.py SRC.pth DST.pth [--prefix backbone.] \
        [--parallel-qkv shared|separate]

Adds the parallel full-rank branch of every block, initialised as the spec
says (zero output projection; a separate qkv starts as a copy of qkv), checks
the result strictly against ``RATSViT(mode='rats', parallel_branch=True)`` and
checks that it computes the same function as the pretrained backbone
(``mmrats.apis.finetune_backbone``). SRC is any file ``mmrats.apis.load_backbone``
reads (of a DINO checkpoint: the teacher; ``--prefix backbone.`` for the student).
"""
import argparse
import sys

from mmrats.apis import BackboneLoadError, finetune_backbone
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
    try:
        r = finetune_backbone(*paths, parallel_qkv=args.parallel_qkv, prefix=args.prefix, num_heads=args.num_heads,
                              force=args.force)
    except BackboneLoadError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f"wrote {r['path']}: {r['pretrained_tensors']} pretrained tensors + {r['added_tensors']} parallel-branch "
          f"tensors; max |f_finetune - f_pretrained| on a random image = {r['max_difference']:.2e}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
