#!/usr/bin/env python
"""Run an image through a RATS backbone and write its register similarity maps (Eq. 7) as a PNG.

    python tools/demo/register_maps.py [--image PATH] [--arch small] [--checkpoint PATH]
        [--img-size 224] [--top-k 16] [--out-dir work_dirs/demo]

Without ``--image``, a photograph that scikit-learn ships (``flower.jpg``) is
used; without ``--checkpoint`` the backbone is randomly initialised (the maps
then show what an untrained RATS computes; a DINO-pretrained checkpoint shows
parts). Writes ``register_maps.png`` and ``register_maps.json`` (the ranked
registers and their peak similarity).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mmrats.models import RATSViT
from mmrats.visualization import draw_register_maps, register_similarity

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def load_image(path: str | None, size: int) -> tuple[np.ndarray, torch.Tensor]:
    """``(size, size, 3)`` uint8 image and its normalised ``(1, 3, size, size)`` tensor."""
    if path is None:
        from sklearn.datasets import load_sample_image
        img = Image.fromarray(load_sample_image('flower.jpg'))
    else:
        if not Path(path).is_file():
            raise SystemExit(f'error: --image {path} does not exist')
        img = Image.open(path).convert('RGB')
    img = img.resize((size, size), Image.BICUBIC)
    arr = np.array(img)  # writable: torch.from_numpy warns on read-only arrays
    x = (torch.from_numpy(arr).float().permute(2, 0, 1) / 255 - torch.tensor(MEAN)[:, None, None]) \
        / torch.tensor(STD)[:, None, None]
    return arr, x[None]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--image', default=None, help='an RGB image (default: scikit-learn flower.jpg)')
    p.add_argument('--arch', default='small', help='RATSViT arch (small, base, tiny)')
    p.add_argument('--checkpoint', default=None, help='RATSViT backbone checkpoint (strictly loaded)')
    p.add_argument('--img-size', type=int, default=224, help='input side, a multiple of 16')
    p.add_argument('--top-k', type=int, default=16, help='registers shown, ranked by peak similarity')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out-dir', default='work_dirs/demo')
    args = p.parse_args(argv)
    if args.img_size % 16:
        p.error(f'--img-size {args.img_size} is not a multiple of 16')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    init = dict(type='Pretrained', checkpoint=args.checkpoint) if args.checkpoint else None
    model = RATSViT(arch=args.arch, img_size=args.img_size, init_cfg=init)
    model.init_weights()
    model.eval()
    image, x = load_image(args.image, args.img_size)
    with torch.no_grad():
        f = model.forward_features(x)
    maps, idx = register_similarity(f['registers'], f['patch_tokens'], f['patch_hw'], args.top_k)
    maps, idx = maps[0].numpy(), idx[0].numpy()
    what = args.checkpoint or 'random init'
    png = draw_register_maps(image, maps, idx, title=f'RATS-{args.arch} ({what}): register-patch cosine '
                                                     f'similarity, top-{len(idx)} of {model.num_registers}')
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(png).save(out / 'register_maps.png')
    summary = dict(arch=args.arch, checkpoint=args.checkpoint, img_size=args.img_size,
                   num_registers=model.num_registers, patch_grid=list(f['patch_hw']),
                   top_registers=[dict(register=int(i), peak=float(m.max())) for i, m in zip(idx, maps)])
    (out / 'register_maps.json').write_text(json.dumps(summary, indent=2))
    print(f"RATSViT-{args.arch}: {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{model.num_registers} registers, patch grid {tuple(f['patch_hw'])}")
    print(f'wrote {out / "register_maps.png"} and {out / "register_maps.json"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
