"""The demo's stages on embedded data, on the CPU (``make demo``; README, docs/downstream.md, docs/pretraining.md).

1. :func:`mask2former_demo`: the RATS register-query Mask2Former on the
   synthetic scenes, untrained vs trained (mmseg mIoU; mmdet box and mask AP);
2. :func:`dino_demo`: DINO pretraining of a tiny RATS and a ViT of the same
   size on the bundled photographs, teacher extraction, Mask2Former
   fine-tuning from the RATS teacher, part discovery on the synthetic scenes
   with the pretrained and the untrained backbones.

Each prints one line per stage, a progress bar and the stage's result; the
full logs go to ``WORK_DIR/logs`` (``verbose`` streams them instead).
"""
from __future__ import annotations

import json
import os.path as osp
import time

from mmengine.config import Config
from mmengine.runner import Runner

from mmrats.datasets.part_datasets import build_part_dataset
from mmrats.datasets.sample_photos import write_sample_photos
from mmrats.datasets.synthetic_scenes import write_dataset
from mmrats.utils.console import say, stage, track
from mmrats.utils.run_config import unique_visualizer

from .extract import extract_backbone
from .part_evaluation import evaluate_parts
from .runs import load_config, repo_config, scalars, stretch_schedule, test_untrained, train_and_test, with_progress_bar
from .weights import load_backbone, untrained_backbone

M2F_CONFIGS = {'seg': 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py',
               'det': 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-coco-128x128.py'}
# the headline metrics of each task, in the printed table
METRICS = {'seg': ('mIoU', 'mAcc', 'aAcc'),
           'det': ('coco/segm_mAP', 'coco/segm_mAP_50', 'coco/bbox_mAP', 'coco/bbox_mAP_50')}
DINO_CONFIGS = {'rats': 'configs/demo/dino_rats-demo_1xb16-12e_sample-photos-96.py',
                'vit': 'configs/demo/dino_vit-demo_1xb16-12e_sample-photos-96.py'}


def ensure_scenes(root: str) -> dict:
    """The synthetic scenes under ``root``: a complete one already there is used as it is (whatever its size),
    otherwise the default one (200 + 50 images) is written. Returns its manifest."""
    man_path = osp.join(root, 'manifest.json')
    if osp.isfile(man_path):
        with open(man_path) as f:
            manifest = json.load(f)
        if manifest.get('complete'):
            return manifest
    return write_dataset(root)


def mask2former_cfg(task: str, data_root: str, work_dir: str, iters: int | None) -> Config:
    """The demo Mask2Former config of ``task`` (``seg`` or ``det``) on ``data_root``, writing into ``work_dir``."""
    cfg = load_config(M2F_CONFIGS[task])
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
    return with_progress_bar(cfg)


def mask2former_tables(results: dict) -> str:
    """The untrained-vs-trained table of :func:`mask2former_demo`'s results, and where the pictures are."""
    lines = ['RATS register-query Mask2Former on the synthetic scenes (CPU)',
             '| task | iters | metric | untrained | trained |', '|---|---|---|---|---|']
    for task, r in results.items():
        lines += [f"| {task} | {r['iters']} | {k} | {r['untrained'][k]:.3f} | {r['trained'][k]:.3f} |"
                  for k in METRICS[task]]
    lines += [f"pictures ({task}, trained model, every test image): {r['pictures']}"
              for task, r in results.items() if r.get('pictures')]
    return '\n'.join(lines)


def mask2former_demo(tasks=('seg', 'det'), data_root: str = 'data/synthetic', work_dir: str = 'work_dirs/demo',
                     iters: int | None = None, verbose: bool = False) -> dict:
    """Stage 1: write the scenes, evaluate the untrained model, train, evaluate; ``WORK_DIR/demo_results.json``."""
    logs = osp.join(work_dir, 'logs')
    with stage(f'synthetic scenes in {data_root} (written once, deterministic)', osp.join(logs, 'data.log'),
               verbose):
        params = ensure_scenes(data_root)['params']
    say(f"    {params['num_train']} train / {params['num_val']} val images")
    results = {}
    for task in tasks:
        cfg = mask2former_cfg(task, data_root, osp.join(work_dir, task), iters)
        what = 'semantic segmentation, ADE20K layout' if task == 'seg' else 'instance segmentation, COCO layout'
        with stage(f'Mask2Former ({what}): evaluate the untrained model', osp.join(logs, f'{task}_untrained.log'),
                   verbose):
            untrained = test_untrained(cfg)
        start = time.time()
        with stage(f'Mask2Former ({what}): train {cfg.train_cfg.max_iters} iterations, then evaluate',
                   osp.join(logs, f'{task}_train.log'), verbose):
            trained, pictures = train_and_test(cfg, osp.join(cfg.work_dir, 'show'))
        results[task] = dict(config=M2F_CONFIGS[task], iters=cfg.train_cfg.max_iters,
                             train_and_eval_s=round(time.time() - start, 1),
                             untrained={k: round(float(untrained[k]), 4) for k in METRICS[task]},
                             trained={k: round(float(trained[k]), 4) for k in METRICS[task]},
                             pictures=pictures, work_dir=cfg.work_dir)
        say(mask2former_tables({task: results[task]}))
    out = osp.join(work_dir, 'demo_results.json')
    with open(out, 'w') as f:
        json.dump(results, f, indent=2)
    say(f'wrote {out}')
    return results


def pretrain(model: str, photos: str, work_dir: str, epochs: int | None) -> tuple[str, str]:
    """Train the demo DINO config of ``model``; returns the last checkpoint and the run's log folder."""
    cfg = with_progress_bar(load_config(DINO_CONFIGS[model]))
    cfg.train_dataloader.dataset.dataset.data_root = photos
    cfg.work_dir = work_dir
    unique_visualizer(cfg)
    if epochs is not None:
        stretch_schedule(cfg, epochs)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return osp.join(work_dir, f'epoch_{runner.epoch}.pth'), runner.log_dir


def part_row(scenes: str, name: str, backbone, out_dir: str, top_k: int, show_num: int = 4) -> dict:
    """Part discovery on the synthetic scenes (128 px) for one backbone: scores and the pictures' folder."""
    out = osp.join(out_dir, name.replace(' ', '_').replace('(', '').replace(')', ''))
    reader = build_part_dataset('synthetic', scenes, split='validation')
    summary = evaluate_parts(backbone.to('cpu'), [reader], img_size=128, top_k=top_k, batch_size=16, name=name,
                             show_dir=osp.join(out, 'pictures'), show_num=show_num,
                             progress=lambda loader: track(loader, 'parts'))
    (scores,) = summary['datasets'].values()
    return dict(name=name, pictures=osp.join(out, 'pictures'), **{k: scores[k] for k in ('m2o', 'o2o', 'ari')})


def dino_tables(results: dict) -> str:
    """The tables of :func:`dino_demo`'s results, with the pictures' folders."""
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


def dino_demo(models=('rats', 'vit'), work_dir: str = 'work_dirs/dino_demo', photos: str = 'data/sample_photos',
              scenes: str = 'data/synthetic', epochs: int | None = None, finetune_iters: int = 300,
              finetune: bool = True, parts: bool = True, top_k: int = 8, verbose: bool = False) -> dict:
    """Stage 2: pretrain, extract the teachers, fine-tune, discover parts; ``WORK_DIR/dino_demo_results.json``."""
    logs = osp.join(work_dir, 'logs')
    write_sample_photos(photos)
    results: dict = dict(pretrain={})
    backbones = {}
    for model in models:
        start = time.time()
        with stage(f'DINO pretraining of the tiny {model.upper()} on the {photos} photos, then teacher '
                   'extraction', osp.join(logs, f'pretrain_{model}.log'), verbose):
            ckpt, log_dir = pretrain(model, photos, osp.join(work_dir, model), epochs)
            backbones[model] = str(extract_backbone(ckpt, osp.join(work_dir, f'{model}_teacher_backbone.pth'),
                                                    force=True))
            if model == 'rats':
                backbones['rats_finetune'] = str(extract_backbone(
                    ckpt, osp.join(work_dir, 'rats_teacher_backbone_finetune.pth'), finetune=True, force=True))
        epoch_rows, _ = scalars([log_dir])
        results['pretrain'][model] = dict(config=DINO_CONFIGS[model], seconds=round(time.time() - start, 1),
                                          first_epoch=epoch_rows[0], last_epoch=epoch_rows[-1], checkpoint=ckpt)
        say(dino_tables(dict(pretrain={model: results['pretrain'][model]})))
    if 'rats' in models and finetune:
        with stage(f'Mask2Former (register queries) fine-tuned {finetune_iters} iterations from the DINO '
                   'RATS teacher', osp.join(logs, 'finetune_seg.log'), verbose):
            ensure_scenes(scenes)
            cfg = mask2former_cfg('seg', scenes, osp.join(work_dir, 'finetune_seg'), finetune_iters)
            cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=backbones['rats_finetune'])
            metrics, _ = train_and_test(cfg)
        results['finetune'] = dict(iters=cfg.train_cfg.max_iters, backbone=backbones['rats_finetune'],
                                   **{k: round(float(metrics[k]), 2) for k in ('mIoU', 'mAcc', 'aAcc')})
        say(f"    mIoU {results['finetune']['mIoU']:.2f}")
    if parts:
        ensure_scenes(scenes)
        results['parts'] = []
        for model in models:
            for state in ('dino', 'untrained'):
                name = f"{model} ({'DINO demo' if state == 'dino' else 'untrained'})"
                with stage(f'part discovery on the synthetic scenes: {name}',
                           osp.join(logs, f'parts_{model}_{state}.log'), verbose):
                    backbone = (load_backbone(backbones[model], img_size=128) if state == 'dino' else
                                untrained_backbone(repo_config(DINO_CONFIGS[model]), seed=0, img_size=128))
                    row = part_row(scenes, name, backbone, osp.join(work_dir, 'parts'), top_k)
                results['parts'].append(row)
                say(f"    M2O {row['m2o']:.2f}  O2O {row['o2o']:.2f}  ARI {row['ari']:.2f}; pictures: "
                    f"{row['pictures']}")
    out = osp.join(work_dir, 'dino_demo_results.json')
    with open(out, 'w') as f:
        json.dump(results, f, indent=2)
    say(f'wrote {out}')
    return results
