"""The supervised control of the lab-scale experiment (issue #26; docs/lab_scale.md, "Controls").

After DINO at CPU scale the RATS register maps segment parts worse than untrained and k-NN on the categories
stays at chance. Is DINO's budget the limit, or does the register bottleneck not make parts at this scale
whatever the network knows? Here the same three backbones (``configs/lab/supervised_*``: the DINO configs'
backbones, data, training images and seeds) learn the main object's category with labels, a linear head on
the global representation each model already uses (``mmrats.GlobalReprNeck``), until their held-out category
accuracy is far above chance; then ``tools/lab/lab_experiment.py --objective supervised`` evaluates the
backbone exactly as it evaluates a DINO teacher (part discovery, diagnostics, k-NN, pictures, Mask2Former).
"""
from __future__ import annotations

import os.path as osp

from mmengine.config import Config

from mmrats.evaluation.lab import near_chance

from .lab import SUPERVISED_CONFIGS, Setting, backbone_files, sized_cfg, train_run

MONITORS = ('loss', 'accuracy_top-1')  # the linear head's cross-entropy and its accuracy on the training batch
VAL_PREFIX = 'accuracy/'  # mmpretrain's Accuracy: 'accuracy/top1'


def supervised_cfg(model: str, seed: int, s: Setting, work_dir: str, options: dict | None = None,
                   recipe: dict | None = None) -> Config:
    """The lab supervised config of ``model`` sized by the setting as the DINO configs are
    (:func:`~mmrats.apis.lab.sized_cfg`); the held-out test of the classifier on the setting's test images."""
    cfg = sized_cfg(SUPERVISED_CONFIGS[model], seed, s, work_dir, options, recipe)
    cfg.test_dataloader.dataset.num_images = s.test_images
    cfg.test_dataloader.batch_size = min(cfg.test_dataloader.batch_size, s.test_images)
    return cfg


def train_supervised(model: str, seed: int, s: Setting, work_dir: str, options: dict | None = None,
                     resume: bool = False, recipe: dict | None = None) -> dict:
    """Train one model's classifier; its backbone extracted as a DINO teacher is (and, for RATS, its
    fine-tuning form), and its held-out category accuracy (top-1 on the test images, %).

    Returns:
        What :func:`~mmrats.apis.lab.pretrain` returns (``epochs`` hold the loss and the training-batch
        accuracy, ``val`` the validation accuracy), plus ``accuracy`` and ``near_chance`` (below twice chance).
    """
    runner, out = train_run(supervised_cfg(model, seed, s, work_dir, options, recipe), resume, MONITORS, VAL_PREFIX)
    out['accuracy'] = float(runner.test()['accuracy/top1'])
    out['near_chance'] = near_chance(out['accuracy'])
    out.update(backbone_files(osp.join(work_dir, f'epoch_{runner.epoch}.pth'), model, work_dir, 'backbone'))
    return out
