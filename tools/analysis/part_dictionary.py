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
Backbone: ``--checkpoint``, any weights file :func:`mmrats.apis.load_backbone`
reads (a ``tools/model_converters`` backbone, whose ``meta.backbone`` gives the
architecture; a DINO checkpoint's teacher; a bare state dict), loaded strictly;
``--arch`` / ``--mode`` / ``--num-registers`` override it; without it a random
init of ``--arch`` (``--seed``). The steps are :mod:`mmrats.evaluation.dictionary`
and :func:`mmrats.visualization.save_dictionary_pictures`.

* ``build``: ``kmeans``: the split's registers whose attention peaks inside a
  foreground part, clustered into ``--num-entries`` (default 10 x the labels);
  ``codebook``: the entries learned with the backbone, from a DINO checkpoint
  (``teacher.codebook.entries``; ``--codebook-source student``).
* ``label``: each entry named by majority vote of the registers nearest to it
  (the part each attends to most), its purity the majority share; < 3 registers: dropped.
* ``evaluate``: TF-IDF bag-of-entries, leave-one-out cosine retrieval (mAP, R@1
  by super-category and category), ``valPw``, ``util%``: ``results.json``, ``results.md``.
* ``show``: Fig. 10 (label prototypes), Fig. 11 (entry overlays), part heatmaps.

Bad input: one ``error: ...`` line on stderr, exit code 2. Existing outputs are
not overwritten without ``--force``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from mmrats.apis import BackboneLoadError, load_backbone, untrained_backbone
from mmrats.datasets.part_datasets import PartDatasetError
from mmrats.evaluation.dictionary import (LabelledSplit, PartDictionary, backbone_meta, codebook_dictionary,
                                          collect_records, default_num_entries, evaluation_summary,
                                          kmeans_dictionary, label_dictionary, part_objects_split,
                                          partimagenet_split, progress_lines, results_table, write_results)
from mmrats.utils.cli import InputError, report_input_error
from mmrats.visualization import save_dictionary_pictures


# ----------------------------------------------------------------------------------------------- arguments
def add_data(p: argparse.ArgumentParser, prefix: str = '', split: str = 'train', num: int = 1000) -> None:
    p.add_argument(f'--{prefix}split', default=None, help=f'default: {split} (part-objects), train (PartImageNet)')
    p.add_argument(f'--{prefix}num-images', type=int, default=None,
                   help=f'part-objects: images drawn (default {num}); PartImageNet: at most this many')


def add_common(p: argparse.ArgumentParser, split: str = 'train', num: int = 1000) -> None:
    p.add_argument('--checkpoint', default=None, help='backbone weights (mmrats.apis.load_backbone: meta.backbone, '
                   "a DINO checkpoint's teacher or a bare RATSViT state dict)")
    p.add_argument('--checkpoint-prefix', default=None, help="key prefix of the backbone, e.g. 'backbone.'")
    p.add_argument('--arch', default=None, help="small, base, tiny or a JSON dict; default: the checkpoint's")
    p.add_argument('--mode', default=None, choices=['rats', 'mhsa'])
    p.add_argument('--num-registers', type=int, default=None)
    p.add_argument('--seed', type=int, default=0, help='random init of the backbone without --checkpoint')
    p.add_argument('--random-init', action='store_true',
                   help="the checkpoint's architecture with random weights (--seed): a control")
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--batch-size', type=int, default=32)
    p.add_argument('--force', action='store_true', help='overwrite existing outputs')
    p.add_argument('--dataset-type', default='part-objects', choices=['part-objects', 'partimagenet'])
    p.add_argument('--data-root', default=None, help='PartImageNet folder (partimagenet)')
    p.add_argument('--data-seed', type=int, default=0, help='part-objects dataset seed')
    p.add_argument('--img-size', type=int, default=None, help='square input side (default: 96 part-objects, '
                   '224 PartImageNet), a multiple of the patch size')
    add_data(p, split=split, num=num)


def add_build(p: argparse.ArgumentParser) -> None:
    p.add_argument('--method', required=True, choices=['kmeans', 'codebook'])
    p.add_argument('--num-entries', type=int, default=None, help='K-means K (default: 10 x the labels)')
    p.add_argument('--kmeans-seed', type=int, default=0)
    p.add_argument('--max-iter', type=int, default=100)
    p.add_argument('--dino-checkpoint', default=None, help='codebook: the mmrats.DINO checkpoint with the entries')
    p.add_argument('--codebook-source', default='teacher', choices=['teacher', 'student'])


COMMANDS = dict(build='K-means or learned-codebook entries', label='name the entries on a part-labelled split',
                evaluate='retrieval mAP / R@1, valPw, util%%', show='Fig. 10 / Fig. 11 / part heatmaps',
                all='build + label (on --split) + evaluate (on --eval-split) [+ show]')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='command', required=True)
    cmd = {name: sub.add_parser(name, help=text) for name, text in COMMANDS.items()}
    for name, c in cmd.items():
        add_common(c, *(('test', 200) if name in ('evaluate', 'show') else ()))
        if name in ('build', 'all'):
            add_build(c)
        if name in ('label', 'evaluate', 'show'):
            c.add_argument('--dictionary', required=True)
        if name in ('evaluate', 'show', 'all'):
            c.add_argument('--name', default=None, help='row name and picture title')
        if name in ('show', 'all'):
            c.add_argument('--show-num', type=int, default=4, help='images with part heatmaps')
            c.add_argument('--entries', type=int, default=6, help='entries in the Fig.-11 overlays')
    cmd['build'].add_argument('--out', required=True, help='dictionary file (.pth)')
    cmd['label'].add_argument('--out', required=True, help='labelled dictionary file (.pth)')
    cmd['evaluate'].add_argument('--out-dir', required=True)
    cmd['show'].add_argument('--show-dir', required=True)
    cmd['all'].add_argument('--out-dir', required=True)
    cmd['all'].add_argument('--show', action='store_true', help='also write the pictures into OUT_DIR/pictures')
    add_data(cmd['all'], prefix='eval-', split='test', num=200)
    t = sub.add_parser('table', help='one markdown table from the results.json of several evaluate/all runs')
    t.add_argument('dirs', nargs='+')
    t.add_argument('--out', default=None, help='also write the table here')
    return p.parse_args(argv)


# ----------------------------------------------------------------------------------------------- inputs
@contextmanager
def bad_input():
    """The package's ``ValueError`` / ``FileNotFoundError`` for what it cannot use, as one ``error:`` line."""
    try:
        yield
    except (ValueError, FileNotFoundError) as e:
        raise InputError(' '.join(str(e).split())) from None


def build_backbone(args) -> torch.nn.Module:
    """``--checkpoint`` (``--random-init``: its architecture, untrained), else an untrained ``--arch``."""
    overrides = {}
    if args.arch is not None:
        try:
            overrides['arch'] = json.loads(args.arch) if args.arch.lstrip().startswith('{') else args.arch
        except json.JSONDecodeError as e:
            raise InputError(f'--arch {args.arch!r} is not valid JSON: {e}') from None
    if args.mode is not None:
        overrides['mode'] = args.mode
    if args.num_registers is not None:
        overrides['num_registers'] = args.num_registers
    overrides.update(img_size=args.img_size, drop_path_rate=0.0)
    if args.checkpoint and not Path(args.checkpoint).is_file():
        raise InputError(f'--checkpoint {args.checkpoint!r} does not exist')
    try:
        if not args.checkpoint:
            model = untrained_backbone({'arch': 'small', 'mode': 'rats', **overrides}, args.seed, device=args.device)
        elif args.random_init:
            model = untrained_backbone(args.checkpoint, args.seed, device=args.device, **overrides)
        else:
            model = load_backbone(args.checkpoint, prefix=args.checkpoint_prefix, device=args.device, **overrides)
    except BackboneLoadError as e:
        msg = ' '.join(str(e).split())
        raise InputError(f'--checkpoint: {msg[:600]}{" ..." if len(msg) > 600 else ""}' if args.checkpoint
                         else msg) from None
    if not model.num_registers:
        raise InputError('the part dictionary needs registers: a RATS backbone or --num-registers N with --mode mhsa')
    if args.img_size % model.patch_size:
        raise InputError(f'--img-size {args.img_size} is not a multiple of the patch size {model.patch_size}')
    return model


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
        return part_objects_split(num or (200 if default == 'test' else 1000), split, args.data_seed, args.img_size)
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


def check_inputs(args) -> None:
    """The codebook's checkpoint is there, and nothing is overwritten without ``--force``."""
    if getattr(args, 'method', None) == 'codebook':
        if not args.dino_checkpoint:
            raise InputError('--method codebook needs --dino-checkpoint (the mmrats.DINO checkpoint trained with '
                             'model.codebook)')
        if not Path(args.dino_checkpoint).is_file():
            raise InputError(f'--dino-checkpoint {args.dino_checkpoint!r} does not exist')
    if args.command not in ('build', 'label', 'evaluate', 'all'):
        return
    target = Path(args.out) if args.command in ('build', 'label') else Path(args.out_dir) / 'results.json'
    if target.exists() and not args.force:
        raise InputError(f'{str(target)!r} exists; pass --force to overwrite it')
    if args.command in ('build', 'label'):
        target.parent.mkdir(parents=True, exist_ok=True)


# ----------------------------------------------------------------------------------------------- steps
def extract(args, backbone, split: LabelledSplit, label: str = 'extract'):
    """The register records of ``split`` and the seconds it took, with progress lines every 20 s."""
    t0 = time.perf_counter()
    records = collect_records(backbone, split, args.batch_size, args.device, progress_lines(f'  {label}'))
    return records, time.perf_counter() - t0


def build(args, backbone, split: LabelledSplit | None, records=None) -> tuple[PartDictionary, dict]:
    """The entries of ``--method`` and the timings (``records`` of ``split`` extracted if not given)."""
    meta = backbone_meta(backbone, None if args.random_init else args.checkpoint, args.arch)
    if args.method == 'codebook':
        with bad_input():
            return codebook_dictionary(args.dino_checkpoint, backbone, args.codebook_source, meta), {}
    t = {}
    if records is None:
        records, t['extract_s'] = extract(args, backbone, split)
    k = args.num_entries or default_num_entries(split.num_labels)
    print(f'K-means: {int(records.fg_peak.sum())} of {len(records.features)} registers peak inside a foreground '
          f'part; K = {k}')
    t0 = time.perf_counter()
    with bad_input():
        d = kmeans_dictionary(records, split, k, args.kmeans_seed, args.max_iter, meta)
    t['kmeans_s'] = time.perf_counter() - t0
    return d, t


def label(d: PartDictionary, split: LabelledSplit, records) -> PartDictionary:
    with bad_input():
        named = label_dictionary(d, split, records)
    print(f'labelled on {split.name} ({len(split)} images, {len(records.features)} registers): '
          f'{int(named.names.kept.sum())} of {d.num_entries} entries kept (>= 3 registers)')
    return named


def evaluate(args, d: PartDictionary, split: LabelledSplit, records, timing: dict, out_dir: Path) -> dict:
    settings = dict(batch_size=args.batch_size, device=args.device, threads=torch.get_num_threads())
    with bad_input():
        summary = evaluation_summary(d, split, records, timing, args.name, settings)
    print(write_results(summary, out_dir))
    print(f"wrote {out_dir / 'results.json'} and {out_dir / 'results.md'}")
    return summary


def show(args, backbone, d: PartDictionary, split: LabelledSplit, records, show_dir: Path) -> None:
    with bad_input():
        written = save_dictionary_pictures(backbone, d, split, records, show_dir, args.device, args.show_num,
                                           args.entries, args.name)
    print(f'pictures in {show_dir}: ' + ', '.join(written))


# ----------------------------------------------------------------------------------------------- commands
def run(args) -> int:
    if args.command == 'table':
        with bad_input():
            md = results_table(args.dirs)
        if args.out:
            Path(args.out).write_text(md)
        print(md, end='')
        return 0
    if args.batch_size < 1:
        raise InputError(f'--batch-size must be >= 1, got {args.batch_size}')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        raise InputError(f'--device {args.device}: no CUDA device on this machine; use --device cpu')
    if args.img_size is None:
        args.img_size = 96 if args.dataset_type == 'part-objects' else 224
    if args.img_size <= 0:
        raise InputError(f'--img-size must be positive, got {args.img_size}')
    check_inputs(args)
    backbone = build_backbone(args)
    print(f'backbone: {backbone.mode}, {backbone.num_registers} registers, width {backbone.embed_dims}, patch '
          f'{backbone.patch_size}, {args.img_size} px '
          f'({"random init" if args.random_init or not args.checkpoint else args.checkpoint})')
    if args.command == 'build':
        d, t = build(args, backbone, load_split(args) if args.method == 'kmeans' else None)
        d.save(args.out)
        print(f'wrote {args.out}: {d.num_entries} entries ({d.method}); '
              + ', '.join(f'{k} {v:.1f}' for k, v in t.items()))
        return 0
    if args.command != 'all':
        split = load_split(args)
        d = load_dictionary(args.dictionary, labelled=args.command != 'label')
        if args.command != 'label' and d.label_names != split.label_names:
            raise InputError(f'the dictionary was labelled with the labels {d.label_names} but {split.name} has '
                             f'{split.label_names}: use the dataset it was labelled on')
        records, seconds = extract(args, backbone, split)
        if args.command == 'label':
            t0 = time.perf_counter()
            named = label(d, split, records)
            named.meta['label_seconds'] = seconds + time.perf_counter() - t0
            named.save(args.out)
            print(f'wrote {args.out}')
        elif args.command == 'show':
            show(args, backbone, d, split, records, Path(args.show_dir))
        else:
            evaluate(args, d, split, records, dict(extract_s=seconds), Path(args.out_dir))
        return 0
    # all: build + label on --split, evaluate (+ show) on --eval-split
    out_dir, start = Path(args.out_dir), time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    split, eval_split = load_split(args), load_split(args, 'eval-')
    records, seconds = extract(args, backbone, split, f'extract {split.name}')
    d, t = build(args, backbone, split, records)
    timing = dict(extract_s=seconds, **t)
    d.save(str(out_dir / 'dictionary.pth'))
    t0 = time.perf_counter()
    named = label(d, split, records)
    timing['label_s'] = time.perf_counter() - t0
    named.save(str(out_dir / 'dictionary_labelled.pth'))
    eval_records = records  # the same images: extracted once
    if eval_split.spec != split.spec:
        eval_records, timing['extract_eval_s'] = extract(args, backbone, eval_split, f'extract {eval_split.name}')
    summary = evaluate(args, named, eval_split, eval_records, timing, out_dir)
    summary['timing']['total_s'] = time.perf_counter() - start
    (out_dir / 'results.json').write_text(json.dumps(summary, indent=2))
    print(f"total {summary['timing']['total_s']:.1f} s")
    if args.show:
        show(args, backbone, named, eval_split, eval_records, out_dir / 'pictures')
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return run(args)
    except InputError as e:
        return report_input_error(e)


if __name__ == '__main__':
    sys.exit(main())
