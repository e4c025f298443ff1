#!/usr/bin/env python
"""Will a DINO pretraining config fit its GPUs? Predicted peak memory per GPU: prints a table, writes JSON + markdown.

    python tools/analysis/memory_estimate.py CONFIG [CONFIG ...] [--with-cp config off all K ...] [--gpu-gib 80]
        [--measure-batches 1 2] [--device cpu|cuda] [--measure-cuda] [--cfg-options k=v ...]
        [--out-dir work_dirs/memory_estimate]

For each config (its real model: backbone, neck, DINO loss, EMA teacher; its
real crops: every ``MultiView`` view at its crop size; its dtype: bf16 autocast
where it trains in bf16) the activation memory of one forward + backward is
measured at two small batches on ``--device`` (the CPU's peak of live tensor
bytes, or CUDA's allocator peak), and the peak of one training iteration at the
config's batch per GPU is predicted as weights (student + teacher, float32) +
AdamW moments + DDP gradient buckets + what the measurement does not scale
with the batch (all gradients counted) + batch x the bytes per sample
(``mmrats.utils.benchmark.memory``). ``--with-cp`` lists the gradient
checkpointing settings to predict (``model.backbone.with_cp``): ``config``
(as the config has it), ``off``, ``all`` (every block) or a number ``K``
(the first ``K`` blocks); the default ``config off all``.
``--measure-cuda`` also runs two real AdamW steps at the config's batch on
the GPU and reports ``torch.cuda.max_memory_allocated`` beside the prediction
(single process: no DDP buckets; compare it with the ``1 GPU`` column).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
import time
from pathlib import Path

import mmrats  # noqa: F401  (registries, known-warning filters)
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import MODELS, DefaultScope

from mmrats.utils.benchmark.memory import GIB, measured_cuda_peak, predict_dino_memory, train_dtype, view_sizes
from mmrats.utils.cli import InputError, report_input_error


def build_model(cfg: Config, with_cp: bool | int, device: str):
    """The config's DINO model, random init, with ``backbone.with_cp`` set."""
    model_cfg = cfg.model.copy()
    model_cfg.backbone = dict(model_cfg.backbone, with_cp=with_cp, init_cfg=None)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope', 'mmpretrain')):
        model = MODELS.build(model_cfg)
    if not hasattr(model, 'teacher'):
        raise InputError(f'model.type={cfg.model.type!r} has no EMA teacher: this tool predicts DINO pretraining '
                         'configs (configs/dino/*)')
    return model.to(device)


def estimate(path: str, args) -> list[dict]:
    if not osp.isfile(path):
        raise InputError(f'config file {path!r} does not exist')
    cfg = Config.fromfile(path)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    try:
        sizes = view_sizes(cfg)
    except ValueError as e:
        raise InputError(f'{path}: {e}') from None
    batch = int(cfg.train_dataloader.batch_size)
    dtype = train_dtype(cfg, 'cuda')  # what the run uses on its GPUs
    rows = []
    settings = []
    for v in args.with_cp:
        cp = dict(off=False, all=True).get(v, cfg.model.backbone.get('with_cp', False) if v == 'config' else v)
        cp = int(cp) if not isinstance(cp, bool) else cp
        if all(cp is not s and not (type(cp) is type(s) and cp == s) for s in settings):
            settings.append(cp)
    for with_cp in settings:
        t0 = time.perf_counter()
        model = build_model(cfg, with_cp, args.device)
        pred = predict_dino_memory(model, sizes, batch, dtype if args.device == 'cuda' else train_dtype(cfg, 'cpu'),
                                   args.device, tuple(args.measure_batches))
        row = dict(config=osp.basename(path), views=sizes, **pred.as_dict(), fits=pred.fits(args.gpu_gib),
                   max_batch=pred.max_batch(args.gpu_gib), single_gpu_peak=pred.peak - pred.ddp_buckets,
                   gpu_gib=args.gpu_gib, measured_on=args.device, measure_s=time.perf_counter() - t0)
        if args.measure_cuda:
            row['cuda_max_allocated'] = measured_cuda_peak(model, sizes, batch, dtype)
        rows.append(row)
        print(f"{row['config']:<52} with_cp={with_cp!s:<5} batch {batch:>4}: predicted {row['peak_gib']:6.1f} GiB "
              f"({'fits' if row['fits'] else 'does NOT fit'} {args.gpu_gib:g} GiB; largest batch {row['max_batch']})",
              flush=True)
        del model
    return rows


def cp_text(cp: bool | int) -> str:
    """``with_cp`` in the table: every block, none, or the first K."""
    return 'all' if cp is True else 'no' if cp is False or cp == 0 else f'first {cp}'


def markdown(rows: list[dict], env: dict) -> str:
    g = lambda b: f'{b / GIB:.1f}'  # noqa: E731
    lines = [f"Measured on {env['device']} ({env['torch']}); batches {env['measure_batches']}; GPU "
             f"{env['gpu_gib']:g} GiB, 2 GiB kept for the CUDA context and fragmentation.", '',
             '| config | batch / GPU | dtype | with_cp | activations / sample (MiB) | weights + AdamW + DDP (GiB) | '
             'gradients + workspace (GiB) | predicted peak, DDP (GiB) | 1 GPU (GiB) | measured 1 GPU (GiB) | fits | '
             'largest batch |', '|---' * 12 + '|']
    for r in rows:
        measured = g(r['cuda_max_allocated']) if 'cuda_max_allocated' in r else '-'
        lines.append(f"| {r['config']} | {r['batch']} | {r['dtype']} | {cp_text(r['with_cp'])} | "
                     f"{r['per_sample'] / 2 ** 20:.0f} | {g(r['weights'] + r['adamw'] + r['ddp_buckets'])} | "
                     f"{g(r['grads'] + r['workspace'])} | {g(r['peak'])} | {g(r['single_gpu_peak'])} | {measured} | "
                     f"{'yes' if r['fits'] else '**no**'} | {r['max_batch']} |")
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('configs', nargs='+', help='DINO pretraining configs')
    p.add_argument('--with-cp', nargs='+', default=['config', 'off', 'all'], metavar='CP',
                   help="checkpointing settings to predict: config, off, all, or K (the first K blocks)")
    p.add_argument('--gpu-gib', type=float, default=80.0, help='memory of one GPU (GiB)')
    p.add_argument('--measure-batches', type=int, nargs=2, default=[1, 2], metavar=('B1', 'B2'))
    p.add_argument('--device', choices=('cpu', 'cuda'), default='cpu', help='where the activations are measured')
    p.add_argument('--measure-cuda', action='store_true', help='also measure one real step at the batch on CUDA')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys: key=value')
    p.add_argument('--out-dir', default='work_dirs/memory_estimate')
    args = p.parse_args(argv)
    bad = [v for v in args.with_cp if v not in ('config', 'off', 'all') and not v.isdigit()]
    if bad:
        p.error(f'--with-cp: config, off, all or a number of blocks, got {bad[0]!r}')
    if not 0 < args.measure_batches[0] < args.measure_batches[1]:
        p.error('--measure-batches: two increasing batch sizes >= 1, e.g. 1 2')
    if (args.device == 'cuda' or args.measure_cuda) and not torch.cuda.is_available():
        p.error('--device cuda / --measure-cuda: no CUDA device is available')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    try:
        for path in args.configs:
            rows += estimate(path, args)
    except InputError as e:
        return report_input_error(e)
    env = dict(device=torch.cuda.get_device_name() if args.device == 'cuda' else f'cpu ({torch.get_num_threads()} '
               'threads)', torch=torch.__version__, measure_batches=args.measure_batches, gpu_gib=args.gpu_gib)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / 'memory_estimate.json').write_text(json.dumps(dict(env=env, rows=rows), indent=1, default=str))
    table = markdown(rows, env)
    (out / 'memory_estimate.md').write_text(table)
    print('\n' + table + f'\nwritten: {out}/memory_estimate.json, memory_estimate.md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
