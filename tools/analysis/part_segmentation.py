#!/usr/bin/env python
"""Unsupervised part segmentation of a backbone on part datasets (paper §4.2 Table 1, §4.5 Table 5, Figure 7).

    python tools/analysis/part_segmentation.py --dataset-type ade20k --data-root data/ade/ADEChallengeData2016 \\
        [--dataset-type ... --data-root ...] [--checkpoint PATH] [--arch small] [--mode rats|mhsa]
        [--method registers|cls-attn|register-attn] [--img-size 512] [--top-k 50] [--sigma 1.0]
        [--batch-size 8] [--max-images N] [--show-dir DIR] [--sweep] [--out-dir work_dirs/part_segmentation]

For every image: the backbone's candidate maps (RATS: register-patch cosine
similarity, Eq. 7; DINO ViT: [CLS] attention per head; ViT + registers: each
register's attention), the top-K by peak, Gaussian smoothing (std ``--sigma``
patch cells), bilinear upsampling to the input size, argmax; then many-to-one
mIoU, one-to-one mIoU and ARI against the ground truth resized (nearest) to
the input size, per image, averaged over images (``mmrats.evaluation``).
Prints and writes ``results.json`` and ``results.md`` (a Table-1-style row:
M2O per dataset, their mean, mean ARI; then per-dataset details with the
measured images/s and the time 2,000 images would take). ``--show-dir``
writes overlay pictures (and, for RATS, per-head compress attention,
Appendix D); ``--sweep`` evaluates ``--sweep-sizes`` and ``--sweep-top-k``
and plots them (``sweep_resolution.png``, ``sweep_top_k.png``). Without
``--checkpoint`` the backbone is randomly initialised. Bad input: one line on
stderr and exit code 2.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mmrats.apis import BackboneLoadError, backbone_config, load_backbone, untrained_backbone
from mmrats.datasets.part_datasets import PART_DATASETS, PartDatasetError, build_part_dataset
from mmrats.evaluation.part_benchmark import evaluate_part_dataset
from mmrats.evaluation.part_metrics import AVERAGING, METRICS, part_scores
from mmrats.evaluation.part_segmentation import METHODS, PartSegmenter, compress_attention_maps
from mmrats.utils.cli import InputError
from mmrats.utils.console import track
from mmrats.visualization.part_pictures import draw_head_attention, draw_part_segmentation, plot_sweep

SPLITS = dict(ade20k='validation', synthetic='validation', partimagenet='test', **{'imagenet-s': 'validation'})


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset-type', nargs='+', required=True, choices=sorted(PART_DATASETS))
    p.add_argument('--data-root', nargs='+', required=True, help='one per --dataset-type')
    p.add_argument('--split', default=None, help='dataset split (default: the paper\'s evaluation split)')
    p.add_argument('--ignore-value', type=int, default=255, help='folder type: stored label id to ignore')
    p.add_argument('--checkpoint', default=None, help='RATSViT backbone checkpoint (loaded strictly)')
    p.add_argument('--checkpoint-prefix', default=None, help="key prefix to strip, e.g. 'backbone.'")
    p.add_argument('--arch', default=None, help='small, base, tiny, or a JSON dict (embed_dims, ...); default: '
                   "the checkpoint's meta.backbone (written by tools/model_converters), else small")
    p.add_argument('--mode', default=None, choices=['rats', 'mhsa'], help="default: as --arch's source, else rats")
    p.add_argument('--num-registers', type=int, default=None)
    p.add_argument('--method', default=None, choices=METHODS, help='default: registers (rats), '
                   'register-attn (mhsa with registers), cls-attn (mhsa)')
    p.add_argument('--name', default=None, help='row name in the table')
    p.add_argument('--img-size', type=int, default=512, help='square input side, a multiple of the patch size')
    p.add_argument('--patch-size', type=int, default=None,
                   help="default: the checkpoint's meta.backbone (e.g. 8 for the lab-scale models), else 16")
    p.add_argument('--top-k', type=int, default=50)
    p.add_argument('--sigma', type=float, default=1.0, help='Gaussian std in patch cells (0: none)')
    p.add_argument('--batch-size', type=int, default=8)
    p.add_argument('--workers', type=int, default=0)
    p.add_argument('--max-images', type=int, default=None)
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--show-dir', default=None, help='write overlay pictures here')
    p.add_argument('--show-num', type=int, default=8, help='pictures per dataset')
    p.add_argument('--heads', type=int, nargs='+', default=[0, 1, 2], help='heads of the Appendix-D pictures')
    p.add_argument('--sweep', action='store_true', help='also sweep resolution and top-K, with plots')
    p.add_argument('--sweep-sizes', type=int, nargs='+', default=[224, 320, 448, 512, 640, 768, 1024])
    p.add_argument('--sweep-top-k', type=int, nargs='+', default=[10, 30, 50, 80])
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out-dir', default='work_dirs/part_segmentation')
    return p.parse_args(argv)


def prepare(args) -> tuple[torch.nn.Module, list]:
    """Check the input and build the backbone and readers; raise :class:`InputError` on bad input."""
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise InputError(f'--device {args.device}: no CUDA device on this machine; use --device cpu')
    if len(args.dataset_type) != len(args.data_root):
        raise InputError(f'{len(args.dataset_type)} --dataset-type but {len(args.data_root)} --data-root')
    counts = [args.top_k, args.batch_size, 1 if args.max_images is None else args.max_images]
    if min(counts + (args.sweep_top_k if args.sweep else [])) < 1:
        raise InputError('--top-k, --sweep-top-k, --batch-size and --max-images must be >= 1')
    given = dict(arch=args.arch, mode=args.mode, num_registers=args.num_registers, patch_size=args.patch_size)
    given = {k: v for k, v in given.items() if v is not None}
    try:
        meta = backbone_config(args.checkpoint) if args.checkpoint and Path(args.checkpoint).is_file() else {}
    except BackboneLoadError:  # reported with the loading error below
        meta = {}
    if args.patch_size is None:
        args.patch_size = int(meta.get('patch_size', 16))
    for size in [args.img_size] + (args.sweep_sizes if args.sweep else []):
        if size <= 0 or size % args.patch_size:
            raise InputError(f'image size {size} is not a positive multiple of the patch size {args.patch_size} '
                             '(--img-size, --sweep-sizes)')
    if args.arch is None:
        args.arch = json.dumps(meta['arch']) if isinstance(meta.get('arch'), dict) else meta.get('arch', 'small')
    try:
        arch = json.loads(args.arch) if args.arch.lstrip().startswith('{') else args.arch
    except json.JSONDecodeError as e:
        raise InputError(f'--arch {args.arch!r} is not valid JSON: {e}') from None
    if 'arch' in given:
        given['arch'] = arch
    try:
        if args.checkpoint:  # the file's own architecture, with what the command line gives over it
            model = load_backbone(args.checkpoint, prefix=args.checkpoint_prefix, img_size=args.img_size, **given)
        else:
            model = untrained_backbone(dict(arch=arch, mode=args.mode or 'rats', img_size=args.img_size,
                                            patch_size=args.patch_size, num_registers=args.num_registers),
                                       seed=args.seed)
        PartSegmenter(model, args.method)  # checks the method against the backbone
    except BackboneLoadError as e:
        if not args.checkpoint:  # the architecture given on the command line
            raise InputError(str(e)) from None
        # a missing, corrupt or mismatched checkpoint, in one line
        lines = [' '.join(line.split()) for line in str(e).splitlines() if line.strip()]
        short = ' '.join(line if len(line) <= 200 else line[:200] + ' ...' for line in lines)
        raise InputError(f'cannot load --checkpoint {args.checkpoint!r}: {short}') from None
    except (ValueError, TypeError) as e:
        raise InputError(str(e)) from None
    readers = []
    for kind, root in zip(args.dataset_type, args.data_root):
        kw = dict(ignore_value=None if args.ignore_value < 0 else args.ignore_value) if kind == 'folder' \
            else dict(split=args.split or SPLITS[kind])
        try:
            readers.append(build_part_dataset(kind, root, **kw))
        except PartDatasetError as e:
            raise InputError(str(e)) from None
    names = [r.name for r in readers]
    for i, r in enumerate(readers):
        if names.count(r.name) > 1:  # e.g. two folders: keep the table's columns apart
            r.name = f'{r.name}-{i}'
    return model.eval().to(args.device), readers


def evaluate(seg: PartSegmenter, reader, args, size: int, top_ks: list[int], show_dir: Path | None = None) -> dict:
    """Metrics of every K in ``top_ks`` at ``size``, with throughput; pictures of the first images."""
    shown = 0

    def pictures(x, img, gt, outs) -> None:
        nonlocal shown
        if show_dir is not None and shown < args.show_num:
            n = min(args.show_num - shown, len(x))
            main_out = outs[top_ks.index(seg.top_k)] if seg.top_k in top_ks else outs[0]
            show(seg, x[:n], img[:n].numpy(), gt[:n].numpy(), main_out, reader, shown, show_dir, args)
            shown += n

    return evaluate_part_dataset(seg, reader, size, top_ks, args.batch_size, args.workers, args.max_images,
                                 args.device, pictures, lambda loader: track(loader, 'parts'))


def show(seg, x, images, gts, out, reader, start, show_dir: Path, args) -> None:
    """Overlay pictures (and RATS per-head compress attention) of a few images."""
    show_dir.mkdir(parents=True, exist_ok=True)
    comp = compress_attention_maps(seg.backbone, x.to(args.device)).cpu().numpy() \
        if seg.backbone.mode == 'rats' else None
    heads = [h for h in args.heads if h < seg.backbone.num_heads]
    for i in range(len(x)):
        j = start + i
        stem = f'{reader.name}_{j:04d}_{Path(reader.items[j][0]).stem}'
        lab = out.labels[i].cpu().numpy()
        s = part_scores(lab, gts[i])
        score = 'all ignored' if s is None else ', '.join(f'{m.upper()} {100 * s[m]:.1f}' for m in METRICS)
        title = f'{args.row_name} on {reader.name}, {seg.method}, top-{seg.top_k}, sigma {seg.sigma}: {score}'
        Image.fromarray(draw_part_segmentation(images[i], lab, out.maps[i].cpu().numpy(),
                                               out.indices[i].cpu().numpy(), gts[i], title)).save(
            show_dir / f'{stem}.png')
        if comp is not None and heads:
            Image.fromarray(draw_head_attention(images[i], comp[i], heads, 2,
                                                f'{args.row_name}: last-block compress attention')).save(
                show_dir / f'{stem}_heads.png')


def markdown(summary: dict) -> str:
    """Table-1-style row, per-dataset details, sweep tables."""
    names = list(summary['datasets'])
    d = summary['datasets']
    lines = [f"## Part segmentation: {summary['model']['name']}", '',
             f"{summary['settings']['img_size']}x{summary['settings']['img_size']}, method "
             f"{summary['model']['method']}, top-{summary['settings']['top_k']}, sigma {summary['settings']['sigma']}; "
             f'{AVERAGING}.', '',
             '| Method | Backbone | #Register | ' + ' | '.join(names) + ' | Avg | ARI |',
             '|---' * (len(names) + 5) + '|',
             f"| {summary['model']['name']} | {summary['model']['backbone']} | {summary['model']['num_registers']} | "
             + ' | '.join(f"{d[n]['m2o']:.1f}" for n in names)
             + f" | {summary['row']['avg_m2o']:.1f} | {summary['row']['avg_ari']:.1f} |", '',
             '| Dataset | images | M2O | O2O | ARI | images/s | 2,000 images |', '|---|---|---|---|---|---|---|']
    for n in names:
        t = d[n]['timing']
        lines.append(f"| {n} | {d[n]['num_images']} | {d[n]['m2o']:.1f} | {d[n]['o2o']:.1f} | {d[n]['ari']:.1f} | "
                     f"{t['images_per_s']:.2f} | {t['seconds_for_2000_images'] / 60:.1f} min |")
    for key, label in (('resolution', 'resolution'), ('top_k', 'top-K')):
        sw = summary.get('sweep', {}).get(key)
        if sw:
            lines += ['', f'### Sweep over {label}', '', f'| Dataset | metric | ' + ' | '.join(map(str, sw['values']))
                      + ' |', '|---' * (len(sw['values']) + 2) + '|']
            lines += [f'| {n} | {m} | ' + ' | '.join(f'{v:.1f}' for v in sw['curves'][n][m]) + ' |'
                      for n in names for m in METRICS]
    return '\n'.join(lines) + '\n'


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        model, readers = prepare(args)
    except InputError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    seg = PartSegmenter(model, args.method, args.top_k, args.sigma)
    kind = 'RATS' if model.mode == 'rats' else 'ViT'
    arch = args.arch if not args.arch.lstrip().startswith('{') else 'custom'
    args.row_name = args.name or f"{kind}-{arch} ({Path(args.checkpoint).name if args.checkpoint else 'random init'})"
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    top_ks = sorted({args.top_k, *(args.sweep_top_k if args.sweep else [])})
    summary = dict(model=dict(name=args.row_name, backbone=f'{kind}-{arch}/{args.patch_size}', arch=args.arch,
                              mode=model.mode,
                              num_registers=model.num_registers, method=seg.method, checkpoint=args.checkpoint,
                              params=sum(p.numel() for p in model.parameters())),
                   settings=dict(img_size=args.img_size, top_k=args.top_k, sigma=args.sigma, batch_size=args.batch_size,
                                 max_images=args.max_images, device=args.device, averaging=AVERAGING,
                                 ground_truth='resized (nearest) to the input size'),
                   datasets={}, sweep={})
    print(f"{args.row_name}: {summary['model']['params']:,} parameters, method {seg.method}, "
          f'{args.img_size}x{args.img_size}, top-{args.top_k}, sigma {args.sigma}, device {args.device}')
    curves_k = {}
    for reader in readers:
        show_dir = Path(args.show_dir) if args.show_dir else None
        r = evaluate(seg, reader, args, args.img_size, top_ks, show_dir)
        summary['datasets'][reader.name] = dict(r['per_k'][args.top_k], timing=r['timing'], root=str(reader.root))
        curves_k[reader.name] = {m: [r['per_k'][k][m] for k in top_ks] for m in METRICS}
        t, s = r['timing'], r['per_k'][args.top_k]
        print(f"{reader.name}: M2O {s['m2o']:.1f}  O2O {s['o2o']:.1f}  ARI {s['ari']:.1f}  ({s['num_images']} images"
              f"{', %d all-ignored skipped' % s['num_skipped'] if s['num_skipped'] else ''}); {t['images']} images in "
              f"{t['seconds']:.1f} s = {t['images_per_s']:.2f} images/s end to end (model + segmentation "
              f"{t['model_images_per_s']:.2f} images/s) -> 2,000 images at {args.img_size}: "
              f"{t['seconds_for_2000_images'] / 60:.1f} min")
    d = summary['datasets']
    summary['row'] = dict(avg_m2o=float(np.mean([v['m2o'] for v in d.values()])),
                          avg_ari=float(np.mean([v['ari'] for v in d.values()])))
    if args.sweep:
        summary['sweep']['top_k'] = dict(values=top_ks, img_size=args.img_size, curves=curves_k)
        curves_r = {reader.name: {m: [] for m in METRICS} for reader in readers}
        for size in args.sweep_sizes:
            for reader in readers:
                r = evaluate(seg, reader, args, size, [args.top_k])['per_k'][args.top_k]
                for m in METRICS:
                    curves_r[reader.name][m].append(r[m])
            print(f'sweep {size}: ' + ', '.join(f"{n} M2O {c['m2o'][-1]:.1f} ARI {c['ari'][-1]:.1f}"
                                                for n, c in curves_r.items()))
        summary['sweep']['resolution'] = dict(values=args.sweep_sizes, top_k=args.top_k, curves=curves_r)
        for key, xlabel in (('resolution', 'input resolution'), ('top_k', 'top-K')):
            sw = summary['sweep'][key]
            png = plot_sweep(sw['values'], sw['curves'], xlabel, f'{args.row_name}: part segmentation vs {xlabel}')
            Image.fromarray(png).save(out_dir / f'sweep_{key}.png')
    (out_dir / 'results.json').write_text(json.dumps(summary, indent=2))
    md = markdown(summary)
    (out_dir / 'results.md').write_text(md)
    print(md)
    print(f"wrote {out_dir / 'results.json'} and {out_dir / 'results.md'}"
          + (' and sweep_*.png' if args.sweep else '') + (f'; pictures in {args.show_dir}' if args.show_dir else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
