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


def seg_head_cfg():
    cfg = Config.fromfile(str(DEMO / 'mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py'))
    head = copy.deepcopy(cfg.model.decode_head)
    head.pop('type')
    head.pop('query_source')
    head.pop('register_channels')
    return head


def test_learned_queries_equal_the_stock_seg_head():
    """RegisterMask2FormerSegHead with learned queries is mmseg's Mask2FormerHead: same decoder outputs and
    the same segmentation logits from mmseg's own predict."""
    from mmseg.models.decode_heads import Mask2FormerHead
    from mmseg.utils import register_all_modules

    from mmrats.models.heads import RegisterMask2FormerSegHead
    register_all_modules(init_default_scope=False)
    kw = seg_head_cfg()
    with DefaultScope.overwrite_default_scope('mmseg'):
        ours = RegisterMask2FormerSegHead(query_source='learned', **kw).eval()
        stock = Mask2FormerHead(**kw).eval()
    stock.load_state_dict(ours.state_dict())
    x = pyramid()
    metas = [dict(img_shape=(128, 128), pad_shape=(128, 128))] * 2
    with torch.no_grad():
        a, b = ours(x, None), stock(list(x), None)
        seg_a, seg_b = ours.predict(x, metas, {}), stock.predict(list(x), metas, {})
    assert len(a[0]) == 1 + 3 and a[0][0].shape == (2, 16, 8)  # 7 classes + no-object
    for u, v in zip(a[0] + a[1], b[0] + b[1]):
        torch.testing.assert_close(u, v, rtol=0, atol=1e-6)
    assert seg_a.shape == (2, 7, 128, 128)
    torch.testing.assert_close(seg_a, seg_b, rtol=0, atol=1e-6)


def test_register_queries_drive_the_decoder():
    """With the feature maps held fixed, the registers alone change the predictions, image by image; the
    learned-query head (control) ignores them."""
    with DefaultScope.overwrite_default_scope('mmdet'):
        head = RegisterMask2FormerHead(query_source='registers', **demo_head_cfg()).eval()
        kw = demo_head_cfg()
        kw.pop('register_channels')
        learned = RegisterMask2FormerHead(query_source='learned', **kw).eval()
    assert head.query_feat is None and head.num_queries == 16
    maps = pyramid()
    regs = torch.randn(2, 16, 64)
    other = regs.clone()
    other[0] = torch.randn(16, 64)  # new registers for image 0 only

    def run(model, registers):
        with torch.no_grad():
            cls, masks = model(BackboneOutput(list(maps), registers=registers.clone()), None)
        return cls + masks

    out, again, changed = run(head, regs), run(head, regs), run(head, other)
    assert len(out) == 2 * (1 + 3) and out[0].shape == (2, 16, 7) and out[-1].shape[:2] == (2, 16)
    for u, v, w in zip(out, again, changed):  # every stage, the initial queries' prediction first
        assert torch.equal(u, v)
        assert (u[0] - w[0]).abs().max() > 1e-4, 'the registers of image 0 did not change its prediction'
        assert torch.equal(u[1], w[1]), 'the registers of image 0 changed the prediction of image 1'
    for u, v in zip(run(learned, regs), run(learned, other)):
        assert torch.equal(u, v)


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
