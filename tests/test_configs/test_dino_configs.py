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


def build_model(cfg, prototypes=None):
    if prototypes:
        cfg.model.neck.out_channels = cfg.model.head.out_channels = prototypes
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        from mmpretrain.registry import MODELS
        return MODELS.build(cfg.model)


@pytest.mark.parametrize('name', ['dino_rats-s16_8xb96-300e_in1k-224.py',
                                  'dino_vit-s16-vanilla_8xb64-100e_in1k-224.py'])
def test_weight_decay_groups_are_dinos(name):
    """DINO's utils.get_params_groups: no weight decay on biases and 1-D tensors, decay on all else
    ([CLS], position embeddings, registers included); the EMA teacher is not optimised."""
    from mmrats.engine.optimizers import TeacherFreeOptimWrapperConstructor
    cfg = Config.fromfile(str(CFG / name))
    assert cfg.optim_wrapper.paramwise_cfg == dict(norm_decay_mult=0.0, bias_decay_mult=0.0)
    model = build_model(cfg, prototypes=256)
    ow_cfg = dict(type='OptimWrapper', optimizer=cfg.optim_wrapper.optimizer)
    ow = TeacherFreeOptimWrapperConstructor(ow_cfg, cfg.optim_wrapper.paramwise_cfg)(model)
    decay = {id(p) for g in ow.optimizer.param_groups if g['weight_decay'] > 0 for p in g['params']}
    optimised = {id(p) for g in ow.optimizer.param_groups for p in g['params']}
    student = [(n, p) for n, p in model.named_parameters() if not n.startswith('teacher.') and p.requires_grad]
    assert optimised == {id(p) for _, p in student}
    expected = {id(p) for n, p in student if not (n.endswith('.bias') or p.ndim == 1)}
    assert decay == expected
    names = {n for n, p in student if id(p) in decay}
    assert 'backbone.pos_embed' in names and ('backbone.registers' in names or 'backbone.cls_token' in names)


def test_rats_b_clips_per_tensor_and_rats_s_does_not():
    b = Config.fromfile(str(CFG / 'dino_rats-b16_8xb128-400e_in1k-224.py'))
    s = Config.fromfile(str(CFG / 'dino_rats-s16_8xb96-300e_in1k-224.py'))
    # DINO's ViT-B/16 run: --clip_grad 0.3, DINO's clip_gradients (each tensor on its own)
    assert b.optim_wrapper.clip_grad == dict(type='per_tensor', max_norm=0.3) and s.optim_wrapper.clip_grad is None
    assert b.optim_wrapper.optimizer.lr == pytest.approx(7.5e-4 * 4)
    assert b.param_scheduler[1].eta_min == 2e-6 and b.model.backbone.drop_path_rate == 0.1
    # DINO ViT-B/16 keeps the weight-normalised last layer; DINO's 300-epoch ViT-S/16 run drops it
    assert b.model.neck.norm_last_layer is True and s.model.neck.norm_last_layer is False


def test_vanilla_dino_vit_s16_is_dinos_official_100_epoch_run():
    """main_dino.py --arch vit_small with its defaults (DINO README, "Vanilla DINO training"), 8 GPUs."""
    cfg = Config.fromfile(str(CFG / 'dino_vit-s16-vanilla_8xb64-100e_in1k-224.py'))
    assert cfg.model.backbone.arch == 'small' and cfg.model.backbone.mode == 'mhsa'
    assert cfg.model.backbone.num_registers == 0 and cfg.model.backbone.drop_path_rate == 0.1
    assert cfg.train_cfg.max_epochs == 100 and cfg.train_dataloader.batch_size * 8 == 512
    assert cfg.auto_scale_lr.base_batch_size == 512
    ow = cfg.optim_wrapper
    assert ow.type == 'AmpOptimWrapper' and ow.dtype == 'float16'  # --use_fp16 true
    assert ow.optimizer.type == 'AdamW' and ow.optimizer.lr == pytest.approx(5e-4 * 512 / 256)
    assert ow.optimizer.weight_decay == 0.04 and ow.optimizer.betas == (0.9, 0.999)
    assert ow.clip_grad == dict(type='per_tensor', max_norm=3.0)
    warm, cos, wd = cfg.param_scheduler
    assert warm.type == 'LinearLR' and (warm.begin, warm.end) == (0, 10)
    assert cos.type == 'CosineAnnealingLR' and cos.eta_min == 1e-6 and (cos.begin, cos.end, cos.T_max) == (10, 100, 90)
    assert wd.param_name == 'weight_decay' and wd.eta_min_ratio == 10.0 and (wd.begin, wd.end) == (0, 100)
    hooks = {h.type: h for h in cfg.custom_hooks}
    t = hooks['mmrats.DINOTeacherHook']
    assert (t.warmup_teacher_temp, t.teacher_temp, t.warmup_epochs) == (0.04, 0.04, 0)
    assert (t.base_momentum, t.end_momentum) == (0.996, 1.0)
    assert hooks['mmrats.FreezeLastLayerHook'].freeze_epochs == 1
    neck, head = cfg.model.neck, cfg.model.head
    assert neck.norm_last_layer is True and neck.out_channels == head.out_channels == 65536
    assert (neck.hidden_channels, neck.bottleneck_channels, neck.num_layers) == (2048, 256, 3)
    assert head.student_temp == 0.1 and head.center_momentum == 0.9
    views = cfg.train_dataloader.dataset.pipeline[1]
    assert views.num_views == [1, 1, 8]
    assert [v[0].scale for v in views.transforms] == [224, 224, 96]
    assert [v[0].crop_ratio_range for v in views.transforms] == [(0.4, 1.0), (0.4, 1.0), (0.05, 0.4)]
    model = build_model(cfg)
    assert model.global_repr == 'cls' and model.neck.norm_last_layer
    assert sum(p.numel() for p in model.backbone.parameters()) == sum(
        p.numel() for p in model.teacher.backbone.parameters())
    del model


def test_paper_recipe_vit_baseline_is_the_rats_s_recipe_at_100_epochs():
    """The ViT baseline beside the vanilla run: RATS-S's values, 100 epochs, [CLS]."""
    vit = Config.fromfile(str(CFG / 'dino_vit-s16_8xb96-100e_in1k-224.py'))
    rats = Config.fromfile(str(CFG / 'dino_rats-s16_8xb96-300e_in1k-224.py'))
    assert vit.optim_wrapper == rats.optim_wrapper and vit.custom_hooks == rats.custom_hooks
    assert vit.model.neck == rats.model.neck and vit.model.head == rats.model.head
    assert vit.train_dataloader == rats.train_dataloader
    assert vit.model.backbone.drop_path_rate == rats.model.backbone.drop_path_rate == 0.05
    assert vit.train_cfg.max_epochs == 100 and vit.param_scheduler[1].eta_min == rats.param_scheduler[1].eta_min
