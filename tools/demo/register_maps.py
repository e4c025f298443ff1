#!/usr/bin/env python
"""Run an image through a RATS backbone and write its register similarity maps (Eq. 7) as a PNG.

    python tools/demo/register_maps.py [--image PATH] [--arch small] [--checkpoint PATH]
        [--img-size 224] [--top-k 16] [--out-dir work_dirs/demo]

Without ``--image``, a photograph that scikit-learn ships (``flower.jpg``) is
used (``mmrats.apis.register_maps``); without ``--checkpoint`` the backbone is randomly initialised (the maps
then show what an untrained RATS computes; a DINO-pretrained checkpoint shows
parts). Writes ``register_maps.png`` and ``register_maps.json`` (the ranked
registers and their peak similarity).
"""
import argparse
import json
import sys
from pathlib import Path

from PIL import Image

from mmrats.apis import BackboneLoadError, ImageError, load_backbone, register_maps, untrained_backbone


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--image', default=None, help='an image file (default: scikit-learn flower.jpg)')
    p.add_argument('--arch', default=None, help='RATSViT arch (small, base, tiny); default: the checkpoint\'s, '
                   'else small')
    p.add_argument('--checkpoint', default=None, help='any backbone weights file (architecture read from it)')
    p.add_argument('--img-size', type=int, default=224, help='input side, a multiple of 16')
    p.add_argument('--top-k', type=int, default=16, help='registers shown, ranked by peak similarity')
    p.add_argument('--seed', type=int, default=0, help='random init without --checkpoint')
    p.add_argument('--out-dir', default='work_dirs/demo')
    args = p.parse_args(argv)
    if args.img_size % 16:
        p.error(f'--img-size {args.img_size} is not a multiple of 16')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    arch = dict(arch=args.arch) if args.arch else {}
    try:
        model = (load_backbone(args.checkpoint, img_size=args.img_size, **arch) if args.checkpoint else
                 untrained_backbone(dict(arch=args.arch or 'small', img_size=args.img_size), seed=args.seed))
    except BackboneLoadError as e:
        raise SystemExit(f'error: --checkpoint: {e}') from None
    if args.image is None:
        from sklearn.datasets import load_sample_image
        image = load_sample_image('flower.jpg')
    elif not Path(args.image).is_file():
        raise SystemExit(f'error: --image {args.image} does not exist')
    else:
        image = args.image
    try:
        res = register_maps(model, image, args.top_k)
    except (ImageError, ValueError) as e:
        raise SystemExit(f'error: --image {args.image}: {e}') from None
    arch_name = args.arch or ('custom' if args.checkpoint else 'small')
    what = args.checkpoint or 'random init'
    png = res.draw(title=f'RATS-{arch_name} ({what}): register-patch cosine similarity, top-{len(res.indices)} of '
                         f'{model.num_registers}')
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(png).save(out / 'register_maps.png')
    grid = list(res.maps.shape[1:])
    summary = dict(arch=arch_name, checkpoint=args.checkpoint, img_size=args.img_size,
                   num_registers=model.num_registers, patch_grid=grid,
                   top_registers=[dict(register=int(i), peak=float(m)) for i, m in zip(res.indices, res.peaks)])
    (out / 'register_maps.json').write_text(json.dumps(summary, indent=2))
    print(f"RATSViT-{arch_name}: {sum(p.numel() for p in model.parameters()):,} parameters, "
          f'{model.num_registers} registers, patch grid {tuple(grid)}')
    print(f'wrote {out / "register_maps.png"} and {out / "register_maps.json"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
