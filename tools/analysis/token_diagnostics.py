#!/usr/bin/env python
"""Token diagnostics of a backbone: token norms per layer (Darcet et al.), LaSt-ViT's patch score, Point-in-Box
and masking test, LaSt-ViT vote counts, part discovery; JSON + markdown + pictures.

    python tools/analysis/token_diagnostics.py --checkpoint work_dirs/.../teacher_backbone.pth --name ViT \\
        [--global-repr auto|cls|registers|lastvit] [--lastvit-top-k 0.25] [--lastvit-sigma S]
        [--num-images 200] [--knn-train 1000] [--img-size 96] [--mask-ratio 0.25]
        [--coco-root data/synthetic/coco --coco-split val] [--out-dir work_dirs/token_diagnostics/NAME]
    python tools/analysis/token_diagnostics.py --table OUT.md DIR_OR_JSON [DIR_OR_JSON ...]

``--checkpoint`` is a backbone written by ``tools/model_converters/dino2backbone.py``
(its ``meta.backbone``) or a DINO training checkpoint (``tools/train.py``: the
teacher is taken). The global representation defaults to the one the model was
pretrained with: the DINO config's ``model.global_repr`` (and ``model.lastvit``),
read from the training checkpoint or from the one a backbone was converted
from, else [CLS] (ViT) or the registers' mean (RATS). Without ``--checkpoint``
the backbone is randomly initialised (``--arch``, ``--mode``, ...).

Data: the first ``--num-images`` ``test`` images of the part-structured objects
(``mmrats.datasets.part_objects``, dataset seed ``--seed``) at ``--img-size``,
with their object boxes, categories and part labels; ``--knn-train`` ``train``
images are the k-NN references. ``--coco-root`` adds Point-in-Box (and norms)
on a COCO-layout folder (``annotations/instances_<split>2017.json`` and
``<split>2017/``), images resized to the same square size, boxes with them.

Bad input: one line on stderr, exit code 2.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mmrats.datasets.part_objects import PartObjectsConfig, generate_part_objects
from mmrats.evaluation import PartMetricAccumulator, PartSegmenter
from mmrats.evaluation.token_diagnostics import (GLOBAL_REPRS, centres_in_boxes, global_vector, knn_top1,
                                                 mask_patches, masking_indices, patch_centres, patch_scores,
                                                 point_in_box, resolve_global_repr)
from mmrats.evaluation.token_diagnostics_norms import layer_norms, outlier_rule
from mmrats.models import RATSViT
from mmrats.models.utils import LaStViTAggregation, extract_state_dict
from mmrats.models.utils.lastvit_aggregation import resolve_top_k

MEAN = np.array([123.675, 116.28, 103.53], np.float32)  # the DINO configs' data preprocessor (RGB, 0-255)
STD = np.array([58.395, 57.12, 57.375], np.float32)


class InputError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""


# ----------------------------------------------------------------------------- data
class Images:
    """Images ``(N, S, S, 3)`` uint8 RGB, boxes per image (input pixels), categories, part labels (or None)."""

    def __init__(self, images: np.ndarray, boxes: list[np.ndarray], categories: np.ndarray | None,
                 parts: np.ndarray | None, name: str) -> None:
        self.images, self.boxes, self.categories, self.parts, self.name = images, boxes, categories, parts, name

    def __len__(self) -> int:
        return len(self.images)

    def tensor(self, sl: slice) -> torch.Tensor:
        x = (self.images[sl].astype(np.float32) - MEAN) / STD
        return torch.from_numpy(x.transpose(0, 3, 1, 2).copy())


def part_objects(num: int, split: str, seed: int, size: int) -> Images:
    cfg = PartObjectsConfig(img_size=size)
    s = [generate_part_objects(i, seed, split, cfg) for i in range(num)]
    return Images(np.stack([x.image for x in s]), [x.boxes for x in s], np.array([x.category for x in s]),
                  np.stack([x.parts for x in s]).astype(np.int64), f'part-objects-{split}')


def coco_images(root: str, split: str, num: int, size: int) -> Images:
    """The first ``num`` images (by id) of a COCO-layout folder that have boxes, resized to ``size``."""
    ann = Path(root) / 'annotations' / f'instances_{split}2017.json'
    if not ann.is_file():
        raise InputError(f'--coco-root {root}: {ann} does not exist (COCO layout: annotations/instances_'
                         f'{split}2017.json and {split}2017/); make the demo data with '
                         'tools/dataset_converters/make_synthetic_scenes.py')
    d = json.loads(ann.read_text())
    per_image: dict[int, list] = {}
    for a in d.get('annotations', []):
        if not a.get('iscrowd', 0):
            per_image.setdefault(a['image_id'], []).append(a['bbox'])
    images, boxes = [], []
    for info in sorted(d.get('images', []), key=lambda i: i['id']):
        if info['id'] not in per_image:
            continue
        path = Path(root) / f'{split}2017' / info['file_name']
        if not path.is_file():
            raise InputError(f'--coco-root {root}: image {path} listed in {ann.name} does not exist')
        img = Image.open(path).convert('RGB')
        sx, sy = size / img.width, size / img.height
        images.append(np.asarray(img.resize((size, size), Image.BICUBIC)))
        boxes.append(np.array([[x * sx, y * sy, (x + w) * sx, (y + h) * sy] for x, y, w, h in per_image[info['id']]],
                              np.float32))
        if len(images) == num:
            break
    if not images:
        raise InputError(f'--coco-root {root}: no image with a box in {ann}')
    return Images(np.stack(images), boxes, None, None, f'coco-{split}')


# ----------------------------------------------------------------------------- model
def parse_top_k(text: str) -> int | float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not a number') from None
    return int(v) if v >= 1 and v == int(v) and '.' not in text else v


def dino_model_cfg(ckpt: dict) -> dict | None:
    """``model`` of the DINO config saved in a training checkpoint's meta (None if absent)."""
    text = (ckpt.get('meta') or {}).get('cfg') if isinstance(ckpt, dict) else None
    if not text:
        return None
    from mmengine.config import Config
    return Config.fromstring(text, '.py').get('model', {}).to_dict()


def load_model(args) -> tuple[RATSViT, dict]:
    """The backbone and what the checkpoint says about its pretraining (``global_repr``, ``lastvit``)."""
    info: dict = dict(checkpoint=args.checkpoint, pretrained_global_repr=None, lastvit=None, source=None)
    if not args.checkpoint:
        torch.manual_seed(args.init_seed)
        try:
            arch = json.loads(args.arch) if args.arch.lstrip().startswith('{') else args.arch
            model = RATSViT(arch=arch, mode=args.mode, img_size=args.img_size, patch_size=args.patch_size,
                            num_registers=args.num_registers)
        except (ValueError, TypeError, json.JSONDecodeError) as e:
            raise InputError(f'cannot build the backbone (--arch/--mode/--num-registers): {e}') from None
        info['source'] = 'random init'
        return model.eval(), info
    path = Path(args.checkpoint)
    if not path.is_file():
        raise InputError(f'--checkpoint {path} does not exist')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:
        raise InputError(f'cannot read --checkpoint {path}: {type(e).__name__}: {str(e).splitlines()[0][:200]}') \
            from None
    meta = ckpt.get('meta') or {} if isinstance(ckpt, dict) else {}
    model_cfg = None
    try:
        if isinstance(meta.get('backbone'), dict):
            kwargs = {k: v for k, v in meta['backbone'].items() if k != 'type'}
            sd = ckpt['state_dict']
            src = meta.get('converted_from')
            if src and Path(src).is_file():
                model_cfg = dino_model_cfg(torch.load(src, map_location='cpu', weights_only=True))
                info['source'] = f'backbone converted from {src}'
            else:
                info['source'] = 'backbone checkpoint'
        elif meta.get('cfg'):
            from tools.model_converters.dino2backbone import backbone_kwargs
            kwargs = backbone_kwargs(ckpt, str(path))
            sd = extract_state_dict(ckpt, 'teacher.backbone.')
            if not sd:
                raise InputError(f'--checkpoint {path} has no teacher.backbone.* weights: not a DINO checkpoint')
            model_cfg = dino_model_cfg(ckpt)
            info['source'] = 'DINO checkpoint (teacher)'
        else:
            raise InputError(f'--checkpoint {path} has neither meta.backbone (tools/model_converters/dino2backbone.py '
                             'output) nor meta.cfg (tools/train.py output)')
        model = RATSViT(**kwargs)
        model.load_state_dict(sd, strict=True)
    except InputError:
        raise
    except Exception as e:
        raise InputError(f'cannot load --checkpoint {path}: {type(e).__name__}: {str(e).splitlines()[0][:200]}') \
            from None
    if model_cfg is not None:
        info['pretrained_global_repr'] = model_cfg.get('global_repr', 'auto')
        info['lastvit'] = model_cfg.get('lastvit')
    return model.eval(), info


# ----------------------------------------------------------------------------- measurements
@torch.no_grad()
def features(model, data: Images, global_repr: str, lastvit, batch: int, sl: slice | None = None,
             masked: tuple[torch.Tensor, int] | None = None) -> dict:
    """Global vectors, patch scores and LaSt-ViT vote counts of ``data`` (optionally masked)."""
    g_all, s_all, v_all = [], [], []
    n = len(data)
    for start in range(0, n, batch):
        x = data.tensor(slice(start, min(start + batch, n)))
        if masked is not None:
            x = mask_patches(x, masked[0][start:start + len(x)], masked[1])
        f = model.forward_features(x)
        g = global_vector(f, global_repr, lastvit)
        g_all.append(g)
        s_all.append(patch_scores(f['patch_tokens'], g))
        v_all.append(lastvit.votes(f['patch_tokens']))
    return dict(g=torch.cat(g_all), scores=torch.cat(s_all), votes=torch.cat(v_all), hw=f['patch_hw'])


@torch.no_grad()
def norms_of(model, data: Images, batch: int) -> dict:
    out = {'patches': [], 'registers': [], 'cls': []}
    for start in range(0, len(data), batch):
        r = layer_norms(model, data.tensor(slice(start, start + batch)))
        for k in out:
            if r[k] is not None:
                out[k].append(r[k])
    return {k: np.concatenate(v, axis=1) if v else None for k, v in out.items()}


def norm_summary(norms: dict, args) -> list[dict]:
    """Per layer: mean norms of each token group and the outlier rule on the patch norms."""
    rows = []
    num = norms['patches'].shape[0]
    for i in range(num):
        r = dict(layer=f'block {i + 1}' if i < num - 1 else 'output (post-norm)',
                 patch_mean=float(norms['patches'][i].mean()), patch_p99=float(np.percentile(norms['patches'][i], 99)),
                 patch_max=float(norms['patches'][i].max()),
                 register_mean=None if norms['registers'] is None else float(norms['registers'][i].mean()),
                 cls=None if norms['cls'] is None else float(norms['cls'][i].mean()))
        r['outliers'] = outlier_rule(norms['patches'][i], args.min_ratio, args.max_share, args.outlier_threshold)
        rows.append(r)
    return rows


@torch.no_grad()
def part_discovery(model, data: Images, top_k: int, batch: int) -> dict:
    seg = PartSegmenter(model, None, top_k, 1.0)
    acc = PartMetricAccumulator()
    for start in range(0, len(data), batch):
        sl = slice(start, start + batch)
        acc.update(seg(data.tensor(sl), [top_k])[0].labels.numpy(), data.parts[sl])
    return dict({k: acc.result()[k] for k in ('m2o', 'o2o', 'ari')}, method=seg.method, top_k=top_k)


def pib_of(model, data: Images, global_repr: str, lastvit, args) -> tuple[dict, dict]:
    f = features(model, data, global_repr, lastvit, args.batch_size)
    p = point_in_box(f['scores'], f['hw'], model.patch_size, data.boxes)
    centres = patch_centres(f['hw'], model.patch_size)
    votes = f['votes'].double().numpy()
    inside = np.stack([centres_in_boxes(centres, b) for b in data.boxes])
    vote_share = float((votes * inside).sum() / votes.sum())
    return dict(pib=100.0 * float(p['hits'].mean()), pib_chance=100.0 * float(p['chance'].mean()),
                vote_share_in_boxes=100.0 * vote_share, images=len(data)), dict(f, top=p['top'])


# ----------------------------------------------------------------------------- pictures
def _plt():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: Path) -> None:
    plt = _plt()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_histograms(norms: dict, layers: list[dict], title: str, path: Path) -> None:
    """Per layer: histogram of patch-token norms (log x), the rule's threshold, register / [CLS] norms."""
    plt = _plt()
    num = norms['patches'].shape[0]
    cols = min(num, 5)
    rows = math.ceil(num / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for i in range(rows * cols):
        ax = axes[i // cols][i % cols]
        if i >= num:
            ax.axis('off')
            continue
        vals = norms['patches'][i].ravel()
        lo, hi = max(vals.min(), 1e-6), vals.max()
        groups = [('patches', vals)] + [(k, norms[k][i].ravel()) for k in ('registers', 'cls') if norms[k] is not None]
        lo = min(lo, *[max(v.min(), 1e-6) for _, v in groups])
        hi = max(hi, *[v.max() for _, v in groups])
        bins = np.geomspace(lo * 0.95, hi * 1.05, 50)
        for name, v in groups:
            color = dict(patches='tab:blue', registers='tab:green', cls='tab:red')[name]
            ax.hist(v, bins=bins, color=color, alpha=0.6, label=name if name != 'cls' else '[CLS]', density=True)
        thr = layers[i]['outliers']['threshold']
        if thr is not None:
            ax.axvline(thr, color='k', ls='--', lw=1, label=f"threshold ({100 * layers[i]['outliers']['share']:.1f}%)")
        ax.set_xscale('log')
        ax.minorticks_off()
        ax.set_title(layers[i]['layer'], fontsize=9)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_maps(data: Images, norms: dict, f: dict, patch_size: int, title: str, path: Path, num: int) -> None:
    """Per image: the image with its boxes and the top-scored patch, the last block's patch-norm map, the
    patch-score map and LaSt-ViT's vote-count map."""
    plt = _plt()
    num = min(num, len(data))
    h, w = f['hw']
    fig, axes = plt.subplots(num, 4, figsize=(10, 2.5 * num), squeeze=False)
    panels = (('image, boxes, top patch', None), ('patch norm (last block)', 'magma'),
              ('patch score', 'viridis'), ('LaSt-ViT votes', 'inferno'))
    for r in range(num):
        maps = [None, norms['patches'][-2][r].reshape(h, w), f['scores'][r].reshape(h, w).numpy(),
                f['votes'][r].reshape(h, w).numpy()]
        for c, ((name, cmap), m) in enumerate(zip(panels, maps)):
            ax = axes[r][c]
            ax.imshow(data.images[r])
            if m is not None:
                ax.imshow(m, cmap=cmap, alpha=0.75, extent=(0, w * patch_size, h * patch_size, 0),
                          interpolation='nearest')
            for x0, y0, x1, y1 in data.boxes[r]:
                ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec='w', lw=1))
            ty, tx = divmod(int(f['top'][r]), w)
            ax.add_patch(plt.Rectangle((tx * patch_size, ty * patch_size), patch_size, patch_size, fill=False,
                                       ec='r', lw=1.5))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


# ----------------------------------------------------------------------------- report
def fmt(v, spec='.1f') -> str:
    return '-' if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def row_markdown(res: dict) -> str:
    m = res['masking']
    last = res['norms']['part-objects'][-2]['outliers']
    return (f"| {res['name']} | {res['global_repr']} | {fmt(100 * last['share'])} | "
            f"{fmt(res['pib']['part-objects']['pib'])} ({fmt(res['pib']['part-objects']['pib_chance'])}) | "
            f"{fmt(res['pib']['part-objects']['vote_share_in_boxes'])} | "
            + (f"{fmt(res['pib']['coco']['pib'])} ({fmt(res['pib']['coco']['pib_chance'])}) | " if 'coco' in res['pib']
               else '- | ')
            + f"{fmt(m['clean'])} | {fmt(m['top'] - m['clean'], '+.1f')} | {fmt(m['bottom'] - m['clean'], '+.1f')} | "
            f"{fmt(m['random'] - m['clean'], '+.1f')} | "
            + (f"{fmt(res['parts']['m2o'])} |" if res.get('parts') else '- |'))


TABLE_HEAD = ('| model | global repr. | outliers, last block (%) | PiB part-objects (chance) '
              '| LaSt-ViT votes in boxes (%) | PiB COCO layout (chance) | k-NN top-1 | Δ top removed '
              '| Δ bottom removed | Δ random removed | M2O top-8 |\n|---|---|---|---|---|---|---|---|---|---|---|')


def markdown(res: dict) -> str:
    s = res['settings']
    lines = [f"## Token diagnostics: {res['name']}", '',
             f"{res['model']['kind']}, {res['model']['params']:,} parameters, "
             f"checkpoint `{res['model']['checkpoint']}` "
             f"({res['model']['source']}); global representation **{res['global_repr']}**"
             + (f" (LaSt-ViT top_k={s['lastvit']['top_k']}, sigma={s['lastvit']['sigma']})" if res['global_repr']
                == 'lastvit' else '') + '.',
             f"{s['num_images']} test images at {s['img_size']} px, {s['knn_train']} k-NN references (k={s['knn_k']}), "
             f"{s['mask_ratio']:.0%} of the patches ({res['masking']['num_masked']}) removed in the masking test.", '',
             TABLE_HEAD, row_markdown(res), '']
    for name, layers in res['norms'].items():
        lines += [f'### Token norms per layer ({name})', '',
                  '| layer | patch mean | patch p99 | patch max | registers mean | [CLS] | Otsu cut '
                  '| above the cut (%) | upper/lower mean | bimodal | outlier share (%) |',
                  '|---|---|---|---|---|---|---|---|---|---|---|']
        for r in layers:
            o = r['outliers']
            lines.append(f"| {r['layer']} | {fmt(r['patch_mean'], '.2f')} | {fmt(r['patch_p99'], '.2f')} | "
                         f"{fmt(r['patch_max'], '.2f')} | {fmt(r['register_mean'], '.2f')} | {fmt(r['cls'], '.2f')} | "
                         f"{fmt(o.get('otsu_cut', o['threshold']), '.2f')} | "
                         f"{fmt(None if o.get('upper_share') is None else 100 * o['upper_share'])} | "
                         f"{fmt(o.get('ratio'), '.2f')} | "
                         f"{o['bimodal']} | {fmt(100 * o['share'])} |")
        lines.append('')
    lines += [f"Time: {res['seconds']['total']:.0f} s (" + ', '.join(f'{k} {v:.0f} s' for k, v in res['seconds'].items()
                                                          if k != 'total') + ').']
    return '\n'.join(lines) + '\n'


def table(out: str, inputs: list[str]) -> int:
    rows = []
    for p in inputs:
        path = Path(p) / 'results.json' if Path(p).is_dir() else Path(p)
        if not path.is_file():
            print(f'error: --table input {p}: no results.json there (run the tool with --out-dir {p} first)',
                  file=sys.stderr)
            return 2
        rows.append(row_markdown(json.loads(path.read_text())))
    text = TABLE_HEAD + '\n' + '\n'.join(rows) + '\n'
    Path(out).write_text(text)
    print(text)
    return 0


# ----------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--table', nargs='+', metavar=('OUT_MD', 'RESULTS'), default=None,
                   help='combine the rows of earlier runs (folders or results.json) into OUT_MD, then exit')
    p.add_argument('--checkpoint', default=None, help='backbone (dino2backbone.py) or DINO training checkpoint')
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
            print('error: --table needs OUT_MD and at least one results folder or results.json', file=sys.stderr)
            return 2
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
        coco = coco_images(args.coco_root, args.coco_split, args.num_images, args.img_size) if args.coco_root else None
    except (InputError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    name = args.name or (Path(args.checkpoint).parent.name if args.checkpoint else f'{model.mode}-random')
    out_dir = Path(args.out_dir or f'work_dirs/token_diagnostics/{name}')
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    seconds = {}
    t = time.perf_counter()
    test = part_objects(args.num_images, 'test', args.seed, args.img_size)
    train = part_objects(args.knn_train, 'train', args.seed, args.img_size)
    seconds['data'] = time.perf_counter() - t
    kind = ('RATS' if model.mode == 'rats' else 'ViT') + (f' + {model.num_registers} registers'
                                                          if model.mode == 'mhsa' and model.num_registers else '')
    print(f'{name}: {kind}, global representation {global_repr}, {len(test)} test images, '
          f'{len(train)} k-NN references, data drawn in {seconds["data"]:.1f} s')

    t = time.perf_counter()
    datasets = [test] + ([coco] if coco is not None else [])
    keys = ['part-objects'] + (['coco'] if coco is not None else [])
    norms = {k: norms_of(model, d, args.batch_size) for k, d in zip(keys, datasets)}
    layers = {k: norm_summary(v, args) for k, v in norms.items()}
    seconds['norms'] = time.perf_counter() - t

    t = time.perf_counter()
    pib, feats = {}, {}
    pib['part-objects'], feats['part-objects'] = pib_of(model, test, global_repr, lastvit, args)
    if coco is not None:
        pib['coco'], feats['coco'] = pib_of(model, coco, global_repr, lastvit, args)
    seconds['pib'] = time.perf_counter() - t

    t = time.perf_counter()
    ref = features(model, train, global_repr, lastvit, args.batch_size)['g']
    f = feats['part-objects']
    num_masked = max(1, int(round(args.mask_ratio * f['scores'].shape[1])))
    masking = dict(num_masked=num_masked, clean=knn_top1(ref, train.categories, f['g'], test.categories, args.knn_k))
    gen = torch.Generator().manual_seed(0)
    for which in ('top', 'bottom', 'random'):
        idx = masking_indices(f['scores'], num_masked, which, gen)
        g = features(model, test, global_repr, lastvit, args.batch_size, masked=(idx, model.patch_size))['g']
        masking[which] = knn_top1(ref, train.categories, g, test.categories, args.knn_k)
    seconds['masking'] = time.perf_counter() - t

    parts = None
    if args.parts_top_k > 0:
        t = time.perf_counter()
        parts = part_discovery(model, test, args.parts_top_k, args.batch_size)
        seconds['parts'] = time.perf_counter() - t

    if args.pictures > 0:
        t = time.perf_counter()
        for key, d in zip(norms, datasets):
            plot_histograms(norms[key], layers[key], f'{name}: token norms per layer ({d.name})',
                            out_dir / f'norm_histograms_{key}.png')
            plot_maps(d, norms[key], feats[key], model.patch_size,
                      f'{name}: global repr. {global_repr} ({d.name})', out_dir / f'maps_{key}.png', args.pictures)
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
