#!/usr/bin/env python
"""Token diagnostics of a backbone: token norms per layer (Darcet et al.), LaSt-ViT's patch score, Point-in-Box
and masking test, LaSt-ViT vote counts, part discovery; JSON + markdown + pictures.

    python tools/analysis/token_diagnostics.py --checkpoint work_dirs/.../teacher_backbone.pth --name ViT \\
        [--global-repr auto|cls|registers|lastvit] [--lastvit-top-k 0.25] [--lastvit-sigma S]
        [--num-images 200] [--knn-train 1000] [--img-size 96] [--mask-ratio 0.25]
        [--coco-root data/synthetic/coco --coco-split val] [--out-dir work_dirs/token_diagnostics/NAME]
    python tools/analysis/token_diagnostics.py --table OUT.md DIR_OR_JSON [DIR_OR_JSON ...]

``--checkpoint`` is any weights file :func:`mmrats.apis.load_backbone` reads: a
backbone written by ``tools/model_converters/dino2backbone.py`` (its
``meta.backbone``) or a DINO training checkpoint (``tools/train.py``: the
teacher is taken), among others. The global representation defaults to the
one the model was pretrained with: the DINO config's ``model.global_repr``
(and ``model.lastvit``), read from the training checkpoint or from the one a
backbone was converted from, else [CLS] (ViT) or the registers' mean (RATS). Without ``--checkpoint``
the backbone is randomly initialised (``--arch``, ``--mode``, ...).

Data: the first ``--num-images`` ``test`` images of the part-structured objects
(``mmrats.datasets.part_objects``, dataset seed ``--seed``) at ``--img-size``,
with their object boxes, categories and part labels; ``--knn-train`` ``train``
images are the k-NN references. ``--coco-root`` adds Point-in-Box (and norms)
on a COCO-layout folder (``annotations/instances_<split>2017.json`` and
``<split>2017/``), images resized to the same square size, boxes with them.

Bad input: one line on stderr, exit code 2. The measurements, pictures and report are
``mmrats.evaluation.token_diagnostics_{data,run,report}`` and ``mmrats.visualization.token_pictures``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from PIL import Image

from mmrats.apis import BackboneLoadError, load_backbone, read_backbone_weights, untrained_backbone
from mmrats.evaluation.token_diagnostics_data import DiagnosticDataError, coco_images, part_objects_images
from mmrats.evaluation.token_diagnostics_report import markdown, table_markdown
from mmrats.evaluation.token_diagnostics_run import masking_test, norm_summary, norms_of, part_discovery, pib_of
from mmrats.models import RATSViT
from mmrats.models.utils import LaStViTAggregation
from mmrats.models.utils.global_repr import GLOBAL_REPRS, resolve_global_repr
from mmrats.models.utils.lastvit_aggregation import resolve_top_k
from mmrats.utils.cli import InputError, report_input_error
from mmrats.visualization.token_pictures import draw_norm_histograms, draw_token_maps


def parse_top_k(text: str) -> int | float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    return int(v) if v >= 1 and v == int(v) and '.' not in text else v


def _one_line(error: Exception) -> str:
    return '; '.join(line.strip() for line in str(error).splitlines() if line.strip())


def load_model(args) -> tuple[RATSViT, dict]:
    """The backbone and what its file says about its pretraining (``global_repr``, ``lastvit``)."""
    info: dict = dict(checkpoint=args.checkpoint, pretrained_global_repr=None, lastvit=None, source=None)
    if not args.checkpoint:
        try:
            arch = json.loads(args.arch) if args.arch.lstrip().startswith('{') else args.arch
            model = untrained_backbone(dict(arch=arch, mode=args.mode, img_size=args.img_size,
                                            patch_size=args.patch_size, num_registers=args.num_registers),
                                       seed=args.init_seed)
        except (BackboneLoadError, json.JSONDecodeError) as e:
            raise InputError(f'cannot build the backbone (--arch/--mode/--num-registers): {_one_line(e)}') from None
        info['source'] = 'random init'
        return model, info
    path = Path(args.checkpoint)
    if not path.is_file():
        raise InputError(f'--checkpoint {path} does not exist')
    try:
        weights = read_backbone_weights(path, 'teacher')
        model = load_backbone(weights)
    except BackboneLoadError as e:
        raise InputError(f'cannot load --checkpoint: {_one_line(e)}') from None
    info['source'] = weights.source
    if weights.pretraining is not None:
        info['pretrained_global_repr'] = weights.pretraining.get('global_repr', 'auto')
        info['lastvit'] = weights.pretraining.get('lastvit')
    return model, info


def table(out: str, inputs: list[str]) -> int:
    """``--table``: the rows of earlier runs in one markdown table."""
    results = []
    for p in inputs:
        path = Path(p) / 'results.json' if Path(p).is_dir() else Path(p)
        if not path.is_file():
            return report_input_error(InputError(f'--table input {p}: no results.json there (run the tool with '
                                                 f'--out-dir {p} first)'))
        results.append(json.loads(path.read_text()))
    text = table_markdown(results)
    Path(out).write_text(text)
    print(text)
    return 0


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--table', nargs='+', metavar=('OUT_MD', 'RESULTS'), default=None,
                   help='combine the rows of earlier runs (folders or results.json) into OUT_MD, then exit')
    p.add_argument('--checkpoint', default=None,
                   help='backbone (dino2backbone.py), DINO training checkpoint, any file load_backbone reads')
    p.add_argument('--name', default=None, help='row name (default: from the checkpoint path)')
    p.add_argument('--arch', default='tiny', help='random init only: small, base, tiny or a JSON dict')
    p.add_argument('--mode', default='rats', choices=['rats', 'mhsa'], help='random init only')
    p.add_argument('--num-registers', type=int, default=None, help='random init only')
    p.add_argument('--patch-size', type=int, default=8, help='random init only')
    p.add_argument('--init-seed', type=int, default=0, help='random init only: torch seed of the initialisation')
    p.add_argument('--global-repr', default=None, choices=GLOBAL_REPRS,
                   help='default: as pretrained (the DINO config), else auto ([CLS] or the registers\' mean)')
    p.add_argument('--lastvit-top-k', type=parse_top_k, default=None,
                   help='LaSt-ViT K (int) or share (float); default: the DINO config\'s, else 0.25')
    p.add_argument('--lastvit-sigma', type=float, default=None,
                   help='low-pass width; default: the config\'s or sqrt(C)')
    p.add_argument('--num-images', type=int, default=200)
    p.add_argument('--knn-train', type=int, default=1000)
    p.add_argument('--knn-k', type=int, default=10)
    p.add_argument('--img-size', type=int, default=96)
    p.add_argument('--seed', type=int, default=0, help='dataset seed of the part-structured objects')
    p.add_argument('--mask-ratio', type=float, default=0.25, help='share of the patches removed in the masking test')
    p.add_argument('--parts-top-k', type=int, default=8, help='K of the part-discovery M2O (0: skip)')
    p.add_argument('--coco-root', default=None, help='also Point-in-Box on this COCO-layout folder')
    p.add_argument('--coco-split', default='val')
    p.add_argument('--min-ratio', type=float, default=2.0, help='outlier rule: upper/lower mean norm at least this')
    p.add_argument('--max-share', type=float, default=0.5, help='outlier rule: upper class share below this')
    p.add_argument('--outlier-threshold', type=float, default=None, help='a fixed norm threshold instead of the rule')
    p.add_argument('--batch-size', type=int, default=100)
    p.add_argument('--pictures', type=int, default=6, help='images in the map picture (0: no pictures)')
    p.add_argument('--out-dir', default=None, help='default: work_dirs/token_diagnostics/<name>')
    return p.parse_args(argv)


def check(args) -> None:
    for key in ('num_images', 'knn_train', 'knn_k', 'batch_size'):
        if getattr(args, key) < 1:
            raise InputError(f"--{key.replace('_', '-')} must be >= 1, got {getattr(args, key)}")
    if not 0 < args.mask_ratio < 1:
        raise InputError(f'--mask-ratio must be in (0, 1), got {args.mask_ratio}')
    if args.img_size <= 0:
        raise InputError(f'--img-size must be > 0, got {args.img_size}')
    if args.lastvit_sigma is not None and args.lastvit_sigma <= 0:
        raise InputError(f'--lastvit-sigma must be > 0, got {args.lastvit_sigma}')


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.table is not None:
        if len(args.table) < 2:
            return report_input_error(InputError('--table needs OUT_MD and at least one results folder or '
                                                 'results.json'))
        return table(args.table[0], args.table[1:])
    t0 = time.perf_counter()
    try:
        check(args)
        model, info = load_model(args)
        if args.img_size % model.patch_size:
            raise InputError(f'--img-size {args.img_size} is not a multiple of the patch size {model.patch_size}')
        global_repr = args.global_repr or info['pretrained_global_repr'] or 'auto'
        global_repr = resolve_global_repr(model, global_repr)
        lv = dict(info['lastvit'] or {})
        lv.setdefault('top_k', 0.25)
        if args.lastvit_top_k is not None:
            lv['top_k'] = args.lastvit_top_k
        if args.lastvit_sigma is not None:
            lv['sigma'] = args.lastvit_sigma
        lastvit = LaStViTAggregation(**lv)
        num_patches = (args.img_size // model.patch_size) ** 2
        resolve_top_k(lastvit.top_k, num_patches)
        try:
            coco = coco_images(args.coco_root, args.coco_split, args.num_images, args.img_size) \
                if args.coco_root else None
        except DiagnosticDataError as e:
            raise InputError(f'--coco-root {args.coco_root}: {e}') from None
    except (InputError, ValueError) as e:
        return report_input_error(e)
    name = args.name or (Path(args.checkpoint).parent.name if args.checkpoint else f'{model.mode}-random')
    out_dir = Path(args.out_dir or f'work_dirs/token_diagnostics/{name}')
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    seconds = {}
    t = time.perf_counter()
    test = part_objects_images(args.num_images, 'test', args.seed, args.img_size)
    train = part_objects_images(args.knn_train, 'train', args.seed, args.img_size)
    seconds['data'] = time.perf_counter() - t
    kind = ('RATS' if model.mode == 'rats' else 'ViT') + (f' + {model.num_registers} registers'
                                                          if model.mode == 'mhsa' and model.num_registers else '')
    print(f'{name}: {kind}, global representation {global_repr}, {len(test)} test images, '
          f'{len(train)} k-NN references, data drawn in {seconds["data"]:.1f} s')

    t = time.perf_counter()
    datasets = [test] + ([coco] if coco is not None else [])
    keys = ['part-objects'] + (['coco'] if coco is not None else [])
    norms = {k: norms_of(model, d, args.batch_size) for k, d in zip(keys, datasets)}
    layers = {k: norm_summary(v, args.min_ratio, args.max_share, args.outlier_threshold) for k, v in norms.items()}
    seconds['norms'] = time.perf_counter() - t

    t = time.perf_counter()
    pib, feats = {}, {}
    pib['part-objects'], feats['part-objects'] = pib_of(model, test, global_repr, lastvit, args.batch_size)
    if coco is not None:
        pib['coco'], feats['coco'] = pib_of(model, coco, global_repr, lastvit, args.batch_size)
    seconds['pib'] = time.perf_counter() - t

    t = time.perf_counter()
    f = feats['part-objects']
    masking = masking_test(model, train, test, f['scores'], f['g'], global_repr, lastvit, args.mask_ratio,
                           args.knn_k, args.batch_size)
    seconds['masking'] = time.perf_counter() - t

    parts = None
    if args.parts_top_k > 0:
        t = time.perf_counter()
        parts = part_discovery(model, test, args.parts_top_k, args.batch_size)
        seconds['parts'] = time.perf_counter() - t

    if args.pictures > 0:
        t = time.perf_counter()
        for key, d in zip(norms, datasets):
            pic = draw_norm_histograms(norms[key], layers[key], f'{name}: token norms per layer ({d.name})')
            Image.fromarray(pic).save(out_dir / f'norm_histograms_{key}.png')
            n, (h, w), fk = min(args.pictures, len(d)), feats[key]['hw'], feats[key]
            pic = draw_token_maps(d.images[:n], d.boxes[:n], norms[key]['patches'][-2][:n].reshape(n, h, w),
                                  fk['scores'][:n].reshape(n, h, w).numpy(), fk['votes'][:n].reshape(n, h, w).numpy(),
                                  fk['top'][:n], model.patch_size, f'{name}: global repr. {global_repr} ({d.name})')
            Image.fromarray(pic).save(out_dir / f'maps_{key}.png')
        seconds['pictures'] = time.perf_counter() - t
    seconds['total'] = time.perf_counter() - t0

    res = dict(name=name, global_repr=global_repr,
               model=dict(kind=kind, mode=model.mode, num_registers=model.num_registers,
                          with_cls_token=model.with_cls_token, patch_size=model.patch_size,
                          params=sum(p.numel() for p in model.parameters()), **info),
               settings=dict(num_images=args.num_images, knn_train=args.knn_train, knn_k=args.knn_k,
                             img_size=args.img_size, seed=args.seed, mask_ratio=args.mask_ratio,
                             lastvit=dict(top_k=lastvit.top_k, sigma=lastvit.sigma, eps=lastvit.eps),
                             coco_root=args.coco_root, coco_split=args.coco_split, min_ratio=args.min_ratio,
                             max_share=args.max_share, outlier_threshold=args.outlier_threshold,
                             command='python tools/analysis/token_diagnostics.py ' + ' '.join(sys.argv[1:])
                             if argv is None else 'python tools/analysis/token_diagnostics.py ' + ' '.join(argv)),
               norms=layers, pib=pib, masking=masking, parts=parts, seconds=seconds)
    (out_dir / 'results.json').write_text(json.dumps(res, indent=2))
    md = markdown(res)
    (out_dir / 'results.md').write_text(md)
    print(md)
    print(f"wrote {out_dir / 'results.json'}, {out_dir / 'results.md'}"
          + (f' and pictures in {out_dir}' if args.pictures > 0 else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
