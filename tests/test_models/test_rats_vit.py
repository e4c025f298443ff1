"""RATSViT: parameter counts, every arch x mode forward/backward, outputs, errors."""
import pytest
import torch

from mmrats.models import BackboneOutput, RATSViT
from mmrats.models.layers import RegisterAttention

MODES = {
    'rats': dict(mode='rats'),
    'rats_shared': dict(mode='rats', shared_registers=True),
    'rats_learned_comm': dict(mode='rats', learned_communicate=True),
    'rats_parallel': dict(mode='rats', parallel_branch=True),
    'rats_parallel_separate': dict(mode='rats', parallel_branch=True, parallel_qkv='separate'),
    'vit_cls': dict(mode='mhsa'),
    'vit_cls_registers': dict(mode='mhsa', num_registers=4),
}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('kwargs, expected', [
    (dict(arch='small', mode='mhsa'), 21_665_664),                           # ViT-S/16
    (dict(arch='small'), 21_701_760),                                        # RATS-S/16, N=96
    (dict(arch='small', learned_communicate=True), 22_586_496),              # + learned communicate
    (dict(arch='small', parallel_branch=True), 21_701_760 + 12 * (384 * 384 + 384)),  # + W_o' per block
    (dict(arch='small', mode='mhsa', num_registers=4), 21_665_664 + 4 * 384),  # ViT-S + 4 registers
])
def test_parameter_counts(kwargs, expected):
    assert n_params(RATSViT(**kwargs)) == expected


def test_base_defaults():
    m = RATSViT(arch='b')
    assert (m.embed_dims, m.num_heads, m.num_layers, m.num_registers) == (768, 12, 12, 192)


# every mode at the small widths; the real-size archs (12 blocks, 22M / 86M parameters: seconds each) once per
# attention type: the mode options change no code path that depends on the width
SMALL_ARCHS = ['tiny', dict(embed_dims=48, num_heads=3, num_layers=3, num_registers=6)]
ARCH_MODES = [(a, m) for a in SMALL_ARCHS for m in MODES] + \
    [(a, m) for a in ('small', 'base') for m in ('rats', 'rats_parallel', 'vit_cls_registers')]


@pytest.mark.parametrize('arch, mode', ARCH_MODES)
def test_forward_backward_every_arch_and_mode(arch, mode):
    kw = MODES[mode]
    model = RATSViT(arch=arch, out_indices=(0, -1), drop_path_rate=0.1, **kw)
    # registers: the arch's N in rats mode (tiny 8, small 96, base 192, the dict's 6), else the mode's own
    arch_n = {'tiny': 8, 'small': 96, 'base': 192}.get(arch, 6) if isinstance(arch, str) else 6
    assert model.num_registers == (arch_n if kw['mode'] == 'rats' else kw.get('num_registers', 0))
    x = torch.randn(2, 3, 32, 48)
    out = model(x)
    assert isinstance(out, BackboneOutput) and len(out) == 2
    c = model.embed_dims
    assert out[0].shape == out[1].shape == (2, c, 2, 3)
    if model.num_registers:
        assert out.registers.shape == (2, model.num_registers, c)
    else:
        assert out.registers is None
    assert (out.cls_token is not None) == (kw['mode'] == 'mhsa')
    loss = out[1].mean() + (out.registers.mean() if out.registers is not None else 0)
    loss.backward()
    assert model.patch_embed.proj.weight.grad is not None
    if model.registers is not None:
        assert model.registers.grad.abs().sum() > 0


@pytest.mark.parametrize('mode', MODES)
def test_fused_and_manual_model_agree(mode):
    model = RATSViT(arch='tiny', **MODES[mode]).eval()
    for blk in model.blocks:  # a non-zero parallel branch
        if isinstance(blk.attn, RegisterAttention) and blk.attn.parallel:
            torch.nn.init.normal_(blk.attn.parallel_proj.weight, std=0.05)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a = model(x)
        model.set_fused_attention(False)
        b = model(x)
    assert (a[0] - b[0]).abs().max() < 1e-5
    if a.registers is not None:
        assert (a.registers - b.registers).abs().max() < 1e-5


def test_parallel_branch_starts_as_the_pretrained_function():
    plain = RATSViT(arch='tiny').eval()
    ft = RATSViT(arch='tiny', parallel_branch=True).eval()
    ft.load_state_dict({**ft.state_dict(), **plain.state_dict()})
    x = torch.randn(1, 3, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(ft(x)[0], plain(x)[0])
    assert all(b.attn.parallel_proj.weight.abs().sum() == 0 for b in ft.blocks)


def test_any_multiple_of_16_and_pos_embed_resize():
    model = RATSViT(arch='tiny', img_size=64).eval()
    for hw in [(16, 16), (64, 64), (80, 128), (224, 32)]:
        out = model(torch.randn(1, 3, *hw))
        assert out[0].shape[-2:] == (hw[0] // 16, hw[1] // 16) and out.patch_hw == out[0].shape[-2:]


def test_state_dict_pos_embed_is_resized_on_load():
    src = RATSViT(arch='tiny', mode='mhsa', img_size=64)
    dst = RATSViT(arch='tiny', mode='mhsa', img_size=128)
    dst.load_state_dict(src.state_dict())
    x = torch.randn(1, 3, 128, 128)
    with torch.no_grad():  # same function: forward resizes exactly as loading did
        torch.testing.assert_close(src.eval()(x)[0], dst.eval()(x)[0])


def test_forward_attention_maps_shapes():
    model = RATSViT(arch='tiny')  # C=64, H=4, N=8 -> n=2
    res = model.forward_attention_maps(torch.randn(2, 3, 64, 48), layers=(0, -1))
    assert set(res['maps']) == {0, 1}
    m = res['maps'][1]
    assert m['compress'].shape == (2, 4, 2, 12) and m['broadcast'].shape == (2, 4, 12, 2)
    assert m['communicate'].shape == (2, 4, 2, 2)
    torch.testing.assert_close(m['compress'].sum(-1), torch.ones(2, 4, 2))
    assert res['registers'].shape == (2, 8, 64) and res['patch_tokens'].shape == (2, 12, 64)
    vit = RATSViT(arch='tiny', mode='mhsa', num_registers=4)
    maps = vit.forward_attention_maps(torch.randn(1, 3, 32, 32))['maps'][1]['attn']
    assert maps.shape == (1, 4, 1 + 4 + 4, 1 + 4 + 4)


def test_gradient_checkpointing_matches():
    model = RATSViT(arch='tiny', with_cp=False).train()
    x = torch.randn(2, 3, 32, 32)
    model(x)[0].sum().backward()
    g = model.blocks[0].attn.qkv.weight.grad.clone()
    model.zero_grad()
    model.with_cp = True
    model(x)[0].sum().backward()
    torch.testing.assert_close(model.blocks[0].attn.qkv.weight.grad, g)


@pytest.mark.parametrize('mode', ['rats', 'mhsa'])
def test_checkpointing_the_first_k_blocks(mode, monkeypatch):
    import mmrats.models.backbones.rats_vit as rats_vit
    calls = []

    def counting(fn, *args, **kwargs):
        calls.append(fn)
        return torch.utils.checkpoint.checkpoint(fn, *args, **kwargs)
    monkeypatch.setattr(rats_vit, 'checkpoint', counting)
    x = torch.randn(2, 3, 32, 32)
    grads = {}
    for cp, expected in ((False, 0), (1, 1), (True, 2)):  # tiny: 2 blocks
        torch.manual_seed(0)
        model = RATSViT(arch='tiny', mode=mode, with_cp=cp).train()
        calls.clear()
        model(x)[0].sum().backward()
        grads[str(cp)] = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        assert len(calls) == expected, cp
    for cp in ('1', 'True'):
        for a, b in zip(grads['False'], grads[cp], strict=True):
            torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match='with_cp=3: True, False or a number of blocks from 0 to 2'):
        RATSViT(arch='tiny', with_cp=3)


def test_layer_scale_and_drop_path():
    model = RATSViT(arch='tiny', layer_scale_init=1e-4, drop_path_rate=0.2)
    assert 'blocks.0.ls1.gamma' in model.state_dict()
    assert model.blocks[-1].drop_path.p == pytest.approx(0.2) and model.blocks[0].drop_path.p == 0
    model.train()
    x = torch.randn(8, 3, 32, 32)
    assert not torch.equal(model(x)[0], model(x)[0])  # stochastic in training
    model.eval()
    torch.testing.assert_close(model(x)[0], model(x)[0])


def test_get_layer_depth():
    model = RATSViT(arch='tiny')  # 2 blocks -> 4 depths
    assert model.get_layer_depth('backbone.registers', 'backbone.') == (0, 4)
    assert model.get_layer_depth('backbone.patch_embed.proj.weight', 'backbone.') == (0, 4)
    assert model.get_layer_depth('backbone.blocks.1.mlp.fc1.weight', 'backbone.') == (2, 4)
    assert model.get_layer_depth('backbone.norm.weight', 'backbone.') == (3, 4)
    assert model.get_layer_depth('head.fc.weight', 'backbone.') == (3, 4)


@pytest.mark.parametrize('kwargs, match', [
    (dict(arch='tiny', num_registers=6), 'num_registers=6 is not divisible by num_heads=4'),
    (dict(arch='huge'), "Unknown RATSViT arch 'huge'"),
    (dict(arch=dict(embed_dims=64)), r"lacks \['num_heads', 'num_layers'\]"),
    (dict(arch='tiny', mode='linear'), "Unknown RATSViT mode 'linear'"),
    (dict(arch='tiny', with_cls_token=True), "mode='rats' has no \\[CLS\\] token"),
    (dict(arch='tiny', mode='mhsa', parallel_branch=True), "options of mode='rats'"),
    (dict(arch='tiny', img_size=100), 'img_size=100 is not a multiple of patch_size=16'),
    (dict(arch='tiny', out_indices=5), 'out_indices entry 5 is out of range'),
    (dict(arch='tiny', parallel_branch=True, parallel_qkv='copy'), 'parallel_qkv must be one of'),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RATSViT(**kwargs)


def test_input_size_error():
    with pytest.raises(ValueError, match=r'multiples of the patch size 16; got \(1, 3, 50, 64\).*size_divisor=16'):
        RATSViT(arch='tiny')(torch.randn(1, 3, 50, 64))
