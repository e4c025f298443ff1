#!/usr/bin/env python
"""Cost of RATS vs ViT-S/16, like the paper's Table 3: prints a table, writes JSON + markdown.

    python tools/analysis/benchmark.py [--device cpu|cuda] [--resolutions 224 512 1024]
        [--models ...] [--repeats 3] [--amp] [--out-dir work_dirs/benchmark]

Rows: timm ViT-S/16 (SDPA; the reference), our ``mhsa`` ViT-S/16, RATS-S
(partitioned), RATS-S shared registers, RATS-S learned communicate, RATS-S +
parallel branch (the fine-tuning backbone), at each resolution; then one DINO
multi-crop step (2 x 224 + 10 x 96 crops, crops of equal size batched; student
forward + backward on all crops, teacher forward on the global crops;
backbones only). Columns: parameters, forward GFLOPs (manual attention path,
``torch.utils.flop_counter``; 1 image), peak memory and latency of forward and
of forward + backward (median of ``--repeats`` after a warm-up), images/s,
and the ratios to timm ViT-S/16 measured in the same run.

Peak memory: CUDA ``max_memory_allocated``; CPU, the peak of live tensor bytes
replayed from the profiler's allocation events (one extra step under
``torch.profiler`` with ``profile_memory=True``), i.e. what the tensors
themselves need, not the process RSS.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from mmrats.models import RATSViT

MODELS = {
    'timm ViT-S/16': None,
    'ViT-S/16 (mmrats mhsa)': dict(mode='mhsa'),
    'ViT-S/16 manual attn (as DINO code)': dict(mode='mhsa'),
    'RATS-S/16': dict(),
    'RATS-S/16 shared': dict(shared_registers=True),
    'RATS-S/16 learned comm.': dict(learned_communicate=True),
    'RATS-S/16 + parallel': dict(parallel_branch=True),
}
REFERENCE = 'timm ViT-S/16'
DEFAULT_BATCH = dict(cpu={224: 8, 512: 2, 1024: 1, 'dino': 2}, cuda={224: 64, 512: 16, 1024: 4, 'dino': 32})


def build(name: str, img_size: int, dynamic: bool = False) -> torch.nn.Module:
    """A backbone of the table, without any head; ``dynamic``: several input sizes (DINO crops)."""
    if MODELS[name] is None:
        import timm
        return timm.create_model('vit_small_patch16_224', pretrained=False, num_classes=0, img_size=img_size,
                                 dynamic_img_size=dynamic)
    model = RATSViT(arch='small', img_size=img_size, **MODELS[name])
    # The official DINO ViT computes softmax(q k^T) v explicitly (stores the L x L maps), as the paper's
    # Table 3 baseline did; this row shows that cost beside the SDPA reference.
    model.set_fused_attention('manual attn' not in name)
    return model


def set_fused(model: torch.nn.Module, fused: bool) -> None:
    if isinstance(model, RATSViT):
        model.set_fused_attention(fused)
    else:  # timm
        for m in model.modules():
            if hasattr(m, 'fused_attn'):
                m.fused_attn = fused


def tokens(model: torch.nn.Module, x: torch.Tensor) -> dict:
    """Final-layer token groups: patches, and the global representation (DINO)."""
    if isinstance(model, RATSViT):
        f = model.forward_features(x)
        glob = f['registers'].mean(1) if f['registers'] is not None else f['cls_token']
        return dict(patches=f['patch_tokens'], glob=glob)
    f = model.forward_features(x)
    return dict(patches=f[:, 1:], glob=f[:, 0])


def loss_of(t: dict) -> torch.Tensor:
    return t['patches'].float().mean() + t['glob'].float().mean()


class Step:
    """One timed unit of work: forward only, or forward + backward."""

    def __init__(self, models: list, inputs: list, backward: bool, teacher: tuple | None = None) -> None:
        self.models, self.inputs, self.backward, self.teacher = models, inputs, backward, teacher

    def __call__(self) -> None:
        loss = 0
        ctx = torch.enable_grad() if self.backward else torch.no_grad()
        with ctx:
            for x in self.inputs:
                loss = loss + loss_of(tokens(self.models[0], x))
        if self.backward:
            loss.backward()
            for m in self.models:
                m.zero_grad(set_to_none=True)
        if self.teacher is not None:
            with torch.no_grad():
                for x in self.teacher[1]:
                    tokens(self.teacher[0], x)


def sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def time_step(step: Step, device: str, repeats: int, amp: bool) -> float:
    """Median seconds of ``step`` after one warm-up call."""
    times = []
    for i in range(repeats + 1):
        sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=amp):
            step()
        sync(device)
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def peak_memory(step: Step, device: str, amp: bool) -> int:
    """Peak bytes of live tensors during one call of ``step`` (see module doc)."""
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=amp):
            step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        with torch.autocast(device, dtype=torch.bfloat16, enabled=amp):
            step()
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    cur = peak = 0
    for e in events:
        cur += e.self_cpu_memory_usage
        peak = max(peak, cur)
    return peak


def gflops(model: torch.nn.Module, shapes: list) -> float:
    """Forward GFLOPs for the given input shapes (manual attention, so every matmul is counted)."""
    was_fused = (model.blocks[0].attn.fused if isinstance(model, RATSViT)
                 else any(getattr(m, 'fused_attn', False) for m in model.modules()))
    set_fused(model, False)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        for s in shapes:
            tokens(model, torch.randn(*s))
    set_fused(model, was_fused)
    return counter.get_total_flops() / 1e9


def bench_resolution(name: str, res: int, args) -> dict:
    b = args.batch.get(res) or DEFAULT_BATCH[args.device][res]
    model = build(name, res).to(args.device).train()
    x = torch.randn(b, 3, res, res, device=args.device)
    fwd, fwdbwd = Step([model], [x], False), Step([model], [x], True)
    row = dict(section=f'{res}x{res}', model=name, batch=b,
               params=sum(p.numel() for p in model.parameters()),
               gflops=gflops(model.cpu(), [(1, 3, res, res)]) if args.flops else None)
    model.to(args.device)
    row['fwd_s'] = time_step(fwd, args.device, args.repeats, args.amp)
    row['fwdbwd_s'] = time_step(fwdbwd, args.device, args.repeats, args.amp)
    row['peak_mem_fwdbwd_mb'] = peak_memory(fwdbwd, args.device, args.amp) / 2**20
    row['img_per_s'] = b / row['fwdbwd_s']
    return row


def bench_dino(name: str, args) -> dict:
    b = args.batch.get('dino') or DEFAULT_BATCH[args.device]['dino']
    student = build(name, 224, dynamic=True).to(args.device).train()
    teacher = build(name, 224, dynamic=True).to(args.device).eval().requires_grad_(False)
    globals_ = torch.randn(2 * b, 3, 224, 224, device=args.device)
    locals_ = torch.randn(10 * b, 3, 96, 96, device=args.device)
    step = Step([student], [globals_, locals_], True, teacher=(teacher, [globals_]))
    row = dict(section='DINO step 2x224+10x96', model=name, batch=b,
               params=sum(p.numel() for p in student.parameters()),
               gflops=gflops(student.cpu(), [(2, 3, 224, 224), (10, 3, 96, 96)]) if args.flops else None)
    student.to(args.device)
    row['fwd_s'] = None
    row['fwdbwd_s'] = time_step(step, args.device, args.repeats, args.amp)
    row['peak_mem_fwdbwd_mb'] = peak_memory(step, args.device, args.amp) / 2**20
    row['img_per_s'] = b / row['fwdbwd_s']
    return row


def add_ratios(rows: list) -> None:
    ref = {r['section']: r for r in rows if r['model'] == REFERENCE}
    for r in rows:
        base = ref.get(r['section'])
        if base is None:
            continue
        r['time_vs_ref'] = r['fwdbwd_s'] / base['fwdbwd_s']
        r['speedup_vs_ref'] = base['fwdbwd_s'] / r['fwdbwd_s']
        r['mem_vs_ref'] = r['peak_mem_fwdbwd_mb'] / base['peak_mem_fwdbwd_mb']


def targets(rows: list) -> list:
    """The issue's targets, checked on this run's numbers."""
    def get(section, model):
        return next((r for r in rows if r['section'] == section and r['model'] == model), None)
    checks = []
    for section, model, key, op, goal, text in [
            ('512x512', 'RATS-S/16', 'speedup_vs_ref', '>=', 1.6, 'fwd+bwd speed-up vs timm ViT-S/16 at 512'),
            ('512x512', 'RATS-S/16', 'mem_vs_ref', '<=', 0.6, 'fwd+bwd peak memory vs timm ViT-S/16 at 512'),
            ('1024x1024', 'RATS-S/16', 'speedup_vs_ref', '>=', 3.5, 'fwd+bwd speed-up vs timm ViT-S/16 at 1024'),
            ('DINO step 2x224+10x96', 'RATS-S/16', 'time_vs_ref', '<=', 2.0, 'DINO multi-crop step time vs ViT-S/16'),
            ('512x512', 'RATS-S/16 + parallel', 'time_vs_ref', '<=', 1.15,
             'parallel-branch backbone fwd+bwd time vs ViT-S/16 at 512')]:
        r = get(section, model)
        if r is None or key not in r:
            continue
        v = r[key]
        checks.append(dict(target=text, value=round(v, 3), goal=f'{op} {goal}',
                           met=bool(v >= goal if op == '>=' else v <= goal)))
    return checks


def fmt(v, spec):
    return '-' if v is None else format(v, spec)


def markdown(rows: list, checks: list, env: dict) -> str:
    lines = [f"Device: {env['device_name']}; torch {env['torch']}; {env['threads']} threads; "
             f"dtype {'bf16 autocast' if env['amp'] else 'float32'}.", '',
             '| section | model | batch | params (M) | fwd GFLOPs/img (DINO: 12 crops) | fwd ms | fwd+bwd ms | img/s | '
             'peak mem (MB) | fwd+bwd speed-up vs timm (x) | peak mem vs timm (x) |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(
            f"| {r['section']} | {r['model']} | {r['batch']} | {r['params'] / 1e6:.2f} | {fmt(r['gflops'], '.2f')} | "
            f"{fmt(r['fwd_s'] and r['fwd_s'] * 1e3, '.0f')} | {r['fwdbwd_s'] * 1e3:.0f} | {r['img_per_s']:.2f} | "
            f"{r['peak_mem_fwdbwd_mb']:.0f} | {fmt(r.get('speedup_vs_ref'), '.2f')} | "
            f"{fmt(r.get('mem_vs_ref'), '.2f')} |")
    if checks:
        lines += ['', '| target | measured | goal | met |', '|---|---|---|---|']
        lines += [f"| {c['target']} | {c['value']} | {c['goal']} | {'yes' if c['met'] else 'NO'} |" for c in checks]
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', choices=('cpu', 'cuda'))
    p.add_argument('--resolutions', type=int, nargs='+', default=[224, 512, 1024])
    p.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS), metavar='MODEL',
                   help=f'subset of: {list(MODELS)}')
    p.add_argument('--no-dino', action='store_true', help='skip the DINO multi-crop step')
    p.add_argument('--no-flops', dest='flops', action='store_false', help='skip the FLOP count')
    p.add_argument('--batch', nargs='*', default=[], metavar='RES=B',
                   help="batch per resolution, e.g. 512=4 dino=8 (defaults: cpu 224=8 512=2 1024=1 dino=2; "
                        "cuda 224=64 512=16 1024=4 dino=32)")
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--amp', action='store_true', help='bf16 autocast')
    p.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: all cores)')
    p.add_argument('--out-dir', default='work_dirs/benchmark')
    args = p.parse_args(argv)
    batch = {}
    for item in args.batch:
        k, _, v = item.partition('=')
        if not v.isdigit() or not (k == 'dino' or k.isdigit()):
            p.error(f'--batch entries look like 512=4 or dino=8, got {item!r}')
        batch[k if k == 'dino' else int(k)] = int(v)
    args.batch = batch
    for r in args.resolutions:
        if r % 16:
            p.error(f'--resolutions: {r} is not a multiple of 16')
    if args.device == 'cuda' and not torch.cuda.is_available():
        p.error('--device cuda: no CUDA device is available')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings('ignore', message='.*profiler.*')
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device_name = torch.cuda.get_device_name() if args.device == 'cuda' else (platform.processor() or 'cpu') + \
        f' ({os.cpu_count()} cores)'
    env = dict(device=args.device, device_name=device_name, torch=torch.__version__,
               threads=torch.get_num_threads(), amp=args.amp, repeats=args.repeats, python=sys.version.split()[0])
    rows = []
    for res in args.resolutions:
        for name in args.models:
            rows.append(bench_resolution(name, res, args))
            print(f"{res:>5} {name:<26} fwd+bwd {rows[-1]['fwdbwd_s'] * 1e3:9.1f} ms", flush=True)
    if not args.no_dino:
        for name in [m for m in args.models if m in (REFERENCE, 'ViT-S/16 (mmrats mhsa)', 'RATS-S/16')]:
            rows.append(bench_dino(name, args))
            print(f" dino {name:<26} step    {rows[-1]['fwdbwd_s'] * 1e3:9.1f} ms", flush=True)
    add_ratios(rows)
    checks = targets(rows)
    md = markdown(rows, checks, env)
    print(md)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f'benchmark_{args.device}.json').write_text(json.dumps(dict(env=env, rows=rows, targets=checks),
                                                                  indent=2))
    (out / f'benchmark_{args.device}.md').write_text(md)
    print(f'wrote {out}/benchmark_{args.device}.json and .md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
