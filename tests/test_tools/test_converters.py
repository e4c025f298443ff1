"""Weight conversion: timm/DINO -> RATSViT, RATS -> fine-tuning backbone, strict loading."""
import pytest
import torch
from timm.models.vision_transformer import VisionTransformer

from mmrats.apis import load_backbone
from mmrats.models import RATSViT
from mmrats.models.utils import (CheckpointMismatchError, convert_rats_to_finetune, convert_vit_to_ratsvit,
                                 load_backbone_checkpoint)
from mmrats.models.utils.ckpt_convert import infer_vit_arch
from tests.conftest import load_tool

rats2finetune = load_tool('tools/model_converters/rats2finetune.py')
vit2ratsvit = load_tool('tools/model_converters/vit2ratsvit.py')


def tiny_timm(**kw):
    kw = dict(img_size=64, patch_size=16, embed_dim=64, depth=2, num_heads=4, num_classes=10) | kw
    return VisionTransformer(**kw).eval()


def features(model, x):
    with torch.no_grad():
        return model.forward_features(x)


def test_timm_vit_small_equals_converted():
    """Random-weight timm vit_small_patch16_224 and our converted copy give the same features."""
    import timm
    ref = timm.create_model('vit_small_patch16_224', pretrained=False, num_classes=1000).eval()
    sd, report = convert_vit_to_ratsvit(ref.state_dict())
    assert sorted(report['dropped']) == ['head.bias', 'head.weight']
    kwargs = infer_vit_arch(sd)
    assert kwargs['arch'] == dict(embed_dims=384, num_heads=6, num_layers=12, mlp_ratio=4.0)
    ours = RATSViT(**kwargs).eval()
    ours.load_state_dict(sd, strict=True)
    x = torch.randn(2, 3, 224, 224)
    a, b = features(ref, x), features(ours, x)
    assert (a[:, 0] - b['cls_token']).abs().max() < 1e-5
    assert (a[:, 1:] - b['patch_tokens']).abs().max() < 1e-5


def test_dino_training_checkpoint_layout():
    ref = tiny_timm(num_classes=0)
    inner = {f'module.backbone.{k}': v for k, v in ref.state_dict().items()}
    inner['module.head.mlp.0.weight'] = torch.zeros(8, 64)
    ckpt = dict(teacher=inner, student={f'module.backbone.{k}': v * 0 for k, v in ref.state_dict().items()},
                epoch=3)
    sd, report = convert_vit_to_ratsvit(ckpt)
    assert report['origin'] == ['DINO training checkpoint (teacher)']
    assert report['dropped'] == ['module.head.mlp.0.weight'.removeprefix('module.')]
    ours = RATSViT(**infer_vit_arch(sd, num_heads=4)).eval()
    ours.load_state_dict(sd, strict=True)
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(features(ours, x)['patch_tokens'], features(ref, x)[:, 1:], atol=1e-5, rtol=0)


def test_timm_vit_with_registers():
    ref = tiny_timm(reg_tokens=4, no_embed_class=True)
    sd, report = convert_vit_to_ratsvit(ref.state_dict())
    assert 'reg_token -> registers' in report['renamed']
    kwargs = infer_vit_arch(sd, num_heads=4)
    assert kwargs['num_registers'] == 4 and kwargs['with_cls_token']
    ours = RATSViT(**kwargs).eval()
    ours.load_state_dict(sd, strict=True)
    x = torch.randn(2, 3, 64, 64)
    a, b = features(ref, x), features(ours, x)
    torch.testing.assert_close(b['cls_token'], a[:, 0], atol=1e-5, rtol=0)
    torch.testing.assert_close(b['registers'], a[:, 1:5], atol=1e-5, rtol=0)
    torch.testing.assert_close(b['patch_tokens'], a[:, 5:], atol=1e-5, rtol=0)


def test_vit2ratsvit_cli_round_trip(tmp_path, capsys):
    ref = tiny_timm()
    src, dst = tmp_path / 'timm.pth', tmp_path / 'out' / 'ratsvit.pth'
    torch.save(ref.state_dict(), src)
    assert vit2ratsvit.main([str(src), str(dst), '--num-heads', '4']) == 0
    out = capsys.readouterr().out
    assert 'dropped (not backbone): head.weight' in out
    # the converted file loads through the config path (init_cfg) strictly
    ours = RATSViT(arch=dict(embed_dims=64, num_heads=4, num_layers=2), mode='mhsa', img_size=64,
                   init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    ours.init_weights()
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(features(ours.eval(), x)['patch_tokens'], features(ref, x)[:, 1:],
                               atol=1e-5, rtol=0)
    # and through the Python API, its architecture read from the file
    torch.testing.assert_close(features(load_backbone(dst), x)['patch_tokens'], features(ref, x)[:, 1:],
                               atol=1e-5, rtol=0)
    # never overwrites what a user wrote
    assert vit2ratsvit.main([str(src), str(dst)]) == 2
    assert 'exists; pass --force' in capsys.readouterr().err


def test_vit2ratsvit_fails_on_unmatched_key(tmp_path, capsys):
    sd = tiny_timm().state_dict()
    sd['blocks.0.attn.q_norm.weight'] = torch.ones(16)
    torch.save(sd, tmp_path / 'bad.pth')
    assert vit2ratsvit.main([str(tmp_path / 'bad.pth'), str(tmp_path / 'o.pth'), '--num-heads', '4']) == 1
    err = capsys.readouterr().err
    assert 'unexpected (1): blocks.0.attn.q_norm.weight' in err
    assert not (tmp_path / 'o.pth').exists()


@pytest.mark.parametrize('parallel_qkv', ['shared', 'separate'])
def test_rats2finetune_round_trip(tmp_path, parallel_qkv, capsys):
    pre = RATSViT(arch='tiny', img_size=64).eval()
    src, dst = tmp_path / 'pretrain.pth', tmp_path / 'ft.pth'
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in pre.state_dict().items()},
                    meta=dict(epoch=1)), src)
    assert rats2finetune.main([str(src), str(dst), '--parallel-qkv', parallel_qkv, '--num-heads', '4']) == 0
    assert 'parallel-branch tensors' in capsys.readouterr().out
    ft = RATSViT(arch='tiny', img_size=64, parallel_branch=True, parallel_qkv=parallel_qkv,
                 init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    ft.init_weights()
    ft.eval()
    x = torch.randn(2, 3, 64, 80)
    with torch.no_grad():
        torch.testing.assert_close(ft(x)[0], pre(x)[0])
        torch.testing.assert_close(ft(x).registers, pre(x).registers)
    blk = ft.blocks[0].attn
    assert blk.parallel_proj.weight.abs().sum() == 0
    if parallel_qkv == 'separate':
        torch.testing.assert_close(blk.parallel_qkv.weight, blk.qkv.weight)


def test_convert_rats_to_finetune_rejects_wrong_inputs():
    vit = RATSViT(arch='tiny', mode='mhsa').state_dict()
    with pytest.raises(ValueError, match='not a RATS backbone state dict'):
        convert_rats_to_finetune(vit)
    ft = RATSViT(arch='tiny', parallel_branch=True).state_dict()
    with pytest.raises(ValueError, match='already has a parallel branch'):
        convert_rats_to_finetune(ft)


def test_pretrained_init_errors(tmp_path):
    missing = tmp_path / 'nope.pth'
    m = RATSViT(arch='tiny', init_cfg=dict(type='Pretrained', checkpoint=str(missing)))
    with pytest.raises(FileNotFoundError, match='nope.pth.*init_cfg.checkpoint'):
        m.init_weights()
    # a ViT checkpoint into a RATS backbone: every mismatched key is named
    torch.save(RATSViT(arch='tiny', mode='mhsa').state_dict(), tmp_path / 'vit.pth')
    with pytest.raises(CheckpointMismatchError) as e:
        load_backbone_checkpoint(RATSViT(arch='tiny'), str(tmp_path / 'vit.pth'))
    msg = str(e.value)
    assert 'missing (1): registers' in msg and 'unexpected (1): cls_token' in msg
    assert 'pos_embed' not in msg.split('unexpected')[0].split('missing')[0]
    assert 'rats2finetune.py' in msg
    # a RATS pretraining checkpoint into a fine-tuning backbone without conversion
    torch.save(RATSViT(arch='tiny').state_dict(), tmp_path / 'rats.pth')
    with pytest.raises(CheckpointMismatchError, match=r'missing \(4\): blocks.0.attn.parallel_proj.bias'):
        load_backbone_checkpoint(RATSViT(arch='tiny', parallel_branch=True), str(tmp_path / 'rats.pth'))
    # a width mismatch
    torch.save(RATSViT(arch=dict(embed_dims=32, num_heads=4, num_layers=2, num_registers=8)).state_dict(),
               tmp_path / 'narrow.pth')
    with pytest.raises(CheckpointMismatchError, match=r'shape_mismatch .*registers: checkpoint \(1, 8, 32\)'):
        load_backbone_checkpoint(RATSViT(arch='tiny'), str(tmp_path / 'narrow.pth'))
