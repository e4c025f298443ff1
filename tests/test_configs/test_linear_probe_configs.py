"""The linear-probe configs are DINO's linear evaluation (facebookresearch/dino eval_linear.py defaults and README),
value by value, written out here; each builds, its features have the width of its head, and its lr follows DINO's
rule (0.001 x total batch / 256) on 1 and 8 GPUs."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope, init_default_scope

from mmrats.utils.run_config import build_cfg
from tests.conftest import REPO
from tests.test_configs.test_lr_scaling import args, optimizer_lrs

FOLDER = 'configs/linear_probe'
# config: (arch, mode, n_last_blocks, avgpool_patchtokens, feature width, the backbone file it loads)
CONFIGS = {
    'linear_rats-s16-dino-pre_8xb128-100e_in1k-224.py': ('small', 'rats', 4, False, 4 * 384,
                                                          'checkpoints/rats-s16_dino-300e.pth'),
    'linear_vit-s16-dino-pre_8xb128-100e_in1k-224.py': ('small', 'mhsa', 4, False, 4 * 384,
                                                         'checkpoints/vit-s16_dino-100e.pth'),
    'linear_rats-b16-dino-pre_8xb128-100e_in1k-224.py': ('base', 'rats', 1, True, 2 * 768,
                                                          'checkpoints/rats-b16_dino-400e.pth'),
}


@pytest.fixture(autouse=True)
def _scopes():
    scopes = copy.copy(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = scopes


def test_every_linear_probe_config_is_listed():
    assert {p.name for p in (REPO / FOLDER).glob('*.py')} == set(CONFIGS)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_the_protocol_is_dinos(name):
    cfg = Config.fromfile(str(REPO / FOLDER / name))
    arch, mode, n, avgpool, width, ckpt = CONFIGS[name]
    bb, head = cfg.model.backbone, cfg.model.head
    assert (cfg.model.type, bb.type, head.type) == ('ImageClassifier', 'mmrats.LinearProbeRATSViT', 'LinearClsHead')
    assert (bb.arch, bb.mode, bb.n_last_blocks, bb.avgpool_patchtokens, bb.global_repr) == (arch, mode, n, avgpool,
                                                                                             'auto')
    assert bb.init_cfg == dict(type='Pretrained', checkpoint=ckpt)
    assert 'neck' not in cfg.model  # one linear layer on the features, no batch norm
    assert head.in_channels == width and head.num_classes == 1000
    assert head.init_cfg == dict(type='Normal', layer='Linear', std=0.01, bias=0.0)
    # SGD, momentum 0.9, no weight decay, lr 0.001 x 1024 / 256, cosine to 0 over 100 epochs (per epoch)
    assert cfg.optim_wrapper.optimizer == dict(type='SGD', lr=0.001 * 1024 / 256, momentum=0.9, weight_decay=0.0)
    assert cfg.param_scheduler == [dict(type='CosineAnnealingLR', T_max=100, eta_min=0.0, by_epoch=True, begin=0,
                                        end=100)]
    assert cfg.train_cfg.max_epochs == 100 and cfg.train_cfg.val_interval == 1
    assert cfg.train_dataloader.batch_size == 128 and cfg.auto_scale_lr == dict(enable=True, base_batch_size=1024)
    train, val = cfg.train_dataloader.dataset.pipeline, cfg.val_dataloader.dataset.pipeline
    assert [t.type for t in train] == ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'PackInputs']
    assert (train[1].scale, train[1].crop_ratio_range, train[1].interpolation) == (224, (0.08, 1.0), 'bilinear')
    assert train[1].aspect_ratio_range == pytest.approx((3 / 4, 4 / 3))
    assert (train[2].prob, train[2].direction) == (0.5, 'horizontal')
    assert [t.type for t in val] == ['LoadImageFromFile', 'ResizeEdge', 'CenterCrop', 'PackInputs']
    assert (val[1].scale, val[1].edge, val[1].interpolation, val[2].crop_size) == (256, 'short', 'bicubic', 224)
    assert cfg.val_evaluator == dict(type='Accuracy', topk=(1, 5))
    pre = cfg.model.data_preprocessor
    assert (pre.mean, pre.std, pre.to_rgb) == ([123.675, 116.28, 103.53], [58.395, 57.12, 57.375], True)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_the_model_builds_with_the_feature_width_of_its_head(name):
    from mmpretrain.registry import MODELS
    cfg = Config.fromfile(str(REPO / FOLDER / name))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)  # no init_weights: the backbone files are not here
    width = CONFIGS[name][4]
    assert model.backbone.out_channels == model.head.fc.in_features == width
    assert model.backbone.global_repr == ('cls' if CONFIGS[name][1] == 'mhsa' else 'registers')
    model.train()
    assert not model.backbone.training and model.head.training
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ['head.fc.weight', 'head.fc.bias']
    with torch.no_grad():
        (feats,) = model.extract_feat(torch.zeros(1, 3, 32, 32))  # 2 x 2 patches: the width, not the numbers
    assert feats.shape == (1, width)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_the_lr_follows_dinos_rule(name, tmp_path):
    cfg = build_cfg(args(f'{FOLDER}/{name}'))
    for gpus in (1, 8):
        lrs = optimizer_lrs(cfg, gpus, tmp_path / str(gpus))
        assert all(lr == pytest.approx(0.001 * 128 * gpus / 256, rel=1e-12) for _, lr in lrs), (gpus, lrs)
