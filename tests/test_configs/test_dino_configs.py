"""The DINO pretraining configs: each builds, with the recipe the paper and the spec give."""
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from tests.conftest import REPO

CFG = REPO / 'configs' / 'dino'
# config -> (arch, mode, global representation, epochs, total batch on 8 GPUs, freeze epochs, temp warm-up)
RECIPES = {
    'dino_rats-s16_8xb96-300e_in1k-224.py': ('small', 'rats', 'registers', 300, 768, 1, 30),
    'dino_rats-s16-perhead_8xb96-300e_in1k-224.py': ('small', 'rats', 'registers', 300, 768, 1, 30),
    'dino_vit-s16_8xb96-100e_in1k-224.py': ('small', 'mhsa', 'cls', 100, 768, 1, 30),
    'dino_rats-b16_8xb128-400e_in1k-224.py': ('base', 'rats', 'registers', 400, 1024, 3, 50),
}


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_dino_config_recipe_and_build(name):
    arch, mode, repr_, epochs, batch, freeze, warm = RECIPES[name]
    cfg = Config.fromfile(str(CFG / name))
    assert cfg.model.backbone.arch == arch and cfg.model.backbone.mode == mode
    assert cfg.train_cfg.max_epochs == epochs and cfg.train_dataloader.batch_size * 8 == batch
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.model.neck.out_channels == cfg.model.head.out_channels == 65536
    hooks = {h.type: h for h in cfg.custom_hooks}
    assert hooks['mmrats.FreezeLastLayerHook'].freeze_epochs == freeze
    t = hooks['mmrats.DINOTeacherHook']
    assert (t.warmup_teacher_temp, t.teacher_temp, t.warmup_epochs, t.base_momentum) == (0.04, 0.07, warm, 0.996)
    views = cfg.train_dataloader.dataset.pipeline[1]
    assert views.num_views == [1, 1, 10]
    assert [v[0].scale for v in views.transforms] == [224, 224, 96]
    assert cfg.model.head.student_temp == 0.1 and cfg.model.head.center_momentum == 0.9
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        from mmpretrain.registry import MODELS
        model = MODELS.build(cfg.model)
    assert model.global_repr == repr_
    assert model.per_head_loss == ('perhead' in name)
    if 'perhead' in name:
        assert model.head.num_groups == model.backbone.num_heads == 6
    n_backbone = sum(p.numel() for p in model.backbone.parameters())
    n_teacher = sum(p.numel() for p in model.teacher.backbone.parameters())
    assert n_backbone == n_teacher
    if name.startswith('dino_rats-s16_'):
        assert n_backbone == 21_701_760  # RATS-S/16, the paper's arithmetic
    assert not any(p.requires_grad for p in model.teacher.parameters())
    del model
    torch.cuda.empty_cache()


def test_no_weight_decay_on_norms_biases_registers_cls_pos():
    cfg = Config.fromfile(str(CFG / 'dino_rats-s16_8xb96-300e_in1k-224.py'))
    pw = cfg.optim_wrapper.paramwise_cfg
    assert pw.norm_decay_mult == 0 and pw.bias_decay_mult == 0
    assert {k: v.decay_mult for k, v in pw.custom_keys.items()} == {'registers': 0, 'cls_token': 0, 'pos_embed': 0}


def test_rats_b_clips_gradients_and_rats_s_does_not():
    b = Config.fromfile(str(CFG / 'dino_rats-b16_8xb128-400e_in1k-224.py'))
    s = Config.fromfile(str(CFG / 'dino_rats-s16_8xb96-300e_in1k-224.py'))
    assert b.optim_wrapper.clip_grad == dict(max_norm=0.3) and s.optim_wrapper.clip_grad is None
    assert b.optim_wrapper.optimizer.lr == pytest.approx(7.5e-4 * 4)
    assert b.param_scheduler[1].eta_min == 2e-6 and b.model.backbone.drop_path_rate == 0.1
