#!/usr/bin/env python
"""Time and memory of real-size training iterations of full configs: prints a table, writes JSON + markdown.

    python tools/analysis/train_step_benchmark.py CONFIG [CONFIG ...] [--iters 3] [--warmup 1]
        [--batch-size N] [--num-workers N] [--amp] [--compile] [--cfg-options k=v ...]
        [--out-dir work_dirs/train_step_benchmark]

Each config is trained, unchanged except where said here, through the stock
mmengine ``Runner`` for ``--warmup + --iters`` iterations; the table reports
the median time of the timed iterations (data loading included, as a user
sees it), images/s and the peak memory (CUDA: ``max_memory_allocated``; CPU:
the process's peak resident set size, which includes everything the process
holds). Every config runs in its own process. On a CPU shared with other
work, set ``OMP_NUM_THREADS`` to the free cores: oversubscribed OpenMP threads
slowed a demo step 70x in one measurement. So that no dataset is needed, the inputs come from the embedded data
through each config's own pipeline: the synthetic scenes (ADE20K layout for
mmseg, COCO layout for mmdet; the pipelines crop/resize them to the config's
512x512 or 1024x1024) and the bundled photos for DINO (mmpretrain; 2 x 224 +
10 x 96 crops). What is changed: the data roots; the loop (an
``IterBasedTrainLoop`` of ``warmup + iters`` iterations, no validation, no
checkpoints); the parameter schedulers (none: they do not change the cost);
pretrained-weight paths (random init); ``--batch-size`` per process if given;
``--amp`` switches to bf16 mixed precision on CUDA (the DINO configs already
use it there; on a CPU ``tools/train.py``'s rule applies: float32);
``--compile`` sets mmengine's ``compile=True`` (``torch.compile`` of the
model's ``train_step``, the backbone included; the warm-up iterations then
include the compilation).

This measures issue 3's "one real-size training iteration of each real config"
and issue 4's "images/s of a real-size pretraining step" on any machine.
"""
from __future__ import annotations

import argparse
import json
import math
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import mmrats  # noqa: F401  (first: torch >= 2.6 resume fix, known-warning filters)
import torch
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmrats.datasets.sample_photos import write_sample_photos
from mmrats.datasets.synthetic_scenes import write_dataset
from mmrats.utils.run_config import build_cfg


class IterTimer(Hook):
    """Wall time of every training iteration (after the step: CUDA synchronised)."""
    priority = 'LOWEST'

    def __init__(self, device: str) -> None:
        self.device, self.times, self._t = device, [], 0.0

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if self.device == 'cuda':
            torch.cuda.synchronize()
        if not self.times and batch_idx == 0:
            self._t = time.perf_counter()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self.device == 'cuda':
            torch.cuda.synchronize()
        now = time.perf_counter()
        self.times.append(now - self._t)  # includes fetching this iteration's batch
        self._t = now


def embedded_data(root: str) -> dict:
    """The embedded data roots (written once, cached)."""
    scenes, photos = osp.join(root, 'synthetic'), osp.join(root, 'sample_photos')
    write_dataset(scenes)
    write_sample_photos(photos)
    return dict(ade=osp.join(scenes, 'ade'), coco=osp.join(scenes, 'coco') + '/', photos=photos)


def _retarget_dataset(ds: dict, data: dict, images_needed: int) -> dict:
    """Point one dataset config at the embedded data, repeated to at least ``images_needed`` samples."""
    kind = str(ds.get('type', '')).split('.')[-1]
    if kind in ('ImageNet', 'CustomDataset', 'ImageNet21k'):
        inner = dict(ds, type='CustomDataset', data_root=data['photos'], with_label=False, data_prefix='')
        inner.pop('split', None)
        inner.pop('ann_file', None)
        n = 17
    elif 'Coco' in kind:
        inner = dict(ds, type='mmrats.SyntheticSceneCocoDataset', data_root=data['coco'],
                     ann_file='annotations/instances_train2017.json', data_prefix=dict(img='train2017/'))
        inner.pop('metainfo', None)
        n = 200
    else:
        inner = dict(ds, type='mmrats.SyntheticSceneSegDataset', data_root=data['ade'],
                     data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'))
        n = 200
    return dict(type='RepeatDataset', times=max(1, math.ceil(images_needed / n)), dataset=inner)


def benchmark_cfg(path: str, args, data: dict, work_dir: str) -> Config:
    """The config at ``path``, changed only as the module doc says."""
    ns = argparse.Namespace(config=path, launcher='none', cfg_options=args.cfg_options, work_dir=work_dir, amp=False,
                            resume=None, show_dir=None)
    cfg = build_cfg(ns)
    total = args.warmup + args.iters
    loader = cfg.train_dataloader
    if args.batch_size:
        loader.batch_size = args.batch_size
    ds = loader.dataset
    while 'dataset' in ds and 'pipeline' not in ds:  # unwrap RepeatDataset etc.
        ds = ds.dataset
    loader.dataset = _retarget_dataset(ds.to_dict() if hasattr(ds, 'to_dict') else dict(ds), data,
                                       loader.batch_size * total + 1)
    loader.num_workers = args.num_workers if args.num_workers is not None else min(loader.get('num_workers', 2), 2)
    loader.persistent_workers = False
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=total, val_interval=10 ** 9)
    for key in ('val_dataloader', 'val_evaluator', 'val_cfg', 'test_dataloader', 'test_evaluator', 'test_cfg'):
        cfg.pop(key, None)
    cfg.param_scheduler = []
    # the validation hooks (DINO's k-NN, issue #24) go with the validation loop: they read folders of their own
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', []) if not str(h['type']).endswith('ValidationHook')]
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=10 ** 9, save_last=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    if cfg.default_hooks.get('visualization'):
        cfg.default_hooks.visualization.draw = False
    cfg.model.backbone.init_cfg = None
    cfg.load_from, cfg.resume = None, False
    if args.compile:
        cfg.compile = True
    if args.amp and torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.dtype = 'bfloat16'
    return cfg


def run_one(path: str, args, data: dict) -> dict:
    name = Path(path).stem
    cfg = benchmark_cfg(path, args, data, osp.join(args.out_dir, name))
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    runner = Runner.from_cfg(cfg)
    timer = IterTimer(device)
    runner.register_hook(timer)
    if device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    runner.train()
    timed = timer.times[args.warmup:]
    sec = statistics.median(timed)
    if device == 'cuda':
        mem = torch.cuda.max_memory_allocated() / 2 ** 30
    else:  # ru_maxrss is in KiB on Linux
        mem = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    batch = cfg.train_dataloader.batch_size
    return dict(config=path, batch_per_process=batch, iters=len(timed), seconds_per_iter=sec,
                images_per_s=batch / sec, peak_memory_gib=mem,
                memory_kind='cuda max_memory_allocated' if device == 'cuda' else 'process peak RSS',
                optim_wrapper=cfg.optim_wrapper.type, device=device, compiled=bool(cfg.get('compile')),
                params=sum(p.numel() for p in runner.model.parameters() if p.requires_grad))


def markdown(rows: list, env: dict) -> str:
    lines = [f"Training-step benchmark on {env['device_name']} ({env['torch']}; {env['date']})", '',
             '| config | batch | s / iteration | images / s | peak memory (GiB) | trainable params | precision |',
             '|---|---|---|---|---|---|---|']
    for r in rows:
        prec = ('bf16' if r['optim_wrapper'] == 'AmpOptimWrapper' else 'fp32') + (', compiled' if r.get('compiled') else '')
        lines.append(f"| `{Path(r['config']).name}` | {r['batch_per_process']} | {r['seconds_per_iter']:.2f} | "
                     f"{r['images_per_s']:.2f} | {r['peak_memory_gib']:.2f} | {r['params']:,} | {prec} |")
    lines += ['', f"Median of {rows[0]['iters']} timed iterations after warm-up; memory: {rows[0]['memory_kind']}."]
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('configs', nargs='+', help='mmseg / mmdet / mmpretrain training configs')
    p.add_argument('--iters', type=int, default=3, help='timed iterations')
    p.add_argument('--warmup', type=int, default=1, help='untimed iterations first')
    p.add_argument('--batch-size', type=int, default=None, help="per process (default: the config's)")
    p.add_argument('--amp', action='store_true', help='bf16 mixed precision (CUDA only)')
    p.add_argument('--compile', action='store_true', help="mmengine's compile=True (torch.compile of train_step)")
    p.add_argument('--num-workers', type=int, default=None,
                   help="data-loading processes (default: the config's, at most 2; a GPU's loader needs more)")
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default=None,
                   help='override config keys of every config: key=value (e.g. a tiny model for a test)')
    p.add_argument('--data-root', default='data', help='where the embedded data are (or go)')
    p.add_argument('--out-dir', default='work_dirs/train_step_benchmark')
    p.add_argument('--row-json', default=None, help=argparse.SUPPRESS)  # internal: one config, one process
    args = p.parse_args(argv)
    if args.iters < 1 or args.warmup < 0 or (args.num_workers is not None and args.num_workers < 0):
        p.error('--iters must be >= 1, --warmup >= 0 and --num-workers >= 0')
    for c in args.configs:
        if not osp.isfile(c):
            p.error(f'config {c} does not exist')
    return args


def run_isolated(config: str, args, argv: list) -> dict:
    """One config in a fresh process: peak memory and global state of one run only."""
    row_json = Path(args.out_dir) / f'{Path(config).stem}.row.json'
    others = [a for a in argv if a not in args.configs]
    cmd = [sys.executable, __file__, config, *others, '--row-json', str(row_json)]
    if subprocess.run(cmd).returncode != 0:
        raise SystemExit(f'error: the benchmark of {config} failed (its output is above)')
    return json.loads(row_json.read_text())


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    data = embedded_data(args.data_root)
    Path(args.out_dir).mkdir(parents=True, exist_ok=True)
    if args.row_json:
        Path(args.row_json).write_text(json.dumps(run_one(args.configs[0], args, data)))
        return 0
    rows = [run_isolated(c, args, argv) for c in args.configs]
    cuda = torch.cuda.is_available()
    env = dict(device_name=torch.cuda.get_device_name() if cuda else f'CPU ({platform.processor() or "x86_64"}, '
               f'{torch.get_num_threads()} threads)', torch=torch.__version__, date=time.strftime('%Y-%m-%d'))
    md = markdown(rows, env)
    print('\n' + md)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'train_step_benchmark.json').write_text(json.dumps(dict(env=env, rows=rows), indent=2))
    (out / 'train_step_benchmark.md').write_text(md)
    print(f'wrote {out}/train_step_benchmark.json and .md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
