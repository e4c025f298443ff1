#!/usr/bin/env python
"""DINO demo: pretrain -> extract -> fine-tune -> part discovery, on embedded data, on the CPU.

    python tools/demo/dino_demo.py [--models rats vit] [--work-dir work_dirs/dino_demo]
        [--photos data/sample_photos] [--scenes data/synthetic] [--epochs N]
        [--finetune-iters 300] [--no-finetune] [--no-parts]

1. writes the 17 sample photographs scikit-image and scikit-learn ship
   (``mmrats.datasets.sample_photos``) if they are not there;
2. pretrains the tiny RATS (and, with ``vit``, the ViT baseline of the same
   size) with DINO (``configs/demo/dino_{rats,vit}-demo_*.py``) and reports
   the loss and the collapse monitors of the first and the last epoch;
3. extracts the teacher backbone (``tools/model_converters/dino2backbone.py``;
   for RATS also with the parallel branch, ``--finetune``);
4. fine-tunes the register-query Mask2Former demo (synthetic scenes, ADE20K
   layout) from the extracted RATS backbone and reports its mIoU;
5. runs part discovery (``tools/analysis/part_segmentation.py``) on the
   synthetic scenes for each pretrained backbone and for the same backbones
   untrained, and prints the Table-1-style rows.

Writes ``WORK_DIR/dino_demo_results.json``. The console shows one line per
stage, a progress bar and the tables, with the pictures' folders (part
discovery overlays); each stage's full output goes to a log under
``WORK_DIR/logs`` (``--verbose`` streams everything instead).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
import time
from pathlib import Path

import mmrats  # noqa: F401  (first: torch >= 2.6 resume fix, known-warning filters)
from mmengine.config import Config
from mmengine.runner import Runner

from mmrats.datasets.sample_photos import write_sample_photos
from mmrats.utils.console import say, stage
from mmrats.utils.run_config import unique_visualizer

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tools.analysis import part_segmentation as part_tool  # noqa: E402
from tools.demo import mask2former_demo  # noqa: E402
from tools.model_converters import dino2backbone  # noqa: E402

CONFIGS = {'rats': 'configs/demo/dino_rats-demo_1xb16-12e_sample-photos-96.py',
           'vit': 'configs/demo/dino_vit-demo_1xb16-12e_sample-photos-96.py'}
MONITORS = ('loss', 'teacher_entropy', 'teacher_kl_uniform')


def epoch_means(log_dir: str) -> list[dict]:
    """Mean loss and collapse monitors per epoch, from one run's ``vis_data/scalars.json``
    (``log_dir`` is that run's timestamped folder: earlier runs in the work dir are not mixed in)."""
    path = Path(log_dir) / 'vis_data' / 'scalars.json'
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    rows = [r for r in rows if 'loss' in r and 'epoch' in r]
    out = []
    for e in sorted({r['epoch'] for r in rows}):
        sel = [r for r in rows if r['epoch'] == e]
        out.append(dict(epoch=e, **{k: sum(r[k] for r in sel) / len(sel) for k in MONITORS}))
    return out


def pretrain(model: str, photos: str, work_dir: str, epochs: int | None) -> tuple[str, str]:
    """Train the demo DINO config; returns the last checkpoint and the run's log folder."""
    cfg = Config.fromfile(str(REPO / CONFIGS[model]))
    cfg.train_dataloader.dataset.dataset.data_root = photos
    cfg.work_dir = work_dir
    cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(type='mmrats.ProgressBarHook')]
    unique_visualizer(cfg)
    if epochs is not None:  # the config's schedules, stretched to `epochs`
        cfg.train_cfg.max_epochs = epochs
        warmup, cosine, wd = cfg.param_scheduler
        warm = min(warmup.end, epochs // 2)
        warmup.end = warm
        cosine.update(begin=warm, end=epochs, T_max=epochs - warm)
        wd.end = epochs
        cfg.param_scheduler = ([warmup] if warm else []) + [cosine, wd]
    runner = Runner.from_cfg(cfg)
    runner.train()
    return osp.join(work_dir, f'epoch_{runner.epoch}.pth'), runner.log_dir


def part_row(scenes: str, name: str, ckpt: str | None, extra: list[str], out_dir: str, top_k: int,
             show_num: int = 4) -> dict:
    """Part discovery on the synthetic scenes (128 px) for one backbone: scores and the pictures' folder."""
    out = osp.join(out_dir, name.replace(' ', '_').replace('(', '').replace(')', ''))
    argv = ['--dataset-type', 'synthetic', '--data-root', scenes, '--img-size', '128', '--top-k', str(top_k),
            '--batch-size', '16', '--device', 'cpu', '--name', name, '--out-dir', out,
            '--show-dir', osp.join(out, 'pictures'), '--show-num', str(show_num), *extra]
    if ckpt:
        argv += ['--checkpoint', ckpt]
    if part_tool.main(argv) != 0:
        raise SystemExit(f'error: part discovery failed for {name}')
    (scores,) = json.loads(Path(out, 'results.json').read_text())['datasets'].values()
    return dict(name=name, pictures=osp.join(out, 'pictures'), **{k: scores[k] for k in ('m2o', 'o2o', 'ari')})


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--models', nargs='+', choices=sorted(CONFIGS), default=['rats', 'vit'])
    p.add_argument('--work-dir', default='work_dirs/dino_demo')
    p.add_argument('--photos', default='data/sample_photos', help='where the sample photos are (or go)')
    p.add_argument('--scenes', default='data/synthetic', help='the synthetic scenes (made if missing)')
    p.add_argument('--epochs', type=int, default=None, help="pretraining epochs (default: the config's)")
    p.add_argument('--finetune-iters', type=int, default=300)
    p.add_argument('--no-finetune', action='store_true', help='skip the Mask2Former fine-tuning step')
    p.add_argument('--no-parts', action='store_true', help='skip the part discovery step')
    p.add_argument('--top-k', type=int, default=8, help='part discovery: regions per image')
    p.add_argument('--verbose', action='store_true', help='stream every log line instead of one line per stage')
    args = p.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        p.error(f'--epochs must be >= 1, got {args.epochs}')
    return args


def tables(results: dict) -> str:
    """The tables of ``dino_demo_results.json``, with the pictures' folders."""
    lines = ['DINO demo pretraining on the sample photos (CPU): mean of the first and the last epoch',
             '| model | epochs | loss | teacher entropy | teacher KL to uniform | time (s) |',
             '|---|---|---|---|---|---|']
    for model, r in results.get('pretrain', {}).items():
        a, b = r['first_epoch'], r['last_epoch']
        lines.append(f"| {model} | {b['epoch']} | {a['loss']:.3f} -> {b['loss']:.3f} | {a['teacher_entropy']:.3f} -> "
                     f"{b['teacher_entropy']:.3f} | {a['teacher_kl_uniform']:.3f} -> {b['teacher_kl_uniform']:.3f} | "
                     f"{r['seconds']} |")
    if 'finetune' in results:
        f = results['finetune']
        lines += ['', f"Mask2Former (register queries) fine-tuned {f['iters']} iterations from the DINO RATS teacher: "
                      f"mIoU {f['mIoU']:.2f}"]
    if 'parts' in results:
        lines += ['', 'Part discovery on the synthetic scenes (128 px, top-8 regions)',
                  '| backbone | M2O mIoU | O2O mIoU | ARI |', '|---|---|---|---|']
        lines += [f"| {r['name']} | {r['m2o']:.2f} | {r['o2o']:.2f} | {r['ari']:.2f} |" for r in results['parts']]
        lines += [f"pictures ({r['name']}): {r['pictures']}" for r in results['parts'] if r.get('pictures')]
    return '\n'.join(lines)


def main(argv=None, summary: bool = True) -> int:
    """Run the demo; ``summary=False`` leaves the closing tables to a caller that prints its own."""
    args = parse_args(argv)
    logs = osp.join(args.work_dir, 'logs')
    write_sample_photos(args.photos)
    results: dict = dict(pretrain={})
    backbones = {}
    for model in args.models:
        wd = osp.join(args.work_dir, model)
        start = time.time()
        with stage(f'DINO pretraining of the tiny {model.upper()} on the {args.photos} photos, then teacher '
                   'extraction', osp.join(logs, f'pretrain_{model}.log'), args.verbose):
            ckpt, log_dir = pretrain(model, args.photos, wd, args.epochs)
            backbone = osp.join(args.work_dir, f'{model}_teacher_backbone.pth')
            if dino2backbone.main([ckpt, backbone, '--force']) != 0:
                return 1
            backbones[model] = backbone
            if model == 'rats':
                finetune = osp.join(args.work_dir, 'rats_teacher_backbone_finetune.pth')
                if dino2backbone.main([ckpt, finetune, '--force', '--finetune']) != 0:
                    return 1
                backbones['rats_finetune'] = finetune
        epochs = epoch_means(log_dir)
        results['pretrain'][model] = dict(config=CONFIGS[model], seconds=round(time.time() - start, 1),
                                          first_epoch=epochs[0], last_epoch=epochs[-1], checkpoint=ckpt)
        say(tables(dict(pretrain={model: results['pretrain'][model]})))
    if 'rats' in args.models and not args.no_finetune:
        with stage(f'Mask2Former (register queries) fine-tuned {args.finetune_iters} iterations from the DINO '
                   'RATS teacher', osp.join(logs, 'finetune_seg.log'), args.verbose):
            mask2former_demo.ensure_dataset(args.scenes)
            cfg = mask2former_demo.demo_cfg('seg', args.scenes, osp.join(args.work_dir, 'finetune_seg'),
                                            args.finetune_iters)
            cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=backbones['rats_finetune'])
            metrics, _ = mask2former_demo.train_and_evaluate(cfg)
        results['finetune'] = dict(iters=cfg.train_cfg.max_iters, backbone=backbones['rats_finetune'],
                                   **{k: round(float(metrics[k]), 2) for k in ('mIoU', 'mAcc', 'aAcc')})
        say(f"    mIoU {results['finetune']['mIoU']:.2f}")
    if not args.no_parts:
        mask2former_demo.ensure_dataset(args.scenes)
        results['parts'] = []
        for model in args.models:
            mode = ['--mode', 'mhsa', '--num-registers', '0'] if model == 'vit' else ['--mode', 'rats']
            arch = json.dumps(Config.fromfile(str(REPO / CONFIGS[model])).model.backbone.arch)
            for name, ckpt, extra in ((f'{model} (DINO demo)', backbones[model], []),
                                      (f'{model} (untrained)', None, ['--arch', arch, *mode])):
                with stage(f'part discovery on the synthetic scenes: {name}',
                           osp.join(logs, f"parts_{name.split()[0]}_{'untrained' if ckpt is None else 'dino'}.log"),
                           args.verbose):
                    row = part_row(args.scenes, name, ckpt, extra, osp.join(args.work_dir, 'parts'), args.top_k)
                results['parts'].append(row)
                say(f"    M2O {row['m2o']:.2f}  O2O {row['o2o']:.2f}  ARI {row['ari']:.2f}; pictures: "
                    f"{row['pictures']}")
    out = osp.join(args.work_dir, 'dino_demo_results.json')
    with open(out, 'w') as f:
        json.dump(results, f, indent=2)
    if summary:
        say()
        say(tables(results))
    say(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
