"""The lab-scale experiment's steps (docs/lab_scale.md): DINO pretraining, Mask2Former, diagnostics.

For every seed and model (``rats``: RATS, 16 registers; ``vit``: ViT with
[CLS]; ``vitreg``: ViT with [CLS] + 16 registers; same width, depth and
parameter budget, checked within 2 %) on the procedural part-structured
objects; ``tools/lab/lab_experiment.py`` runs them and writes the report.
The supervised control of issue #26 is :mod:`mmrats.apis.lab_supervised`, the
data and augmentation controls :mod:`mmrats.apis.lab_recipe`.
"""
from __future__ import annotations

import os.path as osp
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from mmengine.config import Config
from mmengine.runner import Runner

from mmrats.evaluation.lab import HeldOut, attention_entropy_per_head, part_specialisation
from mmrats.models.backbones import RATSViT
from mmrats.utils.console import say
from mmrats.utils.run_config import unique_visualizer

from .extract import extract_backbone
from .lab_recipe import apply_recipe
from .runs import MONITORS, load_config, repo_config, scalars, stretch_schedule, with_progress_bar
from .weights import load_backbone, untrained_backbone

DINO_CONFIGS = {'rats': 'configs/lab/dino_rats-lab_1xb32-2e_part-objects-64.py',
                'vit': 'configs/lab/dino_vit-lab_1xb32-2e_part-objects-64.py',
                'vitreg': 'configs/lab/dino_vitreg-lab_1xb32-2e_part-objects-64.py',
                # not in the default set: the learned part dictionary (docs/part_dictionary.md) and the
                # LaSt-ViT aggregation (docs/diagnostics.md), the same recipe; --models to add them
                'rats-codebook': 'configs/lab/dino_rats-lab-codebook_1xb32-2e_part-objects-64.py',
                'rats-codebook-large': 'configs/lab/dino_rats-lab-codebook-large_1xb32-2e_part-objects-64.py',
                'vit-lastvit': 'configs/lab/dino_vit-lastvit-lab_1xb32-2e_part-objects-64.py'}
# issue #26's supervised control: the same backbones (tests/test_apis/test_lab_controls.py)
SUPERVISED_CONFIGS = {'rats': 'configs/lab/supervised_rats-lab_1xb32-20e_part-objects-64.py',
                      'vit': 'configs/lab/supervised_vit-lab_1xb32-20e_part-objects-64.py',
                      'vitreg': 'configs/lab/supervised_vitreg-lab_1xb32-20e_part-objects-64.py'}
LAB_CONFIGS = {'dino': DINO_CONFIGS, 'supervised': SUPERVISED_CONFIGS}
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


def dino_cfg(model: str, seed: int, s: Setting, work_dir: str, options: dict | None = None,
             recipe: dict | None = None) -> Config:
    """The lab DINO config of ``model`` sized by the setting, schedules stretched to its epochs.

    ``options`` (``--cfg-options``) are merged into every model's config alike, before the sizes; ``recipe``
    (:func:`~mmrats.apis.lab_recipe.apply_recipe`) changes the data variant and the augmentations.
    """
    return sized_cfg(DINO_CONFIGS[model], seed, s, work_dir, options, recipe)


def sized_cfg(path: str, seed: int, s: Setting, work_dir: str, options: dict | None = None,
              recipe: dict | None = None) -> Config:
    """A lab config (DINO or supervised) sized by the setting: data, batch, validation, epochs, checkpoints."""
    cfg = apply_recipe(load_config(path, options), recipe)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.train_dataloader.batch_size = s.batch_size
    cfg.train_dataloader.dataset.num_images = s.num_images
    cfg.val_dataloader.dataset.num_images = s.val_images
    cfg.val_dataloader.batch_size = min(cfg.val_dataloader.batch_size, s.val_images)
    cfg.train_cfg.val_interval = s.val_interval
    stretch_schedule(cfg, s.epochs)
    # A checkpoint every few epochs (only the newest kept): ``--resume`` continues an interrupted pretraining.
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=min(s.epochs, CHECKPOINT_EPOCHS),
                                        max_keep_ckpts=1)
    unique_visualizer(with_progress_bar(cfg))
    return cfg


def pretrain(model: str, seed: int, s: Setting, work_dir: str, options: dict | None = None,
             resume: bool = False, recipe: dict | None = None) -> dict:
    """DINO pretraining of one model; the teacher backbone extracted (and, for RATS, its fine-tuning form).

    With ``resume``, a pretraining interrupted in ``work_dir`` continues from its newest checkpoint (saved
    every ``CHECKPOINT_EPOCHS`` epochs); its times then count the continued part only.
    """
    runner, out = train_run(dino_cfg(model, seed, s, work_dir, options, recipe), resume)
    out.update(backbone_files(osp.join(work_dir, f'epoch_{runner.epoch}.pth'), model, work_dir, 'teacher_backbone'))
    return out


def train_run(cfg: Config, resume: bool = False, monitors: tuple[str, ...] = MONITORS,
              val_prefix: str = 'parts/') -> tuple[Runner, dict]:
    """Train a sized lab config (continued from its newest checkpoint with ``resume``); the runner, and its
    times, iterations, per-epoch ``monitors`` and validation rows (:func:`~mmrats.apis.runs.scalars`)."""
    work_dir = cfg.work_dir
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
    # a resumed run's earlier epochs are in the log folders of the sessions before it (named by their start)
    logs = ([d for d in sorted(str(p.parent.parent) for p in Path(work_dir).glob('*/vis_data/scalars.json'))
             if Path(d).name <= Path(runner.log_dir).name] if resumed_from is not None else [runner.log_dir])
    epochs, val = scalars(logs, runner.epoch, monitors, val_prefix)
    out = dict(seconds=round(seconds, 1), cpu_seconds=round(cpu, 1), iters=runner.iter, epochs=epochs, val=val)
    if resumed_from is not None:
        out['resumed_from_epoch'] = resumed_from
    return runner, out


def backbone_files(ckpt: str, model: str, work_dir: str, stem: str) -> dict:
    """The backbone of a training checkpoint (a DINO run's teacher, a classifier's backbone) as
    ``work_dir/<stem>.pth``, and for RATS its fine-tuning form (``<stem>_finetune.pth``, what Mask2Former loads):
    ``dict(backbone=..., finetune_backbone=...)``."""
    out = dict(backbone=osp.join(work_dir, f'{stem}.pth'))
    extract_backbone(ckpt, out['backbone'], force=True)
    if model == 'rats':
        out['finetune_backbone'] = osp.join(work_dir, f'{stem}_finetune.pth')
        extract_backbone(ckpt, out['finetune_backbone'], finetune=True, force=True)
    return out


def finetune(variant: str, backbone: str, seed: int, s: Setting, data_root: str, work_dir: str) -> dict:
    """Mask2Former on the part labels from a pretrained backbone; mIoU on the test split."""
    cfg = load_config(M2F_CONFIGS[variant][1])
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.model.backbone.init_cfg = dict(type='Pretrained', checkpoint=backbone)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = osp.join(data_root, 'ade')
    cfg.train_cfg.max_iters = s.m2f_iters
    cfg.param_scheduler[0].end = s.m2f_iters
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None  # evaluated once, by the test pass below
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=s.m2f_iters, max_keep_ckpts=1)
    unique_visualizer(with_progress_bar(cfg))
    t0, c0 = time.time(), cpu_seconds()
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    return dict(mIoU=float(metrics['mIoU']), mAcc=float(metrics['mAcc']), seconds=round(time.time() - t0, 1),
                cpu_seconds=round(cpu_seconds() - c0, 1))


def untrained_lab_backbone(model: str, seed: int, options: dict | None = None, objective: str = 'dino') -> RATSViT:
    """The model's backbone (with ``--cfg-options``) with a random init (seed ``seed``) at the evaluation size,
    from the ``objective``'s config (the backbones of both are the same)."""
    return untrained_backbone(repo_config(LAB_CONFIGS[objective][model]), seed, options)


def lab_backbones(results: dict, seed: int) -> dict:
    """``'<model> pretrained'`` (the saved teacher) and ``'<model> untrained'`` backbones of a run's seed."""
    out = {}
    for m in results['models']:
        r = results['pretrain'].get(f'{m}/seed{seed}')
        if r:
            out[f'{m} pretrained'] = load_backbone(r['backbone'])
            out[f'{m} untrained'] = untrained_lab_backbone(m, seed, results.get('cfg_options'),
                                                           results.get('objective', 'dino'))
    return out


def diagnose(backbone: RATSViT, test: HeldOut, pd: dict) -> dict:
    """Diagnostics of one backbone's candidate maps (``pd``: its part-discovery result on ``test``)."""
    heads = attention_entropy_per_head(backbone, test)
    return dict(attention_entropy=float(sum(heads) / len(heads)), attention_entropy_per_head=heads,
                specialisation=part_specialisation(backbone, test, pd['method']),
                map_similarity=pd['map_similarity'], regions_used=pd['regions_used'], num_maps=pd['num_maps'],
                method=pd['method'])


def param_budget(models: list[str], options: dict | None = None, objective: str = 'dino') -> dict:
    """Parameters of each backbone; raises if they differ by more than 2 %."""
    counts = {m: sum(p.numel() for p in untrained_lab_backbone(m, 0, options, objective=objective).parameters())
              for m in models}
    lo, hi = min(counts.values()), max(counts.values())
    if hi > 1.02 * lo:
        raise SystemExit(f'error: backbone parameters differ by more than 2 %: {counts}')
    return counts
