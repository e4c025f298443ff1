#!/usr/bin/env python
"""Cost of RATS vs ViT-S/16, like the paper's Table 3: prints a table, writes JSON + markdown.

    python tools/analysis/benchmark.py [--device cpu|cuda] [--resolutions 224 512 1024]
        [--models ...] [--repeats 3] [--amp] [--compile [--compile-backend B]] [--dino-split] [--sdpa-check]
        [--profile]
        [--peak-tflops T] [--out-dir work_dirs/benchmark]

Rows: timm ViT-S/16 (SDPA; the reference), our ``mhsa`` ViT-S/16, RATS-S
(partitioned), RATS-S shared registers, RATS-S learned communicate, RATS-S +
parallel branch (the fine-tuning backbone), at each resolution; then one DINO
multi-crop step (2 x 224 + 10 x 96 crops, crops of equal size batched; student
forward + backward on all crops, teacher forward on the global crops;
backbones only). Columns: parameters, forward GFLOPs (manual attention path,
``torch.utils.flop_counter``; 1 image), peak memory and latency of forward and
of forward + backward, images/s, and the ratios to timm ViT-S/16 measured in
the same run.

Timing: the models of one section are built first and then timed in turn,
repeat after repeat (interleaved), so that load from other processes falls on
all of them alike; the table gives the median of ``--repeats`` after one
warm-up round, the JSON also the minimum.

Options: ``--compile`` adds a ``torch.compile``d twin of every row (the
backbone's ``forward_features``; its ratios are to the compiled reference);
``--dino-split`` adds the DINO step's local and global crops alone (student
forward + backward) and the teacher's forward, and a table of the step by
these parts (``mmrats/utils/benchmark/dino_parts.py``); ``--sdpa-check`` reports, for every attention path of
every model (compress, communicate, broadcast, parallel, MHSA), which
``scaled_dot_product_attention`` kernel runs on this device and dtype, which
backends accept the path's exact tensors (``torch.nn.attention.sdpa_kernel``)
and, on CUDA, how far the path's output is from float32 on the CPU;
``--profile`` prints the ``torch.profiler`` table of the DINO local-crop step
(student forward + backward on the 10 crops of 96). The DINO
rows also get the FLOPs of the whole step (student forward + backward, teacher
forward; counted once) and the achieved TFLOP/s; with a peak (``--peak-tflops``,
or known for the GPU when ``--amp``), the model FLOP utilisation.

Peak memory: CUDA ``max_memory_allocated``; CPU, the peak of live tensor bytes
replayed from the profiler's allocation events (one extra step under
``torch.profiler`` with ``profile_memory=True``), i.e. what the tensors
themselves need, not the process RSS (:mod:`mmrats.utils.benchmark.timing`).

The global representation of our rows is :mod:`mmrats.models.utils.global_repr`'s
``'auto'`` (the registers' mean for RATS, [CLS] for the ViT); timm's is its
[CLS]. The machinery (steps, timing, peak memory, FLOPs, the SDPA check) is
:mod:`mmrats.utils.benchmark`; this tool holds the cases, the table and the
command line.
"""
import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import torch

from mmrats.models import RATSViT
from mmrats.utils.benchmark import (COMPILED, Case, Step, add_ratios, check_attention_paths, dino_step_tflop, gflops,
                                    profile_table, run_cases)
from mmrats.utils.benchmark.dino_parts import step_parts, step_parts_markdown

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
DINO_MODELS = (REFERENCE, 'ViT-S/16 (mmrats mhsa)', 'RATS-S/16')
DINO = 'DINO step 2x224+10x96'
DINO_LOCAL, DINO_GLOBAL = 'DINO local crops 10x96', 'DINO global crops 2x224'
DINO_TEACHER = 'DINO teacher fwd 2x224'
DEFAULT_BATCH = dict(cpu={224: 8, 512: 2, 1024: 1, 'dino': 4}, cuda={224: 64, 512: 16, 1024: 4, 'dino': 32})
# Dense bf16 tensor-core peaks (TFLOP/s) from the vendors' data sheets, for --amp on these GPUs.
PEAK_BF16_TFLOPS = {'H100 PCIe': 756.0, 'H100': 989.4, 'H200': 989.4, 'A100': 312.0, 'L40S': 362.0}


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


def compile_backbone(model: torch.nn.Module, backend: str = 'inductor') -> torch.nn.Module:
    """``torch.compile`` the backbone's ``forward_features`` (what DINO and :func:`tokens` call), in place."""
    model.forward_features = torch.compile(model.forward_features, backend=backend, dynamic=False)
    return model


def resolution_cases(res: int, names: list, args) -> list[Case]:
    b = args.batch.get(res) or DEFAULT_BATCH[args.device][res]
    x = torch.randn(b, 3, res, res, device=args.device)
    cases = []
    for name in names:
        model = build(name, res).train()
        flops = gflops(model, [(1, 3, res, res)]) if args.flops else None
        params = sum(p.numel() for p in model.parameters())
        model.to(args.device)
        for compiled in [False, True] if args.compile else [False]:
            if compiled:
                model = compile_backbone(build(name, res).train().to(args.device), args.compile_backend)
            cases.append(Case(f'{res}x{res}', name + (COMPILED if compiled else ''), b, params,
                              Step([model], [x], False, amp=args.amp, device=args.device),
                              Step([model], [x], True, amp=args.amp, device=args.device), flops))
    return cases


def dino_cases(names: list, args) -> list[Case]:
    b = args.batch.get('dino') or DEFAULT_BATCH[args.device]['dino']
    globals_ = torch.randn(2 * b, 3, 224, 224, device=args.device)
    locals_ = torch.randn(10 * b, 3, 96, 96, device=args.device)
    cases = []
    for name in names:
        student = build(name, 224, dynamic=True).train()
        flops = gflops(student, [(2, 3, 224, 224), (10, 3, 96, 96)]) if args.flops else None
        tflop = dino_step_tflop(student) if args.flops else None
        params = sum(p.numel() for p in student.parameters())
        for compiled in [False, True] if args.compile else [False]:
            if compiled:
                student = build(name, 224, dynamic=True).train()
            student.to(args.device)
            teacher = build(name, 224, dynamic=True).to(args.device).eval().requires_grad_(False)
            if compiled:
                compile_backbone(student, args.compile_backend)
                compile_backbone(teacher, args.compile_backend)
            suffix = COMPILED if compiled else ''
            kw = dict(amp=args.amp, device=args.device)
            cases.append(Case(DINO, name + suffix, b, params, None,
                              Step([student], [globals_, locals_], True, teacher=(teacher, [globals_]), **kw),
                              flops, tflop))
            if args.dino_split:
                cases.append(Case(DINO_LOCAL, name + suffix, b, params, None,
                                  Step([student], [locals_], True, **kw), None))
                cases.append(Case(DINO_GLOBAL, name + suffix, b, params, None,
                                  Step([student], [globals_], True, **kw), None))
                cases.append(Case(DINO_TEACHER, name + suffix, b, params, None,
                                  Step([teacher], [globals_], False, **kw), None))
    return cases


def targets(rows: list) -> list:
    """The issues' targets, checked on this run's (eager) numbers."""
    def get(section, model):
        return next((r for r in rows if r['section'] == section and r['model'] == model), None)
    checks = []
    for section, model, key, op, goal, text in [
            ('512x512', 'RATS-S/16', 'speedup_vs_ref', '>=', 1.6, 'fwd+bwd speed-up vs timm ViT-S/16 at 512'),
            ('512x512', 'RATS-S/16', 'mem_vs_ref', '<=', 0.6, 'fwd+bwd peak memory vs timm ViT-S/16 at 512'),
            ('1024x1024', 'RATS-S/16', 'speedup_vs_ref', '>=', 3.5, 'fwd+bwd speed-up vs timm ViT-S/16 at 1024'),
            (DINO, 'RATS-S/16', 'time_vs_ref', '<=', 2.0, 'DINO multi-crop step time vs ViT-S/16'),
            ('512x512', 'RATS-S/16 + parallel', 'time_vs_ref', '<=', 1.15,
             'parallel-branch backbone fwd+bwd time vs ViT-S/16 at 512')]:
        r = get(section, model)
        if r is None or key not in r:
            continue
        v = r[key]
        checks.append(dict(target=text, value=round(v, 3), goal=f'{op} {goal}',
                           met=bool(v >= goal if op == '>=' else v <= goal)))
    return checks


def profile_local_crops(names: list, args, top: int = 12) -> dict[str, str]:
    """``torch.profiler`` table (top ops by self CPU time) of one student step on the local crops alone."""
    b = args.batch.get('dino') or DEFAULT_BATCH[args.device]['dino']
    x = torch.randn(10 * b, 3, 96, 96, device=args.device)
    tables = {}
    for name in names:
        model = build(name, 224, dynamic=True).to(args.device).train()
        tables[name] = profile_table(Step([model], [x], True, amp=args.amp, device=args.device), top)
        print(f'profile of the local-crop step (10 x {b} crops of 96, fwd+bwd), {name}:\n{tables[name]}', flush=True)
    return tables


def sdpa_check(names: list, args) -> list[dict]:
    """Which SDPA kernel every attention path of every model uses (see module doc; timm and manual rows skipped)."""
    rows = []
    for name in names:
        if MODELS[name] is None or 'manual attn' in name:
            continue
        for res in (224, 96):
            model = build(name, 224, dynamic=True).to(args.device).train()
            x = torch.randn(2, 3, res, res, device=args.device)
            rows += [dict(model=name, crop=res, **r) for r in check_attention_paths(model, x, args.amp)]
    return rows


# -------------------------------------------------------------------- output
def fmt(v, spec):
    return '-' if v is None else format(v, spec)


def markdown(rows: list, checks: list, env: dict, sdpa: list | None = None) -> str:
    lines = [f"Device: {env['device_name']}; torch {env['torch']}; {env['threads']} threads; "
             f"dtype {'bf16 autocast' if env['amp'] else 'float32'}; median of {env['repeats']} interleaved "
             'repeats.', '',
             '| section | model | batch | params (M) | fwd GFLOPs/img (DINO: 12 crops) | fwd ms | fwd+bwd ms | img/s | '
             'peak mem (MB) | fwd+bwd speed-up vs timm (x) | peak mem vs timm (x) |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(
            f"| {r['section']} | {r['model']} | {r['batch']} | {r['params'] / 1e6:.2f} | {fmt(r['gflops'], '.2f')} | "
            f"{fmt(r['fwd_s'] and r['fwd_s'] * 1e3, '.0f')} | {r['fwdbwd_s'] * 1e3:.0f} | {r['img_per_s']:.2f} | "
            f"{r['peak_mem_fwdbwd_mb']:.0f} | {fmt(r.get('speedup_vs_ref'), '.2f')} | "
            f"{fmt(r.get('mem_vs_ref'), '.2f')} |")
    dino = [r for r in rows if 'step_tflop_per_img' in r]
    if dino:
        lines += ['', '| DINO step | batch | step time (x timm, median / min) | TFLOP / img (fwd+bwd+teacher) | '
                  'achieved TFLOP/s | MFU |', '|---|---|---|---|---|---|']
        lines += [f"| {r['model']} | {r['batch']} | {fmt(r.get('time_vs_ref'), '.2f')} / "
                  f"{fmt(r.get('time_vs_ref_min'), '.2f')} | {r['step_tflop_per_img']:.3f} | "
                  f"{r['achieved_tflops']:.3f} | {fmt(r.get('mfu') and 100 * r['mfu'], '.1f')}"
                  f"{'%' if r.get('mfu') else ''} |" for r in dino]
    if checks:
        lines += ['', '| target | measured | goal | met |', '|---|---|---|---|']
        lines += [f"| {c['target']} | {c['value']} | {c['goal']} | {'yes' if c['met'] else 'NO'} |" for c in checks]
    if sdpa:
        keys = list(sdpa[0]['accepts'])
        lines += ['', f"| model | crop | path | q shape | dtype | kernel that runs | {' | '.join(keys)} | "
                  'max abs err vs CPU fp32 |', '|---' * (7 + len(keys)) + '|']
        for s in sdpa:
            ok = ' | '.join('yes' if s['accepts'][k] else 'no' for k in keys)
            err = fmt(s.get('max_abs_err_vs_cpu_fp32'), '.2e')
            lines.append(f"| {s['model']} | {s['crop']} | {s['path']} | {tuple(s['q'])} | {s['dtype']} | "
                         f"{s['kernel']} | {ok} | {err} |")
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu', choices=('cpu', 'cuda'))
    p.add_argument('--resolutions', type=int, nargs='*', default=[224, 512, 1024])
    p.add_argument('--models', nargs='+', default=list(MODELS), choices=list(MODELS), metavar='MODEL',
                   help=f'subset of: {list(MODELS)}')
    p.add_argument('--no-dino', action='store_true', help='skip the DINO multi-crop step')
    p.add_argument('--dino-split', action='store_true', help='also time the local and the global crops alone')
    p.add_argument('--no-flops', dest='flops', action='store_false', help='skip the FLOP count')
    p.add_argument('--batch', nargs='*', default=[], metavar='RES=B',
                   help="batch per resolution, e.g. 512=4 dino=8 (defaults: cpu 224=8 512=2 1024=1 dino=4; "
                        "cuda 224=64 512=16 1024=4 dino=32)")
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--amp', action='store_true', help='bf16 autocast')
    p.add_argument('--compile', action='store_true', help='add torch.compile rows')
    p.add_argument('--compile-backend', default='inductor', help='torch.compile backend of --compile')
    p.add_argument('--sdpa-check', action='store_true', help='report the SDPA kernel of every attention path')
    p.add_argument('--profile', action='store_true', help='profile the DINO local-crop step of the DINO models')
    p.add_argument('--peak-tflops', type=float, default=None,
                   help='peak TFLOP/s of the device for the model FLOP utilisation (default: known GPUs with --amp)')
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
    if args.repeats < 1:
        p.error('--repeats must be >= 1')
    if args.device == 'cuda' and not torch.cuda.is_available():
        p.error('--device cuda: no CUDA device is available')
    if args.peak_tflops is None and args.device == 'cuda' and args.amp:
        gpu = torch.cuda.get_device_name()
        args.peak_tflops = next((v for k, v in PEAK_BF16_TFLOPS.items() if k in gpu), None)
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
               threads=torch.get_num_threads(), amp=args.amp, compile=args.compile, repeats=args.repeats,
               peak_tflops=args.peak_tflops, python=sys.version.split()[0], date=time.strftime('%Y-%m-%d %H:%M'))
    rows = []
    for res in args.resolutions:
        rows += run_cases(resolution_cases(res, args.models, args), args.device, args.repeats, args.peak_tflops)
    if not args.no_dino:
        rows += run_cases(dino_cases([m for m in args.models if m in DINO_MODELS], args), args.device, args.repeats,
                          args.peak_tflops)
    add_ratios(rows, REFERENCE)
    checks = targets(rows)
    sdpa = sdpa_check(args.models, args) if args.sdpa_check else None
    profiles = profile_local_crops([m for m in args.models if m in DINO_MODELS], args) if args.profile else None
    parts = step_parts(rows, DINO, DINO_LOCAL, DINO_GLOBAL, DINO_TEACHER)
    md = markdown(rows, checks, env, sdpa) + '\n'.join(step_parts_markdown(parts) + [''])
    print(md)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f'benchmark_{args.device}.json').write_text(
        json.dumps(dict(env=env, rows=rows, targets=checks, sdpa=sdpa, profiles=profiles, dino_parts=parts), indent=2))
    (out / f'benchmark_{args.device}.md').write_text(md)
    print(f'wrote {out}/benchmark_{args.device}.json and .md')
    return 0


if __name__ == '__main__':
    sys.exit(main())
