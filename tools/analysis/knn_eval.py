#!/usr/bin/env python
"""k-NN accuracy of a pretrained backbone on ImageNet (or any ImageFolder), DINO's protocol: is the run healthy?

    python tools/analysis/knn_eval.py CHECKPOINT --data-root data/imagenet [--train-split train --val-split val]
        [--k 20] [--temperature 0.07] [--img-size 224] [--batch-size 64] [--max-per-class N]
        [--val-max-per-class M] [--num-workers 8] [--global-repr auto] [--which teacher] [--device cuda]
        [--out-dir work_dirs/knn/NAME]

CHECKPOINT is any weights file ``mmrats.apis.load_backbone`` reads (a DINO
checkpoint of ``tools/train.py``: its teacher; an extracted or converted
backbone). ``DATA_ROOT/<split>/<class>/<image>`` is the layout of the
ImageNet configs. Every image's centre view (shorter side 256, centre 224)
goes through the backbone; the global representation (RATS: the registers'
mean; ViT: [CLS]) of the train images is the bank, that of the val images
the queries; 20 neighbours vote with weight ``exp(cos / 0.07)``
(``mmrats.apis.knn_evaluate``). DINO's ViT-S/16 reference: vanilla 100 epochs
69.3 % top-1 (``configs/dino/dino_vit-s16-vanilla_8xb64-100e_in1k-224.py``).
``--max-per-class`` takes the first N images of each class of both splits
(a quick check during a run), ``--val-max-per-class`` the val split's own M
(``--max-per-class 20 --val-max-per-class 10``: the subset of the k-NN
validation during pretraining, ``mmrats.KNNValidationHook``).
``--num-workers`` processes read the images. Prints and writes
``results.json``. Bad input: one ``error:`` line, exit code 2.
"""
import argparse
import json
import os
import sys
from pathlib import Path

import torch

from mmrats.apis import BackboneLoadError, knn_evaluate, load_backbone
from mmrats.models.utils.global_repr import GLOBAL_REPRS
from mmrats.utils.cli import InputError, report_input_error
from mmrats.utils.console import track


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('checkpoint', help='any backbone weights file (a DINO checkpoint: its teacher)')
    p.add_argument('--data-root', required=True, help='ImageFolder root: DATA_ROOT/<split>/<class>/<image>')
    p.add_argument('--train-split', default='train')
    p.add_argument('--val-split', default='val')
    p.add_argument('--k', type=int, default=20)
    p.add_argument('--temperature', type=float, default=0.07)
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--max-per-class', type=int, default=None, help='the first N images of each class only')
    p.add_argument('--val-max-per-class', type=int, default=None, help='the val split\'s own N (default: as train)')
    p.add_argument('--num-workers', type=int, default=min(8, os.cpu_count() or 1),
                   help='processes that read the images (0: this one; default: 8, or the cores if fewer)')
    p.add_argument('--global-repr', default='auto', choices=GLOBAL_REPRS[:3],
                   help="auto: [CLS] for a ViT, the registers' mean for RATS (what DINO trains)")
    p.add_argument('--which', default='teacher', choices=['teacher', 'student'], help='of a DINO checkpoint')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--out-dir', default=None, help='default: work_dirs/knn/<checkpoint stem>')
    return p.parse_args(argv)


def run(args) -> dict:
    for key in ('k', 'batch_size', 'img_size'):
        if getattr(args, key) < 1:
            raise InputError(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    for key in ('max_per_class', 'val_max_per_class'):
        if getattr(args, key) is not None and getattr(args, key) < 1:
            raise InputError(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    if args.num_workers < 0:
        raise InputError(f'--num-workers must be >= 0, got {args.num_workers}')
    if args.temperature <= 0:
        raise InputError(f'--temperature must be > 0, got {args.temperature}')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise InputError(f'--device {args.device}: no CUDA device on this machine; use --device cpu')
    try:
        backbone = load_backbone(args.checkpoint, args.which, device=args.device, img_size=args.img_size)
    except BackboneLoadError as e:
        raise InputError(' '.join(str(e).split())) from None
    try:
        return knn_evaluate(backbone, args.data_root, args.train_split, args.val_split, args.k, args.temperature,
                            args.img_size, args.batch_size, args.max_per_class, args.global_repr,
                            progress=lambda batches: track(batches, 'knn'),
                            val_max_per_class=args.val_max_per_class, num_workers=args.num_workers)
    except (FileNotFoundError, ValueError) as e:
        raise InputError(str(e)) from None


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        res = run(args)
    except InputError as e:
        return report_input_error(e)
    res.update(checkpoint=str(args.checkpoint), which=args.which)
    out = Path(args.out_dir or f'work_dirs/knn/{Path(args.checkpoint).stem}')
    out.mkdir(parents=True, exist_ok=True)
    (out / 'results.json').write_text(json.dumps(res, indent=2))
    print(f"{args.checkpoint}: k-NN (k={res['k']}, T={res['temperature']}, {res['global_repr']}) top-1 "
          f"{res['top1']:.2f} %, top-5 {res['top5']:.2f} % ({res['num_test']} queries, {res['num_train']} "
          f"references, {res['num_classes']} classes); wrote {out / 'results.json'}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
