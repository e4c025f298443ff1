#!/usr/bin/env python
"""The part dictionary of the registers: build, label, evaluate, show (paper §4.4, Fig. 6 left, App. C).

    python tools/analysis/part_dictionary.py build    --method kmeans|codebook ... --out D.pth
    python tools/analysis/part_dictionary.py label    --dictionary D.pth ... --out D_named.pth
    python tools/analysis/part_dictionary.py evaluate --dictionary D_named.pth ... --out-dir DIR
    python tools/analysis/part_dictionary.py show     --dictionary D_named.pth ... --show-dir DIR
    python tools/analysis/part_dictionary.py all      --method ... --split train --eval-split test --out-dir DIR
    python tools/analysis/part_dictionary.py table    DIR [DIR ...]           # a Fig.-6-left table of rows

Data (every subcommand that reads images): ``--dataset-type part-objects``
(the procedural part-structured objects, drawn in memory: ``--split``,
``--num-images``, ``--data-seed``) or ``--dataset-type partimagenet --data-root
ROOT`` (PartImageNet's COCO json, also the part objects written by
``tools/dataset_converters/make_part_objects.py``), resized to ``--img-size``.
Backbone: ``--checkpoint`` (a RATSViT state dict; its ``meta.backbone``, written
by ``tools/model_converters``, gives the architecture), or a random init of
``--arch``.

* ``build``: ``kmeans``: last-block registers of the split whose attention
  peaks inside a foreground part, clustered into ``--num-entries`` centroids
  (default 10 x the number of labels); ``codebook``: the entries learned with
  the backbone, read from a DINO checkpoint (``teacher.codebook.entries``, the
  EMA copy that goes with the extracted teacher; ``--codebook-source student``).
* ``label``: every register of the split to its nearest entry and to the part
  with the highest mean attention inside its mask; each entry named by
  majority vote, its purity the majority share; entries with < 3 registers dropped.
* ``evaluate``: bag-of-entries TF-IDF vectors, leave-one-out cosine retrieval
  (mAP, R@1 by super-category, the paper's level, and by category), ``valPw``
  and ``util%``: ``results.json`` and ``results.md``.
* ``show``: Fig. 10 (label-prototype cosine similarity), Fig. 11 (entry
  overlays across images of one super-category) and named part heatmaps.

Bad input: one ``error: ...`` line on stderr, exit code 2. Existing outputs are
not overwritten without ``--force``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from mmrats.datasets.part_datasets import PartDatasetError  # noqa: E402
from mmrats.evaluation.dictionary import (BACKGROUND, LabelledSplit, PartDictionary, batch_records,  # noqa: E402
                                          collect_records, default_num_entries, evaluate_dictionary,
                                          kmeans_entries, nearest_entry, normalise, part_heatmaps,
                                          part_objects_split, partimagenet_split)
from mmrats.models import RATSViT  # noqa: E402
from mmrats.visualization.part_dictionary_pictures import (cosine_matrix, draw_entry_overlays,  # noqa: E402
                                                           draw_part_heatmaps, draw_prototype_similarity,
                                                           label_prototypes)
from tools.analysis.part_segmentation import checkpoint_backbone_cfg  # noqa: E402


class InputError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""


# ----------------------------------------------------------------------------------------------- arguments
def add_data(p: argparse.ArgumentParser, prefix: str = '', split: str = 'train', num: int = 1000) -> None:
    p.add_argument(f'--{prefix}split', default=None, help=f'default: {split} (part-objects), train (PartImageNet)')
    p.add_argument(f'--{prefix}num-images', type=int, default=None,
                   help=f'part-objects: images drawn (default {num}); PartImageNet: at most this many')


def add_common(p: argparse.ArgumentParser, data: bool = True) -> None:
    p.add_argument('--checkpoint', default=None, help='RATSViT backbone checkpoint (meta.backbone gives its config)')
    p.add_argument('--checkpoint-prefix', default=None, help="key prefix to strip, e.g. 'backbone.'")
    p.add_argument('--arch', default=None, help="small, base, tiny or a JSON dict; default: the checkpoint's")
    p.add_argument('--mode', default=None, choices=['rats', 'mhsa'])
    p.add_argument('--num-registers', type=int, default=None)
    p.add_argument('--seed', type=int, default=0, help='random init of the backbone without --checkpoint')
    p.add_argument('--random-init', action='store_true',
                   help="the checkpoint's architecture (meta.backbone) with random weights (--seed): a control")
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--force', action='store_true', help='overwrite existing outputs')
    if data:
        p.add_argument('--dataset-type', default='part-objects', choices=['part-objects', 'partimagenet'])
        p.add_argument('--data-root', default=None, help='PartImageNet folder (partimagenet)')
        p.add_argument('--data-seed', type=int, default=0, help='part-objects dataset seed')
        p.add_argument('--img-size', type=int, default=None, help='square input side (default: 96 part-objects, '
                       '224 PartImageNet), a multiple of the patch size')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='command', required=True)
    b = sub.add_parser('build', help='K-means or learned-codebook entries')
    add_common(b)
    add_data(b)
    b.add_argument('--method', required=True, choices=['kmeans', 'codebook'])
    b.add_argument('--num-entries', type=int, default=None, help='K-means K (default: 10 x the labels)')
    b.add_argument('--kmeans-seed', type=int, default=0)
    b.add_argument('--max-iter', type=int, default=100)
    b.add_argument('--dino-checkpoint', default=None, help='codebook: the mmrats.DINO checkpoint with the entries')
    b.add_argument('--codebook-source', default='teacher', choices=['teacher', 'student'])
    b.add_argument('--out', required=True, help='dictionary file (.pth)')
    lab = sub.add_parser('label', help='name the entries on a part-labelled split')
    add_common(lab)
    add_data(lab)
    lab.add_argument('--dictionary', required=True)
    lab.add_argument('--out', required=True, help='labelled dictionary file (.pth)')
    ev = sub.add_parser('evaluate', help='retrieval mAP / R@1, valPw, util%%')
    add_common(ev)
    add_data(ev, split='test', num=200)
    ev.add_argument('--dictionary', required=True)
    ev.add_argument('--name', default=None, help='row name')
    ev.add_argument('--out-dir', required=True)
    sh = sub.add_parser('show', help='Fig. 10 / Fig. 11 / part heatmaps')
    add_common(sh)
    add_data(sh, split='test', num=200)
    sh.add_argument('--dictionary', required=True)
    sh.add_argument('--show-dir', required=True)
    sh.add_argument('--show-num', type=int, default=4, help='images with part heatmaps')
    sh.add_argument('--entries', type=int, default=6, help='entries in the Fig.-11 overlays')
    sh.add_argument('--name', default=None)
    al = sub.add_parser('all', help='build + label (on --split) + evaluate (on --eval-split) [+ show]')
    add_common(al)
    add_data(al)
    add_data(al, prefix='eval-', split='test', num=200)
    al.add_argument('--method', required=True, choices=['kmeans', 'codebook'])
    al.add_argument('--num-entries', type=int, default=None)
    al.add_argument('--kmeans-seed', type=int, default=0)
    al.add_argument('--max-iter', type=int, default=100)
    al.add_argument('--dino-checkpoint', default=None)
    al.add_argument('--codebook-source', default='teacher', choices=['teacher', 'student'])
    al.add_argument('--name', default=None)
    al.add_argument('--out-dir', required=True)
    al.add_argument('--show', action='store_true', help='also write the pictures into OUT_DIR/pictures')
    al.add_argument('--show-num', type=int, default=4)
    al.add_argument('--entries', type=int, default=6)
    t = sub.add_parser('table', help='one markdown table from the results.json of several evaluate/all runs')
    t.add_argument('dirs', nargs='+')
    t.add_argument('--out', default=None, help='also write the table here')
    return p.parse_args(argv)


# ----------------------------------------------------------------------------------------------- inputs
def load_backbone(args) -> RATSViT:
    """The backbone of ``--checkpoint`` (its ``meta.backbone``, overridden by ``--arch`` / ``--mode``)."""
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise InputError(f'--checkpoint {args.checkpoint!r} does not exist')
    meta = {k: v for k, v in checkpoint_backbone_cfg(args.checkpoint).items() if k != 'type'}
    kwargs = dict(meta)
    if args.arch is not None:
        try:
            kwargs['arch'] = json.loads(args.arch) if args.arch.lstrip().startswith('{') else args.arch
        except json.JSONDecodeError as e:
            raise InputError(f'--arch {args.arch!r} is not valid JSON: {e}') from None
    kwargs.setdefault('arch', 'small')
    kwargs['mode'] = args.mode or kwargs.get('mode', 'rats')
    if args.num_registers is not None:
        kwargs['num_registers'] = args.num_registers
    kwargs.update(img_size=args.img_size, drop_path_rate=0.0)
    if args.checkpoint and not args.random_init:
        kwargs['init_cfg'] = dict(type='Pretrained', checkpoint=args.checkpoint, prefix=args.checkpoint_prefix)
    torch.manual_seed(args.seed)
    try:
        model = RATSViT(**kwargs)
    except (ValueError, TypeError) as e:
        raise InputError(f'backbone: {e}') from None
    if not model.num_registers:
        raise InputError('the part dictionary needs registers: a RATS backbone or --num-registers N with --mode mhsa')
    if args.img_size % model.patch_size:
        raise InputError(f'--img-size {args.img_size} is not a multiple of the patch size {model.patch_size}')
    if args.checkpoint and not args.random_init:
        try:
            model.init_weights()
        except Exception as e:  # missing keys, shapes
            msg = ' '.join(str(e).split())[:300]
            raise InputError(f'cannot load --checkpoint {args.checkpoint!r}: {type(e).__name__}: {msg}') from None
    return model.eval().to(args.device)


def load_split(args, prefix: str = '') -> LabelledSplit:
    split = getattr(args, f'{prefix}split'.replace('-', '_'))
    num = getattr(args, f'{prefix}num_images'.replace('-', '_'))
    if num is not None and num < 1:
        raise InputError(f'--{prefix}num-images must be >= 1, got {num}')
    if args.dataset_type == 'part-objects':
        default = 'test' if prefix or args.command in ('evaluate', 'show') else 'train'
        split = split or default
        if split not in ('train', 'val', 'test'):
            raise InputError(f'--{prefix}split {split!r}: the part objects have train, val and test')
        num = num or (200 if default == 'test' else 1000)
        return part_objects_split(num, split, args.data_seed, args.img_size)
    if not args.data_root:
        raise InputError('--dataset-type partimagenet needs --data-root (the PartImageNet folder)')
    try:
        return partimagenet_split(args.data_root, split or 'train', args.img_size, num)
    except PartDatasetError as e:
        raise InputError(str(e)) from None


def load_dictionary(path: str, labelled: bool = False) -> PartDictionary:
    if not Path(path).is_file():
        raise InputError(f'--dictionary {path!r} does not exist; write it with the build (and label) subcommand')
    try:
        d = PartDictionary.load(path)
    except Exception as e:
        raise InputError(f'--dictionary {path!r} is not a part dictionary written by this tool '
                         f'({type(e).__name__}: {" ".join(str(e).split())[:200]})') from None
    if labelled and d.names is None:
        raise InputError(f'--dictionary {path!r} is not labelled yet: run the label subcommand first')
    return d


def writable(path: Path, force: bool) -> Path:
    if path.exists() and not force:
        raise InputError(f'{str(path)!r} exists; pass --force to overwrite it')
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def codebook_entries(path: str | None, source: str) -> torch.Tensor:
    if not path:
        raise InputError('--method codebook needs --dino-checkpoint (the mmrats.DINO checkpoint trained with '
                         'model.codebook)')
    if not Path(path).is_file():
        raise InputError(f'--dino-checkpoint {path!r} does not exist')
    sd = torch.load(path, map_location='cpu', weights_only=True)
    sd = sd.get('state_dict', sd) if isinstance(sd, dict) else {}
    key = 'teacher.codebook.entries' if source == 'teacher' else 'codebook.entries'
    if key not in sd:
        raise InputError(f'--dino-checkpoint {path!r} has no {key!r}: it was not trained with model.codebook '
                         '(e.g. configs/lab/dino_rats-lab-codebook_1xb32-2e_part-objects-64.py)')
    return sd[key].float()


# ----------------------------------------------------------------------------------------------- steps
def progress(label: str):
    state = dict(last=0.0)

    def report(done: int, total: int) -> None:
        if time.time() - state['last'] > 20 or done == total:
            state['last'] = time.time()
            print(f'  {label}: {done}/{total} images', flush=True)
    return report


def build(args, backbone, split: LabelledSplit | None, records=None) -> tuple[PartDictionary, dict, object]:
    """Entries of ``--method``; returns the dictionary, timings and the records (if extracted)."""
    t = {}
    meta = dict(checkpoint=None if args.random_init else args.checkpoint,
                backbone=dict(arch=str(args.arch), mode=backbone.mode, num_registers=backbone.num_registers,
                              embed_dims=backbone.embed_dims, patch_size=backbone.patch_size))
    if args.method == 'codebook':
        entries = codebook_entries(args.dino_checkpoint, args.codebook_source)
        if entries.shape[1] != backbone.embed_dims:
            raise InputError(f'the codebook has {entries.shape[1]}-dim entries but the backbone is '
                             f'{backbone.embed_dims} wide: pass the teacher backbone of the same DINO run')
        meta.update(dino_checkpoint=args.dino_checkpoint, source=args.codebook_source)
        return PartDictionary(entries, 'codebook', meta=meta), t, records
    if records is None:
        t0 = time.perf_counter()
        records = collect_records(backbone, split, args.batch_size, args.device, progress('extract'))
        t['extract_s'] = time.perf_counter() - t0
    k = args.num_entries or default_num_entries(split.num_labels)
    fg = records.features[records.fg_peak]
    print(f'K-means: {len(fg)} of {len(records.features)} registers peak inside a foreground part; K = {k}')
    t0 = time.perf_counter()
    try:
        entries = kmeans_entries(fg, k, args.kmeans_seed, args.max_iter)
    except ValueError as e:
        raise InputError(str(e)) from None
    t['kmeans_s'] = time.perf_counter() - t0
    meta.update(split=split.spec, foreground_registers=int(len(fg)), kmeans_seed=args.kmeans_seed)
    return PartDictionary(entries, 'kmeans', meta=meta), t, records


def label(d: PartDictionary, split: LabelledSplit, records) -> PartDictionary:
    named = d.label(records, split.label_names)
    named.meta['label_split'] = split.spec
    n = named.names
    print(f'labelled on {split.name} ({len(split)} images, {len(records.features)} registers): '
          f'{int(n.kept.sum())} of {d.num_entries} entries kept (>= 3 registers)')
    return named


def row(name: str, d: PartDictionary, res: dict, timing: dict) -> dict:
    r = res['retrieval']['supercategory']
    return dict(name=name, method=d.method, num_entries=d.num_entries, map=r['map'], r1=r['r1'],
                valpw=res['dictionary']['pw'], util=res['dictionary']['util'],
                map_category=res['retrieval']['category']['map'], r1_category=res['retrieval']['category']['r1'],
                label_pw=d.meta.get('label_scores', {}).get('pw'),
                label_util=d.meta.get('label_scores', {}).get('util'),
                timing=timing)


def markdown(summary: dict) -> str:
    r = summary['row']
    lines = [f"## Part dictionary: {r['name']}", '',
             f"{summary['built']['method']}, K = {r['num_entries']}; evaluated on {summary['split']['name']} "
             f"({summary['images']} images, {summary['registers']} registers); retrieval: leave-one-out cosine over "
             'TF-IDF bag-of-entries vectors.', '',
             '| Codebook | K | mAP | R@1 | valPw | util% |', '|---|---|---|---|---|---|',
             f"| {r['name']} | {r['num_entries']} | {r['map']:.1f} | {r['r1']:.1f} | {r['valpw']:.1f} | "
             f"{r['util']:.1f} |", '']
    for level, res in summary['retrieval'].items():
        lines += [f'Retrieval by {level}: mAP {res["map"]:.1f}, R@1 {res["r1"]:.1f} ({res["queries"]} queries)', '',
                  '| ' + level + ' | queries | mAP | R@1 |', '|---|---|---|---|']
        lines += [f"| {c} | {v['queries']} | {v['map']:.1f} | {v['r1']:.1f} |" for c, v in res['by_category'].items()]
        lines.append('')
    t = summary['timing']
    lines.append('Time (s): ' + ', '.join(f'{k[:-2]} {v:.1f}' for k, v in t.items()))
    return '\n'.join(lines) + '\n'


def evaluate(args, d: PartDictionary, split: LabelledSplit, records, timing: dict, out_dir: Path) -> dict:
    t0 = time.perf_counter()
    try:
        res = evaluate_dictionary(d, records, split)
    except ValueError as e:
        raise InputError(str(e)) from None
    timing = dict(timing, evaluate_s=time.perf_counter() - t0)
    name = args.name or f"{d.method} (K = {d.num_entries})"
    summary = dict(res, split=dict(name=split.name, **split.spec), built=dict(method=d.method, meta=d.meta),
                   row=row(name, d, res, timing), timing=timing,
                   settings=dict(batch_size=args.batch_size, device=args.device, threads=torch.get_num_threads()))
    (out_dir / 'results.json').write_text(json.dumps(summary, indent=2))
    md = markdown(summary)
    (out_dir / 'results.md').write_text(md)
    print(md)
    print(f"wrote {out_dir / 'results.json'} and {out_dir / 'results.md'}")
    return summary


# ----------------------------------------------------------------------------------------------- pictures
@torch.no_grad()
def show(args, backbone, d: PartDictionary, split: LabelledSplit, records, show_dir: Path) -> list[str]:
    """Fig. 10, Fig. 11 and part heatmaps of the first ``--show-num`` images."""
    show_dir.mkdir(parents=True, exist_ok=True)
    names, written = split.label_names, []
    title = args.name or f'{d.method} (K = {d.num_entries})'
    labels, protos = label_prototypes(d.entries.numpy(), d.names.label.numpy(), skip=(BACKGROUND,))
    if len(labels) >= 2:
        img = draw_prototype_similarity(cosine_matrix(protos), [names[p] for p in labels],
                                        f'{title}: cosine similarity of label prototypes')
        Image.fromarray(img).save(show_dir / 'prototype_similarity.png')
        written.append('prototype_similarity.png')
    entry = nearest_entry(records.features, d.entries)
    label_of = d.names.label
    # Fig. 11: the purest part entries, each in 3 images of different categories of one super-category where
    # a register of the entry attends to the entry's part
    part_entries = [int(k) for k in torch.argsort(-d.names.purity * (d.names.count >= 3)) if label_of[k] > 0]
    rows = []
    for k in part_entries:
        imgs = records.image[(entry == k) & (records.part == label_of[k])].unique().numpy()  # fires on its part
        best = {}
        for i in imgs:
            sup = int(split.supercategory[i])
            best.setdefault(sup, {}).setdefault(int(split.category[i]), int(i))
        sup, cats = max(best.items(), key=lambda kv: len(kv[1]), default=(None, {}))
        if len(cats) < min(3, len(set(split.category[split.supercategory == sup])) if sup is not None else 3):
            continue
        chosen = list(cats.values())[:3]
        images, labs = split.load(chosen)
        _, attn, hw = batch_records(backbone, normalise(images).to(args.device), torch.from_numpy(labs),
                                    split.num_labels)
        maps, masks, caps = [], [], []
        for j, i in enumerate(chosen):
            sel = (records.image == i) & (entry == k)
            regs = records.register[sel]
            maps.append(attn[j, regs].amax(0).view(*hw).cpu().numpy())
            masks.append(labs[j] == int(label_of[k]))
            caps.append(f'{split.category_names[split.category[i]]} #{i}')
        rows.append(dict(name=f'entry {k}: {names[int(label_of[k])]} (purity {100 * float(d.names.purity[k]):.0f}%)',
                         images=list(images), maps=maps, masks=masks, captions=caps))
        if len(rows) >= args.entries:
            break
    if rows:
        Image.fromarray(draw_entry_overlays(rows, f'{title}: entries across one super-category')).save(
            show_dir / 'entry_overlays.png')
        written.append('entry_overlays.png')
    n = min(args.show_num, len(split))
    if n:
        images, labs = split.load(list(range(n)))
        _, attn, hw = batch_records(backbone, normalise(images).to(args.device), torch.from_numpy(labs),
                                    split.num_labels)
        for i in range(n):
            sel = records.image == i
            heat = part_heatmaps(entry[sel], attn[i].view(-1, *hw).cpu(), label_of, skip=(BACKGROUND,))
            img = draw_part_heatmaps(images[i], heat.maps.numpy(), [names[p] for p in heat.parts],
                                     f'{title}: {split.category_names[split.category[i]]} #{i}', gt=labs[i])
            Image.fromarray(img).save(show_dir / f'heatmaps_{i:04d}.png')
            written.append(f'heatmaps_{i:04d}.png')
    print(f'pictures in {show_dir}: ' + ', '.join(written))
    return written


# ----------------------------------------------------------------------------------------------- commands
def table(dirs: list[str], out: str | None) -> str:
    rows = []
    for d in dirs:
        path = Path(d) / 'results.json'
        if not path.is_file():
            raise InputError(f'{str(path)!r} does not exist: run evaluate or all with --out-dir {d}')
        s = json.loads(path.read_text())
        rows.append(s['row'] | dict(split=s['split']['name'], images=s['images']))
    lines = ['| Codebook | K | mAP | R@1 | valPw | util% | mAP (category) | R@1 (category) | images |',
             '|---|---|---|---|---|---|---|---|---|']
    lines += [f"| {r['name']} | {r['num_entries']} | {r['map']:.1f} | {r['r1']:.1f} | {r['valpw']:.1f} | "
              f"{r['util']:.1f} | {r['map_category']:.1f} | {r['r1_category']:.1f} | {r['images']} |" for r in rows]
    md = '\n'.join(lines) + '\n'
    if out:
        Path(out).write_text(md)
    return md


def run(args) -> int:
    if args.command == 'table':
        print(table(args.dirs, args.out), end='')
        return 0
    if args.batch_size < 1:
        raise InputError(f'--batch-size must be >= 1, got {args.batch_size}')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise InputError(f'--device {args.device}: no CUDA device on this machine; use --device cpu')
    if args.img_size is None:
        args.img_size = 96 if args.dataset_type == 'part-objects' else 224
    if args.img_size <= 0:
        raise InputError(f'--img-size must be positive, got {args.img_size}')
    outputs = {'build': ('out',), 'label': ('out',), 'evaluate': ('out_dir',), 'all': ('out_dir',)}
    for key in outputs.get(args.command, ()):
        target = Path(getattr(args, key))
        if key == 'out':
            writable(target, args.force)
        elif (target / 'results.json').exists() and not args.force:
            raise InputError(f"{str(target / 'results.json')!r} exists; pass --force to overwrite it")
    backbone = load_backbone(args)
    print(f'backbone: {backbone.mode}, {backbone.num_registers} registers, width {backbone.embed_dims}, patch '
          f'{backbone.patch_size}, {args.img_size} px '
          f'({"random init" if args.random_init or not args.checkpoint else args.checkpoint})')
    if args.command == 'build':
        split = load_split(args) if args.method == 'kmeans' else None
        d, t, _ = build(args, backbone, split)
        d.save(args.out)
        print(f'wrote {args.out}: {d.num_entries} entries ({d.method}); '
              + ', '.join(f'{k} {v:.1f}' for k, v in t.items()))
        return 0
    if args.command == 'label':
        split = load_split(args)
        d = load_dictionary(args.dictionary)
        t0 = time.perf_counter()
        records = collect_records(backbone, split, args.batch_size, args.device, progress('extract'))
        named = label(d, split, records)
        named.meta['label_scores'] = evaluate_scores(named, records)
        named.meta['label_seconds'] = time.perf_counter() - t0
        named.save(args.out)
        print(f'wrote {args.out}')
        return 0
    if args.command in ('evaluate', 'show'):
        split = load_split(args)
        d = load_dictionary(args.dictionary, labelled=True)
        if d.label_names != split.label_names:
            raise InputError(f'the dictionary was labelled with the labels {d.label_names} but {split.name} has '
                             f'{split.label_names}: use the dataset it was labelled on')
        t0 = time.perf_counter()
        records = collect_records(backbone, split, args.batch_size, args.device, progress('extract'))
        t = dict(extract_s=time.perf_counter() - t0)
        if args.command == 'show':
            show(args, backbone, d, split, records, Path(args.show_dir))
            return 0
        out_dir = Path(args.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        evaluate(args, d, split, records, t, out_dir)
        return 0
    # all: build + label on --split, evaluate (+ show) on --eval-split
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    split = load_split(args)
    eval_split = load_split(args, 'eval-')
    t0 = time.perf_counter()
    records = collect_records(backbone, split, args.batch_size, args.device, progress(f'extract {split.name}'))
    timing = dict(extract_s=time.perf_counter() - t0)
    d, t, _ = build(args, backbone, split, records)
    timing.update(t)
    d.save(str(out_dir / 'dictionary.pth'))
    t0 = time.perf_counter()
    named = label(d, split, records)
    named.meta['label_scores'] = evaluate_scores(named, records)
    timing['label_s'] = time.perf_counter() - t0
    named.save(str(out_dir / 'dictionary_labelled.pth'))
    if eval_split.spec == split.spec:
        eval_records = records  # the same images: extracted once
    else:
        t0 = time.perf_counter()
        eval_records = collect_records(backbone, eval_split, args.batch_size, args.device,
                                       progress(f'extract {eval_split.name}'))
        timing['extract_eval_s'] = time.perf_counter() - t0
    summary = evaluate(args, named, eval_split, eval_records, timing, out_dir)
    summary['timing']['total_s'] = time.perf_counter() - start
    (out_dir / 'results.json').write_text(json.dumps(summary, indent=2))
    print(f"total {summary['timing']['total_s']:.1f} s")
    if args.show:
        show(args, backbone, named, eval_split, eval_records, out_dir / 'pictures')
    return 0


def evaluate_scores(d: PartDictionary, records) -> dict:
    """``Pw`` / ``util%`` on the labelling split itself."""
    from mmrats.evaluation.dictionary import dictionary_scores
    return dictionary_scores(d.names, d.assign(records), records.part)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except InputError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
