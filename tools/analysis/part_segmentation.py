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
the input size, per image, averaged over images (``mmrats.apis.evaluate_parts``).
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

import torch
from PIL import Image

from mmrats.apis import BackboneLoadError, evaluate_parts, load_backbone, read_backbone_weights, untrained_backbone
from mmrats.datasets.part_datasets import PART_DATASETS, PartDatasetError, build_part_dataset
from mmrats.evaluation.part_report import part_markdown
from mmrats.evaluation.part_segmentation import METHODS, PartSegmenter
from mmrats.utils.cli import InputError, report_input_error
from mmrats.utils.console import track
from mmrats.visualization.part_pictures import plot_sweep

SPLITS = dict(ade20k='validation', synthetic='validation', partimagenet='test', **{'imagenet-s': 'validation'})


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--dataset-type', nargs='+', required=True, choices=sorted(PART_DATASETS))
    p.add_argument('--data-root', nargs='+', required=True, help='one per --dataset-type')
    p.add_argument('--split', default=None, help='dataset split (default: the paper\'s evaluation split)')
    p.add_argument('--ignore-value', type=int, default=255, help='folder type: stored label id to ignore')
    p.add_argument('--image-dir', default='images', help='folder type: the images under --data-root')
    p.add_argument('--mask-dir', default='masks', help='folder type: the label PNGs under --data-root '
                   '(SAM 2.1 masks of tools/dataset_converters/sam_masks.py: sam2.1_masks/<split>, --ignore-value 0)')
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


def checkpoint_error(args, error: Exception) -> InputError:
    """A missing, corrupt or mismatched ``--checkpoint``, in one line."""
    lines = [' '.join(line.split()) for line in str(error).splitlines() if line.strip()]
    short = ' '.join(line if len(line) <= 200 else line[:200] + ' ...' for line in lines)
    return InputError(f'cannot load --checkpoint {args.checkpoint!r}: {short}')


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
    weights = None  # the checkpoint, read once: its architecture gives the defaults, its tensors the model
    if args.checkpoint:
        try:
            weights = read_backbone_weights(args.checkpoint, prefix=args.checkpoint_prefix)
        except BackboneLoadError as e:
            raise checkpoint_error(args, e) from None
    meta = weights.config if weights is not None else {}
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
        if weights is not None:  # the file's own architecture, with what the command line gives over it
            model = load_backbone(weights, img_size=args.img_size, **given)
        else:
            model = untrained_backbone(dict(arch=arch, mode=args.mode or 'rats', img_size=args.img_size,
                                            patch_size=args.patch_size, num_registers=args.num_registers),
                                       seed=args.seed)
        PartSegmenter(model, args.method)  # checks the method against the backbone
    except BackboneLoadError as e:
        if weights is None:  # the architecture given on the command line
            raise InputError(str(e)) from None
        raise checkpoint_error(args, e) from None
    except (ValueError, TypeError) as e:
        raise InputError(str(e)) from None
    readers = []
    for kind, root in zip(args.dataset_type, args.data_root):
        kw = dict(ignore_value=None if args.ignore_value < 0 else args.ignore_value, img_dir=args.image_dir,
                  mask_dir=args.mask_dir) if kind == 'folder' else dict(split=args.split or SPLITS[kind])
        try:
            readers.append(build_part_dataset(kind, root, **kw))
        except PartDatasetError as e:
            raise InputError(str(e)) from None
    names = [r.name for r in readers]
    for i, r in enumerate(readers):
        if names.count(r.name) > 1:  # e.g. two folders: keep the table's columns apart
            r.name = f'{r.name}-{i}'
    return model.eval().to(args.device), readers


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        model, readers = prepare(args)
    except InputError as e:
        return report_input_error(e)
    arch = args.arch if not args.arch.lstrip().startswith('{') else 'custom'
    sweep = dict(sweep_sizes=args.sweep_sizes, sweep_top_k=args.sweep_top_k) if args.sweep else {}
    summary = evaluate_parts(model, readers, args.img_size, args.top_k, args.method, args.sigma, args.batch_size,
                             args.workers, args.max_images, args.name, arch, args.checkpoint, args.show_dir,
                             args.show_num, args.heads, progress=lambda loader: track(loader, 'parts'), **sweep)
    summary['model']['arch'] = args.arch
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for key, xlabel in (('resolution', 'input resolution'), ('top_k', 'top-K')):
        if key in summary['sweep']:
            sw = summary['sweep'][key]
            png = plot_sweep(sw['values'], sw['curves'], xlabel,
                             f"{summary['model']['name']}: part segmentation vs {xlabel}")
            Image.fromarray(png).save(out_dir / f'sweep_{key}.png')
    (out_dir / 'results.json').write_text(json.dumps(summary, indent=2))
    md = part_markdown(summary)
    (out_dir / 'results.md').write_text(md)
    print(md)
    print(f"wrote {out_dir / 'results.json'} and {out_dir / 'results.md'}"
          + (' and sweep_*.png' if args.sweep else '') + (f'; pictures in {args.show_dir}' if args.show_dir else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
