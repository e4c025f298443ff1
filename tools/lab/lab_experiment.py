#!/usr/bin/env python
"""Lab-scale evidence: do the RATS registers become parts? One command, CPU-sized (docs/lab_scale.md).

    python tools/lab/lab_experiment.py [--setting quick|default|long] [--seeds 0 1 2]
        [--models rats vit vitreg] [--work-dir work_dirs/lab] [--data-root data/part_objects]
        [--no-finetune] [--epochs N] [--m2f-iters N] [--resume] [--verbose]
        [--report | --rediagnose | --merge RUN_DIR...]

For every seed and model (``rats``: RATS, 16 registers; ``vit``: ViT with
[CLS]; ``vitreg``: ViT with [CLS] + 16 registers; same width, depth and
parameter budget, checked within 2 %):

1. DINO pretraining with ``mmrats.DINO`` on the procedural part-structured
   objects drawn in memory (``configs/lab/dino_*-lab_*.py``; the same recipe,
   data and steps for every model), with part discovery on held-out
   ``val`` images logged every few epochs (``mmrats.PartDiscoveryMetric``);
2. on the held-out ``test`` split, for the pretrained teacher and the untrained
   backbone (the same architecture, random init with the same seed): part
   discovery M2O / O2O / ARI with a top-K sweep (RATS: register-patch
   similarity, Eq. 7; ViT: [CLS] attention per head; ViT + registers: register
   attention), map diagnostics, and k-NN top-1 on the categories from the
   global representation;
3. Mask2Former on the part labels from each pretrained backbone (RATS with
   register queries, RATS with learned queries, ViT with learned queries; the
   same iterations), mIoU on the test split;

then writes ``WORK_DIR/lab_results.json``, ``WORK_DIR/lab_results.md`` (mean ±
std over seeds) and pictures (``WORK_DIR/pictures``). ``--setting quick`` is a
minutes-long smoke run of every step (the test runs it).

The console shows one line per step with a progress bar and the step's
results; each step's full log (mmengine's, the configs) goes to
``WORK_DIR/logs/`` (``--verbose`` streams everything instead).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import resource
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import mmrats  # noqa: F401  (first: torch >= 2.6 resume fix, known-warning filters)
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmrats.datasets.part_objects_writer import write_part_objects
from mmrats.models import RATSViT
from mmrats.utils.console import say, stage
from mmrats.utils.run_config import unique_visualizer

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tools.lab import lab_eval, lab_report  # noqa: E402
from tools.model_converters import dino2backbone  # noqa: E402

DINO_CONFIGS = {'rats': 'configs/lab/dino_rats-lab_1xb32-2e_part-objects-64.py',
                'vit': 'configs/lab/dino_vit-lab_1xb32-2e_part-objects-64.py',
                'vitreg': 'configs/lab/dino_vitreg-lab_1xb32-2e_part-objects-64.py',
                # not in the default set: the learned part dictionary (docs/part_dictionary.md) and the
                # LaSt-ViT aggregation (docs/diagnostics.md), the same recipe; --models to add them
                'rats-codebook': 'configs/lab/dino_rats-lab-codebook_1xb32-2e_part-objects-64.py',
                'rats-codebook-large': 'configs/lab/dino_rats-lab-codebook-large_1xb32-2e_part-objects-64.py',
                'vit-lastvit': 'configs/lab/dino_vit-lastvit-lab_1xb32-2e_part-objects-64.py'}
M2F_CONFIGS = {'rats-regq': ('rats', 'configs/lab/mask2former_rats-lab-regq_1xb8-100it_part-objects-96.py'),
               'rats-learned': ('rats', 'configs/lab/mask2former_rats-lab_1xb8-100it_part-objects-96.py'),
               'vit-learned': ('vit', 'configs/lab/mask2former_vit-lab_1xb8-100it_part-objects-96.py')}


@dataclass(frozen=True)
class Setting:
    """Sizes of one run of the experiment."""

    epochs: int
    num_images: int  # pretraining images (drawn in memory, the same for every model and seed)
    batch_size: int
    val_images: int  # held-out images of the per-epoch part-discovery metric
    val_interval: int
    test_images: int  # held-out test images (part discovery, k-NN queries, Mask2Former mIoU)
    knn_images: int  # k-NN reference images (train split)
    m2f_train_images: int
    m2f_iters: int
    seeds: tuple[int, ...]
    top_ks: tuple[int, ...] = (2, 4, 8, 16)


CHECKPOINT_EPOCHS = 5  # DINO pretraining: a checkpoint every 5 epochs (and the last), for --resume

SETTINGS = {
    'quick': Setting(epochs=1, num_images=32, batch_size=16, val_images=8, val_interval=1, test_images=8,
                     knn_images=16, m2f_train_images=16, m2f_iters=2, seeds=(0,)),
    # the configs' own sizes, planned for about 60 min on the idle 2-core CPU (docs/lab_scale.md)
    'default': Setting(epochs=2, num_images=2048, batch_size=32, val_images=100, val_interval=1,
                       test_images=200, knn_images=1000, m2f_train_images=1000, m2f_iters=100, seeds=(0, 1, 2)),
    # 10x the pretraining and 3x the fine-tuning of the default (hours)
    'long': Setting(epochs=20, num_images=2048, batch_size=32, val_images=100, val_interval=2,
                    test_images=200, knn_images=1000, m2f_train_images=1000, m2f_iters=300, seeds=(0, 1, 2)),
}


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (data workers), user + system.

    On the shared machine the wall time depends on the load; ``cpu / threads``
    estimates the wall time on the idle 2-core CPU.
    """
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def dino_cfg(model: str, seed: int, s: Setting, work_dir: str, options: dict | None = None) -> Config:
    """The lab DINO config of ``model`` sized by the setting, schedules stretched to its epochs.

    ``options`` (``--cfg-options``) are merged into every model's config alike, before the sizes.
    """
    cfg = Config.fromfile(str(REPO / DINO_CONFIGS[model]))
    if options:
        cfg.merge_from_dict(options, allow_list_keys=True)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.train_dataloader.batch_size = s.batch_size
    cfg.train_dataloader.dataset.num_images = s.num_images
    cfg.val_dataloader.dataset.num_images = s.val_images
    cfg.val_dataloader.batch_size = min(cfg.val_dataloader.batch_size, s.val_images)
    cfg.train_cfg.max_epochs = s.epochs
    cfg.train_cfg.val_interval = s.val_interval
    warmup, cosine, wd = cfg.param_scheduler
    warm = min(warmup.end, s.epochs // 2)
    warmup.end = warm
    cosine.update(begin=warm, end=s.epochs, T_max=max(1, s.epochs - warm))
    wd.end = s.epochs
    cfg.param_scheduler = ([warmup] if warm else []) + [cosine, wd]
    # A checkpoint every few epochs (only the newest kept): ``--resume`` continues an interrupted pretraining.
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=min(s.epochs, CHECKPOINT_EPOCHS),
                                        max_keep_ckpts=1)
    cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(type='mmrats.ProgressBarHook')]
    unique_visualizer(cfg)
    return cfg


def scalars(log_dirs: list[str], last_epoch: int) -> tuple[list[dict], list[dict]]:
    """Per-epoch means of the training scalars, and the validation rows, of one pretraining's log folders.

    A resumed pretraining logs into a new timestamped folder: ``log_dirs`` are read oldest first and a
    later folder's rows replace those of the epochs (validation steps) it ran again; rows after
    ``last_epoch`` (of an older, longer run in the same folder) are left out.
    """
    by_epoch: dict[int, list[dict]] = {}
    by_step: dict[int, dict] = {}
    for log_dir in log_dirs:
        fresh: dict[int, list[dict]] = {}
        for line in (Path(log_dir) / 'vis_data' / 'scalars.json').read_text().splitlines():
            r = json.loads(line)
            if 'loss' in r and 'epoch' in r:
                fresh.setdefault(r['epoch'], []).append(r)
            elif any(k.startswith('parts/') for k in r):
                by_step[r['step']] = {k: v for k, v in r.items() if k.startswith('parts/') or k == 'step'}
        by_epoch.update(fresh)
    keys = ('loss', 'teacher_entropy', 'teacher_kl_uniform')
    epochs = [dict(epoch=e, **{k: sum(r[k] for r in by_epoch[e]) / len(by_epoch[e]) for k in keys})
              for e in sorted(by_epoch) if e <= last_epoch]
    return epochs, [by_step[k] for k in sorted(by_step) if k <= last_epoch]


def untrained_backbone(model: str, seed: int, options: dict | None = None) -> RATSViT:
    """The model's backbone (with ``--cfg-options``) with a random init (seed ``seed``) at the evaluation size."""
    cfg = Config.fromfile(str(REPO / DINO_CONFIGS[model]))
    if options:
        cfg.merge_from_dict(options, allow_list_keys=True)
    cfg = cfg.model.backbone
    kwargs = {k: v for k, v in cfg.items() if k != 'type'}
    kwargs['arch'] = {k: v for k, v in kwargs['arch'].items() if k != '_delete_'}
    torch.manual_seed(seed)
    return RATSViT(**kwargs).eval()


def load_backbone(path: str) -> RATSViT:
    """A backbone written by ``dino2backbone.py`` (its ``meta.backbone`` config, loaded strictly)."""
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    kwargs = {k: v for k, v in ckpt['meta']['backbone'].items() if k != 'type'}
    model = RATSViT(**kwargs)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    return model.eval()


def pretrain(model: str, seed: int, s: Setting, work_dir: str, options: dict | None = None,
             resume: bool = False) -> dict:
    """DINO pretraining of one model; the teacher backbone extracted (and, for RATS, its fine-tuning form).

    With ``resume``, a pretraining interrupted in ``work_dir`` continues from its newest checkpoint (saved
    every ``CHECKPOINT_EPOCHS`` epochs); its times then count the continued part only.
    """
    cfg = dino_cfg(model, seed, s, work_dir, options)
    cfg.train_dataloader.persistent_workers = False  # workers end with each epoch: their CPU time is counted
    last = Path(work_dir) / 'last_checkpoint'
    newest = Path(last.read_text().strip()) if last.is_file() else None
    resumed_from = None
    if resume and newest is not None and newest.is_file():
        cfg.resume = True  # mmengine loads the checkpoint named in work_dir/last_checkpoint
        resumed_from = int(newest.stem.split('_')[-1])
        say(f'    continuing the interrupted pretraining from its epoch {resumed_from}')
    t0, c0 = time.time(), cpu_seconds()
    runner = Runner.from_cfg(cfg)
    runner.train()
    seconds, cpu = time.time() - t0, cpu_seconds() - c0
    ckpt = osp.join(work_dir, f'epoch_{runner.epoch}.pth')
    # a resumed run's earlier epochs are in the log folders of the sessions before it (named by their start)
    logs = ([d for d in sorted(str(p.parent.parent) for p in Path(work_dir).glob('*/vis_data/scalars.json'))
             if Path(d).name <= Path(runner.log_dir).name] if resumed_from is not None else [runner.log_dir])
    epochs, val = scalars(logs, runner.epoch)
    out = dict(seconds=round(seconds, 1), cpu_seconds=round(cpu, 1), iters=runner.iter, epochs=epochs, val=val,
               backbone=osp.join(work_dir, 'teacher_backbone.pth'))
    if resumed_from is not None:
        out['resumed_from_epoch'] = resumed_from
    if dino2backbone.main([ckpt, out['backbone'], '--force']) != 0:
        raise SystemExit(f'error: could not extract the teacher of {ckpt}')
    if model == 'rats':
        out['finetune_backbone'] = osp.join(work_dir, 'teacher_backbone_finetune.pth')
        if dino2backbone.main([ckpt, out['finetune_backbone'], '--force', '--finetune']) != 0:
            raise SystemExit(f'error: could not extract the fine-tuning teacher of {ckpt}')
    return out


def finetune(variant: str, backbone: str, seed: int, s: Setting, data_root: str, work_dir: str) -> dict:
    """Mask2Former on the part labels from a pretrained backbone; mIoU on the test split."""
    cfg = Config.fromfile(str(REPO / M2F_CONFIGS[variant][1]))
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=backbone)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = osp.join(data_root, 'ade')
    cfg.train_cfg.max_iters = s.m2f_iters
    cfg.param_scheduler[0].end = s.m2f_iters
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None  # evaluated once, by the test pass below
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=s.m2f_iters, max_keep_ckpts=1)
    cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(type='mmrats.ProgressBarHook')]
    unique_visualizer(cfg)
    t0, c0 = time.time(), cpu_seconds()
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    return dict(mIoU=float(metrics['mIoU']), mAcc=float(metrics['mAcc']), seconds=round(time.time() - t0, 1),
                cpu_seconds=round(cpu_seconds() - c0, 1))


def diagnose(backbone: RATSViT, test: lab_eval.HeldOut, pd: dict) -> dict:
    """Diagnostics of one backbone's candidate maps (``pd``: its part-discovery result on ``test``)."""
    heads = lab_eval.attention_entropy_per_head(backbone, test)
    return dict(attention_entropy=float(sum(heads) / len(heads)), attention_entropy_per_head=heads,
                specialisation=lab_eval.part_specialisation(backbone, test, pd['method']),
                map_similarity=pd['map_similarity'], regions_used=pd['regions_used'], num_maps=pd['num_maps'],
                method=pd['method'])


def rediagnose(work: Path) -> int:
    """``--rediagnose``: the diagnostics of a saved run computed again (those added since it ran, too)."""
    results = saved_results(work)
    if results is None:
        return 2
    test = lab_eval.held_out(results['sizes']['test_images'], 'test')
    for key, r in results['pretrain'].items():
        model, seed = key.split('/seed')
        for state, bb in (('pretrained', load_backbone(r['backbone'])),
                          ('untrained', untrained_backbone(model, int(seed), results.get('cfg_options')))):
            results['diagnostics'][f'{key}/{state}'] = diagnose(bb, test, results['parts'][f'{key}/{state}'])
            print(f'   {key}/{state}: rediagnosed', flush=True)
    (work / 'lab_results.json').write_text(json.dumps(results, indent=2))
    return report(work)


def param_budget(models: list[str], options: dict | None = None) -> dict:
    """Parameters of each backbone; raises if they differ by more than 2 %."""
    counts = {m: sum(p.numel() for p in untrained_backbone(m, 0, options).parameters()) for m in models}
    lo, hi = min(counts.values()), max(counts.values())
    if hi > 1.02 * lo:
        raise SystemExit(f'error: backbone parameters differ by more than 2 %: {counts}')
    return counts


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--setting', choices=sorted(SETTINGS), default='default')
    p.add_argument('--seeds', type=int, nargs='+', default=None, help="default: the setting's (3 seeds)")
    p.add_argument('--models', nargs='+', choices=sorted(DINO_CONFIGS), default=['rats', 'vit', 'vitreg'])
    p.add_argument('--epochs', type=int, default=None, help="pretraining epochs (default: the setting's)")
    p.add_argument('--m2f-iters', type=int, default=None, help="Mask2Former iterations (default: the setting's)")
    p.add_argument('--work-dir', default='work_dirs/lab')
    p.add_argument('--data-root', default=None, help='written part objects (default: WORK_DIR/data)')
    p.add_argument('--no-finetune', action='store_true', help='skip Mask2Former')
    p.add_argument('--verbose', action='store_true',
                   help='stream every log line instead of one line per step (the logs are in WORK_DIR/logs)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                   help='override keys of the DINO configs, the same for every model '
                        '(e.g. model.head.centering=sinkhorn_knopp optim_wrapper.optimizer.lr=2e-4)')
    p.add_argument('--report', action='store_true',
                   help='only rebuild lab_results.md and the pictures from WORK_DIR/lab_results.json '
                        '(e.g. of an interrupted run)')
    p.add_argument('--resume', action='store_true',
                   help='continue the run in WORK_DIR: keep the steps its lab_results.json holds (same setting, '
                        'sizes and --cfg-options), run the rest (e.g. Mask2Former after a --no-finetune run); '
                        'an interrupted pretraining continues from its newest checkpoint (every '
                        f'{CHECKPOINT_EPOCHS} epochs)')
    p.add_argument('--rediagnose', action='store_true',
                   help='compute the diagnostics of the saved backbones of WORK_DIR again (e.g. of a run made '
                        'before a diagnostic was added), then rebuild its tables and pictures')
    p.add_argument('--merge', nargs='+', default=None, metavar='RUN_DIR',
                   help='combine the lab_results.json of runs made with other --seeds or --models (e.g. one '
                        'process per seed or per model) into WORK_DIR, then write its tables and pictures')
    args = p.parse_args(argv)
    for name in ('epochs', 'm2f_iters'):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    return args


def saved_results(work: Path) -> dict | None:
    """The results saved in ``work``; None, with the error printed, when there are none."""
    path = work / 'lab_results.json'
    if not path.is_file():
        print(f'error: {path} does not exist: run the experiment first (without --report / --rediagnose)',
              file=sys.stderr)
        return None
    return json.loads(path.read_text())


def report(work: Path) -> int:
    """Tables and pictures of the results saved in ``work`` (a finished or an interrupted run)."""
    results = saved_results(work)
    if results is None:
        return 2
    md = lab_report.markdown(results)
    (work / 'lab_results.md').write_text(md)
    lab_report.pictures(results, lab_eval.held_out(results['sizes']['test_images'], 'test'), work / 'pictures')
    print(md)
    print(f"wrote {work / 'lab_results.md'} and {work / 'pictures'}")
    return 0


def merge_results(parts: list[dict], names: list[str]) -> dict:
    """The results of runs of one recipe with other seeds or other models as one.

    Runs may split the work by seed (one process per seed) or by model (one process per model); together they
    must hold every model for every seed once.

    Raises:
        ValueError: names what differs (setting, ``--cfg-options``, sizes), a model and seed held twice, or one
            missing.
    """
    for name, r in zip(names[1:], parts[1:]):
        for key in ('setting', 'cfg_options'):
            if r.get(key) != parts[0].get(key):
                raise ValueError(f'{name} differs from {names[0]} in {key!r} ({r.get(key)} vs {parts[0].get(key)}): '
                                 'only runs of one recipe can be merged')
        other = {k: v for k, v in r['sizes'].items() if k != 'seeds'}
        if other != {k: v for k, v in parts[0]['sizes'].items() if k != 'seeds'}:
            raise ValueError(f'{name} differs from {names[0]} in its sizes ({other}): only runs of one setting '
                             '(and --epochs) can be merged')
    held = [(m, s) for r in parts for m in r['models'] for s in r['sizes']['seeds']]
    twice = sorted({f'{m}/seed{s}' for m, s in held if held.count((m, s)) > 1})
    if twice:
        raise ValueError(f'{", ".join(twice)} appears in more than one run: merge runs of other seeds or models')
    models = list(dict.fromkeys(m for r in parts for m in r['models']))
    seeds = sorted({s for _, s in held})
    missing = [f'{m}/seed{s}' for m in models for s in seeds if (m, s) not in held]
    if missing:
        raise ValueError(f'no run holds {", ".join(missing)}: the merged runs must hold every model for every seed '
                         '(run them with --models and --seeds, then merge)')
    merged = dict(parts[0])
    merged['sizes'] = dict(parts[0]['sizes'], seeds=seeds)
    merged['models'] = models
    merged['params'] = {k: v for r in parts for k, v in r.get('params', {}).items()}
    for key in ('pretrain', 'parts', 'knn', 'diagnostics', 'm2f'):
        merged[key] = {k: v for r in parts for k, v in r[key].items()}
    for key in ('total_seconds', 'total_cpu_seconds'):
        merged[key] = round(sum(r.get(key, 0.0) for r in parts), 1)
    merged['merged_from'] = list(names)
    return merged


def resumed(path: Path, fresh: dict) -> dict:
    """``--resume``: the saved results of ``path`` extended to ``fresh``'s seeds and models.

    Raises:
        ValueError: the saved run has another setting, sizes (seeds apart) or ``--cfg-options``.
    """
    old = json.loads(path.read_text())
    for key in ('setting', 'cfg_options'):
        if old.get(key) != fresh[key]:
            raise ValueError(f'{path} was run with {key} {old.get(key)!r}, not {fresh[key]!r}: resume with the '
                             'same options, or use another --work-dir')
    # the sizes of the steps the saved run holds must match; Mask2Former's may change while it has none
    free = ('seeds',) + (('m2f_train_images', 'm2f_iters') if not old['m2f'] else ())
    sizes = {k: v for k, v in json.loads(json.dumps(fresh['sizes'])).items() if k not in free}  # as saved
    saved = {k: v for k, v in old['sizes'].items() if k not in free}
    if saved != sizes:
        diff = sorted(k for k in sizes if saved.get(k) != sizes[k])
        raise ValueError(f'{path} was run with other sizes ({", ".join(f"{k}={saved.get(k)}" for k in diff)}): '
                         'resume with the same --setting, --epochs and --m2f-iters, or use another --work-dir')
    out = dict(old)
    out['sizes'] = dict(fresh['sizes'], seeds=sorted(set(old['sizes']['seeds']) | set(fresh['sizes']['seeds'])))
    out['models'] = list(dict.fromkeys(old['models'] + fresh['models']))
    out['params'] = {**old.get('params', {}), **fresh['params']}
    return out


def merge(runs: list[str], work: Path) -> int:
    """``--merge``: one ``lab_results.json`` in ``work`` from finished runs (other seeds or models), then the report."""
    parts = []
    for run in runs:
        path = Path(run) / 'lab_results.json'
        if not path.is_file():
            print(f'error: {path} does not exist (--merge takes the work dirs of finished runs)', file=sys.stderr)
            return 2
        parts.append(json.loads(path.read_text()))
    try:
        merged = merge_results(parts, [str(Path(run)) for run in runs])
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    work.mkdir(parents=True, exist_ok=True)
    (work / 'lab_results.json').write_text(json.dumps(merged, indent=2))
    return report(work)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.merge:
        return merge(args.merge, Path(args.work_dir))
    if args.report:
        return report(Path(args.work_dir))
    if args.rediagnose:
        return rediagnose(Path(args.work_dir))
    s = SETTINGS[args.setting]
    s = replace(s, seeds=tuple(args.seeds) if args.seeds else s.seeds, epochs=args.epochs or s.epochs,
                m2f_iters=args.m2f_iters or s.m2f_iters)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    data_root = args.data_root or str(work / 'data')
    t_start, c_start = time.time(), cpu_seconds()
    results = dict(setting=args.setting, sizes=asdict(s), models=args.models,
                   params=param_budget(args.models, args.cfg_options), cfg_options=dict(args.cfg_options),
                   threads=torch.get_num_threads(), pretrain={}, parts={}, knn={}, diagnostics={}, m2f={})
    saved = work / 'lab_results.json'
    if args.resume and saved.is_file():
        try:
            results = resumed(saved, results)
        except ValueError as e:
            print(f'error: {e}', file=sys.stderr)
            return 2
    elif args.resume:
        print(f'note: {saved} does not exist yet: no finished model to keep; an interrupted '
              'pretraining still continues from its checkpoint', flush=True)
    t_before, c_before = results.get('total_seconds', 0.0), results.get('total_cpu_seconds', 0.0)
    test = lab_eval.held_out(s.test_images, 'test')
    knn_ref = lab_eval.held_out(s.knn_images, 'train')
    if not args.no_finetune:
        write_part_objects(data_root, dict(train=s.m2f_train_images, test=s.test_images))
    for seed in s.seeds:  # seed by seed: every finished seed is a complete comparison
        for model in args.models:
            key = f'{model}/seed{seed}'
            if key in results['pretrain'] and f'{key}/untrained' in results['parts']:
                say(f'==> DINO pretraining {key}: done before (--resume), kept')
                continue
            epochs = f"{s.epochs} epoch{'s' * (s.epochs != 1)}"
            with stage(f'DINO pretraining {key} ({epochs}), then its evaluation on the test split',
                       str(work / 'logs' / f'pretrain_{model}_seed{seed}.log'), args.verbose):
                r = results['pretrain'][key] = pretrain(model, seed, s, str(work / 'pretrain' / model / f'seed{seed}'),
                                                        args.cfg_options, args.resume)
                for state, bb in (('pretrained', load_backbone(r['backbone'])),
                                  ('untrained', untrained_backbone(model, seed, args.cfg_options))):
                    pd = lab_eval.part_discovery(bb, test, list(s.top_ks))
                    results['parts'][f'{key}/{state}'] = pd
                    results['knn'][f'{key}/{state}'] = lab_eval.knn_top1(bb, knn_ref, test)
                    results['diagnostics'][f'{key}/{state}'] = diagnose(bb, test, pd)
            say(f"    {key}: {r['seconds']} s, M2O@8 pretrained "
                f"{results['parts'][key + '/pretrained']['per_k']['8']['m2o']:.1f} untrained "
                f"{results['parts'][key + '/untrained']['per_k']['8']['m2o']:.1f}, k-NN "
                f"{results['knn'][key + '/pretrained']:.1f} / {results['knn'][key + '/untrained']:.1f}")
            (work / 'lab_results.json').write_text(json.dumps(results, indent=2))
        for variant, (model, _) in M2F_CONFIGS.items():
            if args.no_finetune or model not in args.models:
                continue
            if f'{variant}/seed{seed}' in results['m2f']:
                say(f'==> Mask2Former {variant}/seed{seed}: done before (--resume), kept')
                continue
            r = results['pretrain'][f'{model}/seed{seed}']
            with stage(f'Mask2Former {variant}/seed{seed} ({s.m2f_iters} iterations), then its test',
                       str(work / 'logs' / f'mask2former_{variant}_seed{seed}.log'), args.verbose):
                m = results['m2f'][f'{variant}/seed{seed}'] = finetune(
                    variant, r.get('finetune_backbone', r['backbone']), seed, s, data_root,
                    str(work / 'mask2former' / variant / f'seed{seed}'))
            say(f"    mIoU {m['mIoU']:.2f} ({m['seconds']} s)")
            (work / 'lab_results.json').write_text(json.dumps(results, indent=2))
        (work / 'lab_results.md').write_text(lab_report.markdown(results))
    results['total_seconds'] = round(t_before + time.time() - t_start, 1)  # resumed runs: all sessions
    results['total_cpu_seconds'] = round(c_before + cpu_seconds() - c_start, 1)
    (work / 'lab_results.json').write_text(json.dumps(results, indent=2))
    md = lab_report.markdown(results)
    (work / 'lab_results.md').write_text(md)
    lab_report.pictures(results, test, work / 'pictures')
    print(md)
    print(f"wrote {work / 'lab_results.json'}, {work / 'lab_results.md'} and {work / 'pictures'} "
          f"({results['total_seconds'] / 60:.1f} min)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
