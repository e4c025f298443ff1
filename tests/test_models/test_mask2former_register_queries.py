"""ViTPyramidNeck and the register-query Mask2Former heads."""
import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmrats.models import BackboneOutput, RATSViT, ViTPyramidNeck
from mmrats.models.heads import RegisterMask2FormerHead
from tests.conftest import REPO

DEMO = REPO / 'configs' / 'demo'


def test_neck_pyramid_and_token_passthrough():
    backbone = RATSViT(arch=dict(embed_dims=64, num_heads=4, num_layers=4, num_registers=8), out_indices=(0, 1, 2, 3))
    feats = backbone(torch.randn(2, 3, 64, 96))
    out = ViTPyramidNeck(64)(feats)
    assert isinstance(out, BackboneOutput)
    assert [tuple(o.shape[-2:]) for o in out] == [(16, 24), (8, 12), (4, 6), (2, 3)]
    assert out.registers is feats.registers and out.cls_token is None
    single = ViTPyramidNeck(64, out_channels=32)(BackboneOutput([feats[-1]], registers=feats.registers))
    assert [o.shape[1] for o in single] == [32] * 4 and single.registers is feats.registers
    with pytest.raises(ValueError, match='got 2 maps for 4 levels'):
        ViTPyramidNeck(64)(feats[:2])
    with pytest.raises(ValueError, match='scales must be among'):
        ViTPyramidNeck(64, scales=(3, 1))


def demo_head_cfg():
    cfg = Config.fromfile(str(DEMO / 'mask2former_rats-demo-regq_1xb4-300it_synthetic-coco-128x128.py'))
    head = copy.deepcopy(cfg.model.panoptic_head)  # ConfigDict: the stock head reads attributes
    head.pop('type')
    head.pop('query_source')
    head.update(train_cfg=cfg.model.train_cfg, test_cfg=cfg.model.test_cfg)
    return head


def pyramid(registers=None, b=2):
    maps = [torch.randn(b, 64, s, s) for s in (32, 16, 8, 4)]
    return BackboneOutput(maps, registers=registers)


def test_learned_queries_equal_the_stock_head():
    from mmdet.models.dense_heads import Mask2FormerHead
    from mmdet.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    kw = demo_head_cfg()
    kw.pop('register_channels')
    with DefaultScope.overwrite_default_scope('mmdet'):
        ours = RegisterMask2FormerHead(query_source='learned', **kw).eval()
        stock = Mask2FormerHead(**kw).eval()
    stock.load_state_dict(ours.state_dict())
    x = pyramid()
    with torch.no_grad():
        a, b = ours(x, None), stock(list(x), None)
    for u, v in zip(a[0] + a[1], b[0] + b[1]):
        torch.testing.assert_close(u, v)


def test_register_queries_drive_the_decoder():
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = RegisterMask2FormerHead(query_source='registers', **demo_head_cfg()).eval()
    assert head.query_feat is None and head.num_queries == 16
    regs = torch.randn(2, 16, 64)
    x = pyramid(regs)
    with torch.no_grad():
        cls1, masks1 = head(x, None)
        cls2, masks2 = head(pyramid(regs * 2), None)
    assert len(cls1) == 1 + 3 and cls1[0].shape == (2, 16, 7) and masks1[-1].shape[:2] == (2, 16)
    assert not torch.allclose(cls1[0], cls2[0])  # the first prediction comes from the registers alone


def test_register_query_errors():
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = RegisterMask2FormerHead(query_source='registers', **demo_head_cfg())
    with pytest.raises(ValueError, match=r"gives 12 registers but the head has num_queries=16.*num_registers"):
        head(pyramid(torch.randn(2, 12, 64)), None)
    with pytest.raises(ValueError, match='found no register tokens.*mmrats.ViTPyramidNeck'):
        head(pyramid(None), None)
    kw = demo_head_cfg()
    kw.pop('register_channels')
    with pytest.raises(ValueError, match='needs register_channels'):
        RegisterMask2FormerHead(query_source='registers', **kw)
    with pytest.raises(ValueError, match='query_source must be one of'):
        RegisterMask2FormerHead(query_source='cls', **demo_head_cfg())
