#!/usr/bin/env python
"""The main demo: RATS register-query Mask2Former trained and evaluated on the synthetic scenes.

    python tools/demo/mask2former_demo.py [--task seg det] [--data-root data/synthetic]
        [--work-dir work_dirs/demo] [--iters 300]

End to end on the CPU, with the stock OpenMMLab runners:

1. writes the embedded synthetic scene dataset (ADE20K and COCO layouts) if it
   is not there yet (deterministic; ``tools/dataset_converters/make_synthetic_scenes.py``);
2. evaluates the untrained model (the reference a trained model must beat);
3. trains the demo config (``configs/demo/``) for ``--iters`` iterations,
   checkpointing into the work dir;
4. evaluates the trained model with the stock metric (mmseg ``IoUMetric``:
   mIoU; mmdet ``CocoMetric``: box and mask AP),

then prints an untrained-vs-trained table and writes it to
``WORK_DIR/demo_results.json``, with the folders of the trained model's
pictures (every test image with its prediction). The console shows one line
per stage, a progress bar and the tables; each stage's full output goes to a
log in the work dir (``--verbose`` streams everything instead). ``tools/train.py`` and ``tools/test.py`` run
the same configs step by step (see ``docs/downstream.md``).
"""
from __future__ import annotations

import argparse
import copy
import json
import os.path as osp
import sys
import time

import mmrats  # noqa: F401  (first: torch >= 2.6 resume fix, known-warning filters)
from mmengine.config import Config
from mmengine.runner import Runner

from mmrats.datasets.synthetic_scenes import write_dataset
from mmrats.utils.console import say, stage
from mmrats.utils.run_config import unique_visualizer

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {
    'seg': 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py',
    'det': 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-coco-128x128.py',
}
# the headline metrics of each task, in the printed table
METRICS = {'seg': ('mIoU', 'mAcc', 'aAcc'),
           'det': ('coco/segm_mAP', 'coco/segm_mAP_50', 'coco/bbox_mAP', 'coco/bbox_mAP_50')}


def ensure_dataset(root: str) -> dict:
    """The synthetic scenes under ``root``: a complete one already there is used as it is
    (whatever its size), otherwise the default one (200 + 50 images) is written."""
    man_path = osp.join(root, 'manifest.json')
    if osp.isfile(man_path):
        with open(man_path) as f:
            manifest = json.load(f)
        if manifest.get('complete'):
            return manifest
    return write_dataset(root)


def demo_cfg(task: str, data_root: str, work_dir: str, iters: int | None) -> Config:
    """The demo config of ``task`` pointed at ``data_root``, writing into ``work_dir``."""
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[task]))
    root = osp.join(data_root, 'ade') if task == 'seg' else osp.join(data_root, 'coco') + '/'
    for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[split].dataset.data_root = root
    if task == 'det':
        for key in ('val_evaluator', 'test_evaluator'):
            cfg[key].ann_file = osp.join(root, 'annotations/instances_val2017.json')
    if iters is not None:
        cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = iters
        for sched in cfg.param_scheduler if isinstance(cfg.param_scheduler, list) else [cfg.param_scheduler]:
            sched.end = iters
    cfg.work_dir = work_dir
    cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(type='mmrats.ProgressBarHook')]
    return cfg


def evaluate_untrained(cfg: Config) -> dict:
    """Metrics of the randomly initialised model (same seed as the training run)."""
    cfg = copy.deepcopy(cfg)  # a shallow copy would share the visualizer name with the caller's other runs
    cfg.work_dir = osp.join(cfg.work_dir, 'untrained')
    cfg.load_from, cfg.resume = None, False
    unique_visualizer(cfg)
    return Runner.from_cfg(cfg).test()


def train_and_evaluate(cfg: Config, show_dir: str | None = None) -> tuple[dict, str | None]:
    """Train, then evaluate the trained model on the test split.

    With ``show_dir``, the test pass also draws every test image with its
    prediction; returns the metrics and the folder the pictures went to.
    """
    cfg = copy.deepcopy(cfg)  # a shallow copy would share the visualizer name with the caller's other runs
    unique_visualizer(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    pictures = _draw_test_predictions(runner, show_dir) if show_dir else None
    return runner.test(), pictures


def _draw_test_predictions(runner: Runner, show_dir: str) -> str:
    """Turn on the toolbox's visualization hook for the test pass only (not the validation
    during training); mmdet writes into ``show_dir``, mmseg into the run's ``vis_data/vis_image``."""
    for hook in runner.hooks:
        if type(hook).__name__.endswith('VisualizationHook'):
            hook.draw, hook.interval = True, 1
            if hasattr(hook, 'test_out_dir'):  # mmdet
                hook.test_out_dir = osp.abspath(show_dir)
                return hook.test_out_dir
    return osp.join(runner.log_dir, 'vis_data', 'vis_image')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--task', nargs='+', choices=sorted(CONFIGS), default=['seg', 'det'],
                   help='seg: ADE20K-layout semantic segmentation (mIoU); det: COCO-layout instance '
                        'segmentation with boxes (mask and box AP)')
    p.add_argument('--data-root', default='data/synthetic', help='where the synthetic scenes are (or go)')
    p.add_argument('--work-dir', default='work_dirs/demo', help='logs, checkpoints and demo_results.json')
    p.add_argument('--iters', type=int, default=None, help='training iterations (default: the config\'s 300)')
    p.add_argument('--verbose', action='store_true', help='stream every log line instead of one line per stage')
    args = p.parse_args(argv)
    if args.iters is not None and args.iters < 1:
        p.error(f'--iters must be >= 1, got {args.iters}')
    return args


def tables(results: dict) -> str:
    """The untrained-vs-trained table of ``demo_results.json``, and where the pictures are."""
    lines = ['RATS register-query Mask2Former on the synthetic scenes (CPU)',
             '| task | iters | metric | untrained | trained |', '|---|---|---|---|---|']
    for task, r in results.items():
        lines += [f"| {task} | {r['iters']} | {k} | {r['untrained'][k]:.3f} | {r['trained'][k]:.3f} |"
                  for k in METRICS[task]]
    lines += [f"pictures ({task}, trained model, every test image): {r['pictures']}"
              for task, r in results.items() if r.get('pictures')]
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    logs = osp.join(args.work_dir, 'logs')
    with stage(f'synthetic scenes in {args.data_root} (written once, deterministic)',
               osp.join(logs, 'data.log'), args.verbose):
        params = ensure_dataset(args.data_root)['params']
    say(f"    {params['num_train']} train / {params['num_val']} val images")
    results = {}
    for task in args.task:
        cfg = demo_cfg(task, args.data_root, osp.join(args.work_dir, task), args.iters)
        what = 'semantic segmentation, ADE20K layout' if task == 'seg' else 'instance segmentation, COCO layout'
        with stage(f'Mask2Former ({what}): evaluate the untrained model', osp.join(logs, f'{task}_untrained.log'),
                   args.verbose):
            untrained = evaluate_untrained(cfg)
        start = time.time()
        with stage(f'Mask2Former ({what}): train {cfg.train_cfg.max_iters} iterations, then evaluate',
                   osp.join(logs, f'{task}_train.log'), args.verbose):
            trained, pictures = train_and_evaluate(cfg, osp.join(cfg.work_dir, 'show'))
        results[task] = dict(config=CONFIGS[task], iters=cfg.train_cfg.max_iters,
                             train_and_eval_s=round(time.time() - start, 1),
                             untrained={k: round(float(untrained[k]), 4) for k in METRICS[task]},
                             trained={k: round(float(trained[k]), 4) for k in METRICS[task]},
                             pictures=pictures, work_dir=cfg.work_dir)
        say(tables({task: results[task]}))
    out = osp.join(args.work_dir, 'demo_results.json')
    with open(out, 'w') as f:
        json.dump(results, f, indent=2)
    say(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
