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
``WORK_DIR/demo_results.json``. ``tools/train.py`` and ``tools/test.py`` run
the same configs step by step (see ``docs/downstream.md``).
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import sys
import time

import mmrats  # noqa: F401  (first: torch >= 2.6 resume fix, known-warning filters)
from mmengine.config import Config
from mmengine.runner import Runner

from mmrats.datasets.synthetic_scenes import write_dataset
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
    return cfg


def evaluate_untrained(cfg: Config) -> dict:
    """Metrics of the randomly initialised model (same seed as the training run)."""
    cfg = cfg.copy()
    cfg.work_dir = osp.join(cfg.work_dir, 'untrained')
    cfg.load_from, cfg.resume = None, False
    unique_visualizer(cfg)
    return Runner.from_cfg(cfg).test()


def train_and_evaluate(cfg: Config) -> dict:
    """Train, then evaluate the trained model on the test split."""
    cfg = cfg.copy()
    unique_visualizer(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.test()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--task', nargs='+', choices=sorted(CONFIGS), default=['seg', 'det'],
                   help='seg: ADE20K-layout semantic segmentation (mIoU); det: COCO-layout instance '
                        'segmentation with boxes (mask and box AP)')
    p.add_argument('--data-root', default='data/synthetic', help='where the synthetic scenes are (or go)')
    p.add_argument('--work-dir', default='work_dirs/demo', help='logs, checkpoints and demo_results.json')
    p.add_argument('--iters', type=int, default=None, help='training iterations (default: the config\'s 300)')
    args = p.parse_args(argv)
    if args.iters is not None and args.iters < 1:
        p.error(f'--iters must be >= 1, got {args.iters}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    params = ensure_dataset(args.data_root)['params']
    print(f"synthetic scenes in {args.data_root}: {params['num_train']} train / {params['num_val']} val images")
    results = {}
    for task in args.task:
        cfg = demo_cfg(task, args.data_root, osp.join(args.work_dir, task), args.iters)
        untrained = evaluate_untrained(cfg)
        start = time.time()
        trained = train_and_evaluate(cfg)
        results[task] = dict(config=CONFIGS[task], iters=cfg.train_cfg.max_iters,
                             train_and_eval_s=round(time.time() - start, 1),
                             untrained={k: round(float(untrained[k]), 4) for k in METRICS[task]},
                             trained={k: round(float(trained[k]), 4) for k in METRICS[task]})
    out = osp.join(args.work_dir, 'demo_results.json')
    with open(out, 'w') as f:
        json.dump(results, f, indent=2)
    print('\nRATS register-query Mask2Former on the synthetic scenes (CPU)')
    print(f"| task | iters | metric | untrained | trained |\n|---|---|---|---|---|")
    for task, r in results.items():
        for k in METRICS[task]:
            print(f"| {task} | {r['iters']} | {k} | {r['untrained'][k]:.3f} | {r['trained'][k]:.3f} |")
    print(f'wrote {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
