"""The paper's Mask2Former recipes: the three variants differ only where they should; all build."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from tests.conftest import REPO

CFG = REPO / 'configs' / 'mask2former'
VARIANTS = ('rats-s16-regq', 'rats-s16', 'vit-s16-dino')
DATASETS = {
    'ade': ('8xb1-160k_ade20k-512x512', 'decode_head'),
    'coco': ('8xb1-lsj-368k_coco-1024x1024', 'panoptic_head'),
}


def load(variant: str, data: str) -> Config:
    return Config.fromfile(str(CFG / f'mask2former_{variant}_{DATASETS[data][0]}.py'))


def flatten(obj, prefix='') -> dict:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(flatten(v, f'{prefix}{k}.'))
        return out or {prefix.rstrip('.'): {}}
    if isinstance(obj, (list, tuple)):
        out = {}
        for i, v in enumerate(obj):
            out.update(flatten(v, f'{prefix}{i}.'))
        return out or {prefix.rstrip('.'): type(obj)()}
    return {prefix.rstrip('.'): obj}


@pytest.mark.parametrize('data', DATASETS)
def test_variants_differ_only_in_backbone_weights_and_queries(data):
    head = DATASETS[data][1]
    allowed = ('model.backbone.', f'model.{head}.query_source', f'model.{head}.num_queries')
    ref = flatten(load(VARIANTS[0], data).to_dict())
    for variant in VARIANTS[1:]:
        other = flatten(load(variant, data).to_dict())
        differ = {k for k in ref.keys() | other.keys() if ref.get(k, '<absent>') != other.get(k, '<absent>')}
        unexpected = sorted(k for k in differ if not k.startswith(allowed))
        assert not unexpected, f'{variant} vs {VARIANTS[0]} ({data}) differ in {unexpected}'
        assert f'model.{head}.query_source' in differ
        assert any(k.startswith('model.backbone.') for k in differ) == (variant == 'vit-s16-dino')


@pytest.mark.parametrize('data', DATASETS)
def test_recipes(data):
    head = DATASETS[data][1]
    regq, learned, vit = (load(v, data) for v in VARIANTS)
    assert getattr(regq.model, head).num_queries == 96 and getattr(regq.model, head).query_source == 'registers'
    assert getattr(learned.model, head).num_queries == 100 and getattr(vit.model, head).num_queries == 100
    assert regq.model.backbone.mode == 'rats' and regq.model.backbone.parallel_branch
    assert vit.model.backbone.mode == 'mhsa'
    assert regq.train_dataloader.batch_size == 1  # x 8 GPUs = 8
    assert regq.optim_wrapper.optimizer.type == 'AdamW'
    if data == 'ade':
        assert regq.train_cfg.max_iters == 160_000 and regq.crop_size == (512, 512)
        assert regq.train_dataloader.dataset.data_root == 'data/ade/ADEChallengeData2016'
    else:
        assert regq.train_cfg.max_iters == 368_750 and regq.image_size == (1024, 1024)
        assert regq.val_evaluator.metric == ['bbox', 'segm']


@pytest.mark.parametrize('variant', VARIANTS)
@pytest.mark.parametrize('data', DATASETS)
def test_real_configs_build(variant, data):
    cfg = load(variant, data)
    scope = cfg.default_scope
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model)
    head = getattr(model, DATASETS[data][1])
    assert type(model.backbone).__name__ == 'RATSViT' and type(model.neck).__name__ == 'ViTPyramidNeck'
    assert head.query_source == ('registers' if variant == 'rats-s16-regq' else 'learned')
    assert (head.query_feat is None) == (variant == 'rats-s16-regq')
