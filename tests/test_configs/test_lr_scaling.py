"""The lr each real config's optimizer gets on 1, 4, 8 and 16 GPUs (issue #24).

No processes are launched: an mmengine ``Runner`` is built from the config's
``train_dataloader``, ``train_cfg``, ``optim_wrapper``, ``param_scheduler`` and
``auto_scale_lr`` (as ``tools/train.py`` gives them, through ``build_cfg``) with the
world size it reads from ``get_dist_info`` patched, and then runs the two lines of
``Runner.train`` that make the optimizer: ``build_optim_wrapper`` and ``scale_lr``.
The model is a stand-in with the real configs' parameter prefixes (``backbone``
for the Mask2Former ``lr_mult``, ``teacher`` that the DINO constructor leaves
out): the lr does not depend on the layers, and the real RATS-S/B models would
take most of a minute to build here.

Expected values are written out, not read from the configs: DINO's rule
(lr = base x total batch / 256, 5e-4 for the ViT-S-sized configs and 7.5e-4 for
RATS-B), and for Mask2Former the stock recipe's 1e-4 unscaled by default and
1e-4 x total / 16 with ``--auto-scale-lr``.
"""
import argparse
import copy
import re
import time
from pathlib import Path
from unittest import mock

import pytest
import torch.nn as nn
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmrats.utils.run_config import build_cfg, enable_auto_scale_lr
from tests.conftest import REPO

WORLD_SIZES = (1, 4, 8, 16)
DINO = sorted(str(p.relative_to(REPO)) for p in (REPO / 'configs/dino').glob('*.py'))
MASK2FORMER = sorted(str(p.relative_to(REPO)) for p in [*(REPO / 'configs/mask2former').glob('*.py'),
                                                        *(REPO / 'configs/custom').glob('mask2former_*.py')])
# one-process configs: the lr as written at any world size (scaling off), and the batch it is written for
SMALL = {'configs/demo/dino_rats-demo_1xb16-12e_sample-photos-96.py': (2e-4, 16),
         'configs/demo/dino_vit-demo_1xb16-12e_sample-photos-96.py': (2e-4, 16),
         'configs/lab/dino_rats-lab_1xb32-2e_part-objects-64.py': (5e-4, 32),
         'configs/lab/dino_rats-lab-codebook_1xb32-2e_part-objects-64.py': (5e-4, 32),
         'configs/lab/dino_vit-lab_1xb32-2e_part-objects-64.py': (5e-4, 32),
         'configs/lab/mask2former_rats-lab_1xb8-100it_part-objects-96.py': (2e-4, 16),
         'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py': (5e-4, 16)}


class StandIn(nn.Module):
    """Parameters under the prefixes the configs' ``paramwise_cfg`` and constructors look at."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(2, 2)
        self.neck = nn.Linear(2, 2)
        self.head = nn.Linear(2, 2)
        self.teacher = nn.Linear(2, 2)  # DINO's EMA teacher: no optimizer group
        self.teacher.requires_grad_(False)


def args(config, **kw):
    base = dict(config=str(REPO / config), launcher='none', cfg_options=None, work_dir=None, amp=False,
                resume=None, show_dir=None, auto_scale_lr=False)
    return argparse.Namespace(**{**base, **kw})


def optimizer_lrs(cfg, world_size: int, work_dir: Path) -> list[tuple[str, float]]:
    """(first parameter's name, lr) of each optimizer group, as ``Runner.train`` leaves them.

    A Runner makes its config's default scope current for the whole process (mmseg's here): the scopes
    before it are put back afterwards, or the tests that follow build their transforms in mmseg's registry.
    """
    scopes = copy.copy(DefaultScope._instance_dict)
    try:
        return _optimizer_lrs(cfg, world_size, work_dir)
    finally:
        DefaultScope._instance_dict = scopes


def _optimizer_lrs(cfg, world_size: int, work_dir: Path) -> list[tuple[str, float]]:
    model = StandIn()
    with mock.patch('mmengine.runner.runner.get_dist_info', return_value=(0, world_size)):
        runner = Runner(model=model, work_dir=str(work_dir), train_dataloader=copy.deepcopy(cfg.train_dataloader),
                        train_cfg=dict(type='IterBasedTrainLoop', max_iters=1),
                        optim_wrapper=copy.deepcopy(cfg.optim_wrapper),
                        param_scheduler=copy.deepcopy(cfg.param_scheduler),
                        auto_scale_lr=copy.deepcopy(cfg.get('auto_scale_lr')),
                        default_scope=cfg.get('default_scope', 'mmengine'), randomness=dict(seed=0),
                        experiment_name=f'lr-scaling-{time.time_ns()}')
    assert runner.world_size == world_size
    # Runner.train: "build_optimizer should be called before build_param_scheduler"
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
    names = {id(p): n for n, p in model.named_parameters()}
    return [(names[id(g['params'][0])], g['lr']) for g in runner.optim_wrapper.optimizer.param_groups]


def total_batch(cfg, world_size):
    return world_size * cfg.train_dataloader.batch_size


@pytest.mark.parametrize('config', DINO)
def test_dino_configs_follow_dinos_rule(config, tmp_path):
    cfg = build_cfg(args(config))
    base = 7.5e-4 if 'rats-b16' in config else 5e-4
    for n in WORLD_SIZES:
        lrs = optimizer_lrs(cfg, n, tmp_path / str(n))
        assert {name.split('.')[0] for name, _ in lrs} == {'backbone', 'neck', 'head'}  # the teacher left out
        assert all(lr == pytest.approx(base * total_batch(cfg, n) / 256, rel=1e-12) for _, lr in lrs), (n, lrs)
    # the name's GPUs x batch per GPU (8xb96: 768) is the batch the lr is written for
    gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)-', config).groups())
    assert cfg.train_dataloader.batch_size == per_gpu
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=gpus * per_gpu)
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(base * gpus * per_gpu / 256, rel=1e-12)


@pytest.mark.parametrize('config', MASK2FORMER)
def test_mask2former_configs_scale_only_with_the_flag(config, tmp_path):
    cfg = build_cfg(args(config))
    scaled = build_cfg(args(config, auto_scale_lr=True))
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16)
    assert scaled.auto_scale_lr == dict(enable=True, base_batch_size=16)
    for n in WORLD_SIZES:
        for c, factor in ((cfg, 1.0), (scaled, total_batch(cfg, n) / 16)):
            lrs = optimizer_lrs(c, n, tmp_path / f'{n}-{factor}')
            for name, lr in lrs:
                mult = 0.1 if name.startswith('backbone.') else 1.0  # the stock recipe's backbone lr_mult
                assert lr == pytest.approx(1e-4 * mult * factor, rel=1e-12), (n, name, lr)
    assert total_batch(cfg, 8) == 8  # the recipe's 8 GPUs x 1: --auto-scale-lr gives 5e-5 there


@pytest.mark.parametrize('config', sorted(SMALL))
def test_demo_and_lab_configs_keep_their_lr(config, tmp_path):
    """One-process configs: the lr they were tuned and recorded with, whatever the world size."""
    lr, base_batch = SMALL[config]
    cfg = build_cfg(args(config))
    assert cfg.auto_scale_lr.enable is False and cfg.auto_scale_lr.base_batch_size == base_batch
    for n in (1, 4):
        lrs = optimizer_lrs(cfg, n, tmp_path / str(n))
        assert max(l for _, l in lrs) == pytest.approx(lr, rel=1e-12), lrs
    # with --auto-scale-lr, a one-process run at the config's own batch keeps it too
    if cfg.train_dataloader.batch_size == base_batch:
        scaled = optimizer_lrs(enable_auto_scale_lr(copy.deepcopy(cfg)), 1, tmp_path / 'scaled')
        assert max(l for _, l in scaled) == pytest.approx(lr, rel=1e-12)


def test_auto_scale_lr_flag(capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location('train_tool', REPO / 'tools/train.py')
    train_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_tool)
    assert train_tool.parse_args(['x.py', '--auto-scale-lr']).auto_scale_lr is True
    assert train_tool.parse_args(['x.py']).auto_scale_lr is False
    config = 'configs/mask2former/mask2former_rats-s16_8xb1-160k_ade20k-512x512.py'
    with pytest.raises(SystemExit, match='needs auto_scale_lr.base_batch_size'):
        build_cfg(args(config, auto_scale_lr=True, cfg_options={'auto_scale_lr': dict(_delete_=True, enable=False)}))
    cfg = build_cfg(args(config, auto_scale_lr=True, cfg_options={'auto_scale_lr.base_batch_size': 8}))
    assert cfg.auto_scale_lr == dict(enable=True, base_batch_size=8)
