"""The two-group fast path (issue 13) computes what the one-tensor implementation computed.

``rats_reference`` is a frozen copy of the forward before the change; every
mode is compared with it on forward outputs and on the gradients of every
parameter, fused and manual, to float32 rounding.
"""
import pytest
import torch

from mmrats.models import RATSViT
from mmrats.models.layers import Block, DropPath, RegisterAttention

from . import rats_reference as ref

ARCH = dict(embed_dims=48, num_heads=4, num_layers=3, num_registers=8)
MODES = {
    'rats': dict(mode='rats'),
    'rats_shared': dict(mode='rats', shared_registers=True),
    'rats_shared_uneven': dict(mode='rats', shared_registers=True, num_registers=6),
    'rats_learned_comm': dict(mode='rats', learned_communicate=True),
    'rats_parallel': dict(mode='rats', parallel_branch=True),
    'rats_parallel_separate': dict(mode='rats', parallel_branch=True, parallel_qkv='separate'),
    'mhsa_cls': dict(mode='mhsa'),
    'mhsa_cls_registers': dict(mode='mhsa', num_registers=4),
    'mhsa_registers_only': dict(mode='mhsa', num_registers=4, with_cls_token=False),
}


def make(mode: str, **kw) -> RATSViT:
    torch.manual_seed(0)
    model = RATSViT(arch=ARCH, img_size=64, **MODES[mode], **kw)
    with torch.no_grad():  # a non-zero parallel branch and non-trivial norms, so that all of it is tested
        for name, p in model.named_parameters():
            if 'parallel_proj' in name or name.endswith('.bias') or 'norm' in name:
                p.add_(0.1 * torch.randn_like(p))
    return model


def outputs(f: dict) -> list[torch.Tensor]:
    return [t for t in (f['cls_token'], f['registers'], f['patch_tokens']) if t is not None]


def grads_of(model: RATSViT, fn, x: torch.Tensor, weights: list[torch.Tensor]) -> tuple[list, dict]:
    model.zero_grad(set_to_none=True)
    outs = outputs(fn(x))
    sum((o * w).sum() for o, w in zip(outs, weights)).backward()
    return [o.detach() for o in outs], {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize('fused', [True, False], ids=['fused', 'manual'])
@pytest.mark.parametrize('mode', MODES)
def test_forward_and_gradients_match_the_one_tensor_implementation(mode, fused):
    model = make(mode).train()
    model.set_fused_attention(fused)
    x = torch.randn(3, 3, 48, 64)
    weights = [torch.randn_like(o) for o in outputs(ref.forward_features(model, x))]
    new_out, new_grads = grads_of(model, model.forward_features, x, weights)
    old_out, old_grads = grads_of(model, lambda t: ref.forward_features(model, t), x, weights)
    for a, b in zip(new_out, old_out):
        torch.testing.assert_close(a, b)
    assert new_grads.keys() == old_grads.keys() and len(new_grads) == len(list(model.parameters()))
    for name in old_grads:
        torch.testing.assert_close(new_grads[name], old_grads[name], msg=name)


@pytest.mark.parametrize('mode', [m for m in MODES if m.startswith('rats')])
def test_attention_groups_equal_the_concatenated_layout(mode):
    attn = make(mode).blocks[0].attn
    nr = attn.num_registers
    x = torch.randn(2, nr + 20, ARCH['embed_dims'])
    out, _ = attn(x, nr)
    out_r, out_p, _ = attn.forward_groups(x[:, :nr], x[:, nr:])
    torch.testing.assert_close(out, ref.register_attention(attn, x))
    torch.testing.assert_close(torch.cat([out_r, out_p], 1), out)
    _, _, maps = attn.forward_groups(x[:, :nr], x[:, nr:], return_maps=True)
    assert set(maps) == {'compress', 'communicate', 'broadcast'} | ({'parallel'} if attn.parallel else set())


def test_block_groups_draw_drop_path_once_per_sample():
    """With drop path, the two-tensor block equals the one-tensor block under the same random draws."""
    torch.manual_seed(0)
    c, nr = 32, 8
    blk = Block(c, RegisterAttention(c, 4, nr), drop_path=0.5).train()
    x = torch.randn(16, nr + 12, c)
    torch.manual_seed(1)
    one = blk(x, nr)
    torch.manual_seed(1)
    regs, patches, _ = blk.forward_groups(x[:, :nr], x[:, nr:])
    torch.testing.assert_close(torch.cat([regs, patches], 1), one)
    dropped = (one == x).all(-1).all(-1)  # both branches dropped for these samples
    assert 0 < dropped.sum() < 16


def test_drop_path_shares_its_draw_across_tensors():
    torch.manual_seed(0)
    a, b = torch.ones(64, 5, 3), torch.ones(64, 7, 3)
    da, db = DropPath(0.5).train()(a, b)
    kept_a, kept_b = da[:, 0, 0] != 0, db[:, 0, 0] != 0
    assert torch.equal(kept_a, kept_b) and 0 < kept_a.sum() < 64
    torch.testing.assert_close(da[kept_a], torch.full_like(da[kept_a], 2.0))
    assert DropPath(0.5).eval()(a, b)[1] is b


@pytest.mark.parametrize('mode', ['rats', 'rats_parallel'])
def test_gradient_checkpointing_of_the_groups(mode):
    model = make(mode).train()
    x = torch.randn(2, 3, 32, 32)
    weights = [torch.randn_like(o) for o in outputs(model.forward_features(x))]
    out, grads = grads_of(model, model.forward_features, x, weights)
    model.with_cp = True
    out_cp, grads_cp = grads_of(model, model.forward_features, x, weights)
    for a, b in zip(out, out_cp):
        torch.testing.assert_close(a, b)
    for name in grads:
        torch.testing.assert_close(grads_cp[name], grads[name], msg=name)


def test_out_indices_and_attention_maps_on_the_groups():
    model = make('rats', out_indices=(0, 1, 2)).eval()
    x = torch.randn(2, 3, 32, 48)
    f = model.forward_features(x)
    assert [t.shape for t in f['out_tokens']] == [(2, 6, 48)] * 3
    torch.testing.assert_close(f['out_tokens'][-1], f['patch_tokens'])
    res = model.forward_attention_maps(x, layers=(1,))
    torch.testing.assert_close(res['patch_tokens'], f['patch_tokens'], rtol=1e-5, atol=1e-5)
    assert res['maps'][1]['compress'].shape == (2, 4, 2, 6)
