#!/usr/bin/env python
"""Lab-scale evidence: do the RATS registers become parts? One command, CPU-sized (docs/lab_scale.md).

    python tools/lab/lab_experiment.py [--setting quick|default|long] [--seeds 0 1 2]
        [--models rats vit vitreg] [--work-dir work_dirs/lab] [--data-root data/part_objects]
        [--no-finetune] [--epochs N] [--m2f-iters N] [--resume] [--verbose]
        [--objective dino|supervised] [--data-variant default|colour-uninformative] [--augment default|no-colour]
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

The controls of issue #26 (``mmrats.apis.lab_recipe``): ``--objective supervised`` trains the same
backbones to name the main object's category (``configs/lab/supervised_*``: a linear head on the global
representation, cross-entropy, DINO's first global view) instead of step 1, and evaluates them by steps 2-3
unchanged; ``--data-variant colour-uninformative`` draws every part type's colours from the same ranges
(training and evaluation images); ``--augment no-colour`` drops colour jitter, grayscale and solarisation.

then writes ``WORK_DIR/lab_results.json``, ``WORK_DIR/lab_results.md`` (mean ±
std over seeds) and pictures (``WORK_DIR/pictures``). ``--setting quick`` is a
minutes-long smoke run of every step (the test runs it).

The console shows one line per step with a progress bar and the step's
results; each step's full log (mmengine's, the configs) goes to
``WORK_DIR/logs/`` (``--verbose`` streams everything instead). The steps are
``mmrats.apis.lab``; the evaluation, tables and saved results ``mmrats.evaluation.lab``;
the pictures ``mmrats.visualization.lab_pictures``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch
from mmengine.config import DictAction

from mmrats.apis import load_backbone
from mmrats.apis.lab import (CHECKPOINT_EPOCHS, DINO_CONFIGS, M2F_CONFIGS, SETTINGS, SUPERVISED_CONFIGS, cpu_seconds,
                             diagnose, finetune, lab_backbones, param_budget, pretrain, untrained_lab_backbone)
from mmrats.apis.lab_recipe import AUGMENTS, OBJECTIVES, check_data_root
from mmrats.apis.lab_supervised import train_supervised
from mmrats.datasets.part_objects import PartObjectsConfig
from mmrats.datasets.part_objects_writer import write_part_objects
from mmrats.evaluation.lab import (CHANCE, DATA_VARIANTS, held_out, knn_accuracy, merge_results, part_discovery,
                                   recipe_of, resumed)
from mmrats.evaluation.lab import markdown as lab_markdown
from mmrats.utils.console import say, stage
from mmrats.visualization.lab_pictures import lab_pictures


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
    p.add_argument('--objective', choices=OBJECTIVES, default='dino',
                   help="what trains the backbones: DINO, or issue #26's supervised control (the main object's "
                        'category, a linear head on the global representation; rats, vit, vitreg)')
    p.add_argument('--data-variant', choices=sorted(DATA_VARIANTS), default='default',
                   help="colour-uninformative: every part type's hue, saturation and brightness from the same "
                        'ranges (training and held-out images)')
    p.add_argument('--augment', choices=AUGMENTS, default='default',
                   help='no-colour: the training views without colour jitter, grayscale and solarisation '
                        '(crops, flip and blur kept)')
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
    if args.objective == 'supervised' and set(args.models) - set(SUPERVISED_CONFIGS):
        p.error(f'--objective supervised trains {sorted(SUPERVISED_CONFIGS)}, not '
                f'{sorted(set(args.models) - set(SUPERVISED_CONFIGS))}')
    return args


def held_out_of(results: dict, num: int | None = None, split: str = 'test'):
    """The held-out images of a run's data variant (``num``: the run's test images)."""
    return held_out(results['sizes']['test_images'] if num is None else num, split,
                    data_variant=recipe_of(results)['data_variant'])


def rediagnose(work: Path) -> int:
    """``--rediagnose``: the diagnostics of a saved run computed again (those added since it ran, too)."""
    results = saved_results(work)
    if results is None:
        return 2
    test = held_out_of(results)
    for key, r in results['pretrain'].items():
        model, seed = key.split('/seed')
        for state, bb in (('pretrained', load_backbone(r['backbone'])),
                          ('untrained', untrained_lab_backbone(model, int(seed), results.get('cfg_options'),
                                                               recipe_of(results)['objective']))):
            results['diagnostics'][f'{key}/{state}'] = diagnose(bb, test, results['parts'][f'{key}/{state}'])
            print(f'   {key}/{state}: rediagnosed', flush=True)
    (work / 'lab_results.json').write_text(json.dumps(results, indent=2))
    return report(work)


def pictures(results: dict, work: Path, test=None) -> str:
    """The run's pictures (first seed) in ``WORK_DIR/pictures``; what was written, or why nothing was.

    The pictures need the run's saved backbones: a run kept as its ``lab_results.json`` only (as
    ``docs/lab_runs/`` keeps them) gets its tables and a note instead.
    """
    seed = results['sizes']['seeds'][0]
    for m in results['models']:
        path = results['pretrain'].get(f'{m}/seed{seed}', {}).get('backbone')
        if path and not Path(path).is_file():
            return (f'no pictures: the backbone {path} does not exist (the runs are here as lab_results.json '
                    'only); the tables are written')
    test = test if test is not None else held_out_of(results)
    lab_pictures(results, test, work / 'pictures', lab_backbones(results, seed))
    return str(work / 'pictures')


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
    md = lab_markdown(results)
    (work / 'lab_results.md').write_text(md)
    pics = pictures(results, work)
    print(md)
    print(f"wrote {work / 'lab_results.md'}; {pics}")
    return 0


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
    recipe = dict(objective=args.objective, data_variant=args.data_variant, augment=args.augment)
    results = dict(setting=args.setting, sizes=asdict(s), models=args.models, **recipe,
                   params=param_budget(args.models, args.cfg_options, args.objective),
                   cfg_options=dict(args.cfg_options), threads=torch.get_num_threads(), pretrain={}, parts={}, knn={},
                   diagnostics={}, m2f={})
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
    test, knn_ref = held_out_of(results), held_out_of(results, s.knn_images, 'train')
    if not args.no_finetune:
        try:
            check_data_root(data_root, args.data_variant)
        except ValueError as e:
            print(f'error: {e}', file=sys.stderr)
            return 2
        write_part_objects(data_root, dict(train=s.m2f_train_images, test=s.test_images),
                           cfg=PartObjectsConfig(colour=DATA_VARIANTS[args.data_variant]))
    train, what = (pretrain, 'DINO pretraining') if args.objective == 'dino' else (train_supervised,
                                                                                 'supervised training')
    for seed in s.seeds:  # seed by seed: every finished seed is a complete comparison
        for model in args.models:
            key = f'{model}/seed{seed}'
            if key in results['pretrain'] and f'{key}/untrained' in results['parts']:
                say(f'==> {what} {key}: done before (--resume), kept')
                continue
            epochs = f"{s.epochs} epoch{'s' * (s.epochs != 1)}"
            with stage(f'{what} {key} ({epochs}), then its evaluation on the test split',
                       str(work / 'logs' / f'pretrain_{model}_seed{seed}.log'), args.verbose):
                r = results['pretrain'][key] = train(model, seed, s, str(work / 'pretrain' / model / f'seed{seed}'),
                                                     args.cfg_options, args.resume, recipe=recipe)
                for state, bb in (('pretrained', load_backbone(r['backbone'])),
                                  ('untrained', untrained_lab_backbone(model, seed, args.cfg_options,
                                                                       args.objective))):
                    pd = part_discovery(bb, test, list(s.top_ks))
                    results['parts'][f'{key}/{state}'] = pd
                    results['knn'][f'{key}/{state}'] = knn_accuracy(bb, knn_ref, test)
                    results['diagnostics'][f'{key}/{state}'] = diagnose(bb, test, pd)
            say(f"    {key}: {r['seconds']} s, M2O@8 pretrained "
                f"{results['parts'][key + '/pretrained']['per_k']['8']['m2o']:.1f} untrained "
                f"{results['parts'][key + '/untrained']['per_k']['8']['m2o']:.1f}, k-NN "
                f"{results['knn'][key + '/pretrained']:.1f} / {results['knn'][key + '/untrained']:.1f}")
            if 'accuracy' in r:  # the supervised control: is the classifier far enough above chance?
                say(f"    {key}: held-out category accuracy {r['accuracy']:.1f} % (chance {CHANCE:.1f})"
                    + (f'; NEAR CHANCE (< {2 * CHANCE:.1f}): train longer (--epochs)' if r['near_chance'] else ''))
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
        (work / 'lab_results.md').write_text(lab_markdown(results))
    results['total_seconds'] = round(t_before + time.time() - t_start, 1)  # resumed runs: all sessions
    results['total_cpu_seconds'] = round(c_before + cpu_seconds() - c_start, 1)
    (work / 'lab_results.json').write_text(json.dumps(results, indent=2))
    md = lab_markdown(results)
    (work / 'lab_results.md').write_text(md)
    pics = pictures(results, work, test)
    print(md)
    print(f"wrote {work / 'lab_results.json'}, {work / 'lab_results.md'}; {pics} "
          f"({results['total_seconds'] / 60:.1f} min)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
