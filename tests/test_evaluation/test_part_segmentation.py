"""The part-segmentation pipeline (Eq. 7) and the two baselines' map extractors."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.ndimage import gaussian_filter

from mmrats.evaluation.part_segmentation import (PartSegmenter, candidate_maps, check_method, cls_attention_maps,
                                                 compress_attention_maps, default_method, gaussian_smooth,
                                                 rank_top_k, register_attention_maps, segment_maps,
                                                 similarity_maps)
from mmrats.models import RATSViT
from mmrats.visualization import register_similarity


@pytest.fixture(scope='module')
def rats():
    torch.manual_seed(0)
    return RATSViT(arch='tiny', img_size=64).eval()  # N = 8 registers, H = 4 heads, n = 2


@pytest.fixture(scope='module')
def vit():
    torch.manual_seed(0)
    return RATSViT(arch='tiny', mode='mhsa', img_size=64).eval()  # [CLS], no registers


@pytest.fixture(scope='module')
def vit_reg():
    torch.manual_seed(0)
    return RATSViT(arch='tiny', mode='mhsa', num_registers=4, img_size=64).eval()  # [CLS] + 4 registers


@pytest.mark.parametrize('sigma', [0.7, 1.0, 1.5])
def test_gaussian_smooth_matches_scipy(sigma):
    maps = torch.rand(2, 3, 7, 9, dtype=torch.float64)
    ref = np.stack([[gaussian_filter(m, sigma, mode='nearest', truncate=3.0) for m in b] for b in maps.numpy()])
    np.testing.assert_allclose(gaussian_smooth(maps, sigma).numpy(), ref, atol=1e-12)
    assert torch.equal(gaussian_smooth(maps, 0), maps)


def test_rank_top_k_orders_by_peak():
    maps = torch.zeros(1, 4, 2, 2)
    for i, peak in enumerate([0.1, 0.9, 0.5, 0.7]):
        maps[0, i, 1, 0] = peak
    ranked, idx = rank_top_k(maps, 3)
    assert idx.tolist() == [[1, 3, 2]]
    assert torch.equal(ranked[0, :, 1, 0], torch.tensor([0.9, 0.7, 0.5]))
    assert rank_top_k(maps, 10)[0].shape[1] == 4 and rank_top_k(maps, None)[0].shape[1] == 4
    with pytest.raises(ValueError, match='top_k'):
        rank_top_k(maps, 0)


def test_segment_maps_hand_made():
    maps = torch.zeros(1, 2, 2, 4)
    maps[0, 0, :, :2] = 1.0  # map 0 on the left half of the grid
    maps[0, 1, :, 2:] = 1.0  # map 1 on the right half
    lab = segment_maps(maps, (32, 64), sigma=0.5)
    assert lab.shape == (1, 32, 64) and lab.dtype == torch.int64
    assert (lab[0, :, :28] == 0).all() and (lab[0, :, 36:] == 1).all()
    # a map that wins nowhere gives no region: at most K regions, often fewer
    weak = torch.cat([maps, -torch.ones(1, 1, 2, 4)], 1)
    assert set(segment_maps(weak, (32, 64)).unique().tolist()) == {0, 1}


def test_segment_maps_chunks_large_batches(monkeypatch):
    import mmrats.evaluation.part_segmentation as ps
    maps = torch.randn(5, 3, 4, 4)
    full = segment_maps(maps, (32, 32))
    monkeypatch.setattr(ps, '_UPSAMPLE_BUDGET', 3 * 32 * 32 * 2)  # two images per chunk
    assert torch.equal(segment_maps(maps, (32, 32)), full)


def final_norm_tokens(backbone, x):
    """Registers and patch tokens entering and leaving ``backbone.norm``, ``(pre, post)`` each, from a
    forward hook (the norm may see all tokens at once or one group at a time)."""
    seen = []
    hook = backbone.norm.register_forward_hook(lambda mod, inp, out: seen.append((inp[0], out)))
    with torch.no_grad():
        backbone(x)
    hook.remove()
    n, length = backbone.num_registers, (x.shape[-2] // 16) * (x.shape[-1] // 16)
    regs = patches = None
    for pre, post in seen:
        if pre.shape[1] == n + length:  # [registers, patches]
            regs, patches = (pre[:, :n], post[:, :n]), (pre[:, n:], post[:, n:])
        elif pre.shape[1] == n:
            regs = pre, post
        elif pre.shape[1] == length:
            patches = pre, post
    assert regs is not None and patches is not None, [t[0].shape for t in seen]
    return regs, patches


def test_similarity_maps_are_eq7(rats):
    """S[i, j] = cos(r_i, p_j) of the tokens leaving the final norm, computed here from a hook on
    ``backbone.norm`` (register i vs patch j), not from the implementation's features."""
    x = torch.randn(2, 3, 48, 64)
    (reg_pre, reg), (patch_pre, patch) = final_norm_tokens(rats, x)
    ref = F.cosine_similarity(reg[:, :, None], patch[:, None], dim=-1).view(2, 8, 3, 4)
    maps = similarity_maps(rats, x)
    assert maps.shape == (2, 8, 3, 4)
    torch.testing.assert_close(maps, ref, rtol=0, atol=1e-6)
    # control: the tokens before the norm give other maps, so the comparison tells them apart
    before = F.cosine_similarity(reg_pre[:, :, None], patch_pre[:, None], dim=-1).view(2, 8, 3, 4)
    assert (before - maps).abs().max() > 1e-2
    # the visualisation ranks the same maps
    f = rats.forward_features(x)
    ref_top, ref_idx = register_similarity(f['registers'], f['patch_tokens'], f['patch_hw'], top_k=5)
    ranked, idx = rank_top_k(maps, 5)
    assert torch.equal(idx, ref_idx)
    torch.testing.assert_close(ranked, ref_top)


@pytest.mark.parametrize('hw', [(32, 32), (48, 80), (64, 64), (96, 48)])
def test_segmenter_shapes_and_at_most_k_regions(rats, hw):
    seg = PartSegmenter(rats, top_k=3, sigma=1.0)
    out = seg(torch.randn(2, 3, *hw))[0]
    assert out.labels.shape == (2, *hw)
    assert out.maps.shape == (2, 3, hw[0] // 16, hw[1] // 16) and out.indices.shape == (2, 3)
    assert out.labels.min() >= 0 and out.labels.max() < 3
    assert all(len(lab.unique()) <= 3 for lab in out.labels)


def test_segmenter_several_k_in_one_pass_equal_separate_runs(rats):
    x = torch.randn(2, 3, 64, 64)
    many = PartSegmenter(rats, top_k=2)(x, top_ks=[2, 5, None])
    for k, out in zip([2, 5, 8], many):
        single = PartSegmenter(rats, top_k=k)(x)[0]
        assert torch.equal(out.labels, single.labels) and torch.equal(out.indices, single.indices)
        assert out.maps.shape[1] == k


def test_segmenter_rejects_sizes_not_multiple_of_patch(rats):
    with pytest.raises(ValueError, match='not a multiple of the patch size 16'):
        PartSegmenter(rats)(torch.randn(1, 3, 40, 64))


def hand_attention(vit, x):
    """The last block's attention weights softmax(q k^T / sqrt(d)), ``(B, H, T, T)``, built by hand from its
    ``qkv`` weights and its input (captured after ``norm1``), one head at a time."""
    seen = []
    block = vit.blocks[-1]
    hook = block.norm1.register_forward_hook(lambda mod, inp, out: seen.append(out))
    with torch.no_grad():
        vit(x)
        hook.remove()
        (tokens,) = seen
        c, heads = vit.embed_dims, vit.num_heads
        d = c // heads
        qkv = tokens @ block.attn.qkv.weight.T + block.attn.qkv.bias  # (B, T, [q | k | v])
        out = []
        for h in range(heads):
            q = qkv[..., h * d:(h + 1) * d]
            k = qkv[..., c + h * d:c + (h + 1) * d]
            out.append(torch.softmax(q @ k.transpose(1, 2) / d ** 0.5, dim=-1))
    return torch.stack(out, 1)


def test_dino_baseline_one_region_per_head(vit):
    x = torch.randn(2, 3, 64, 48)
    maps = cls_attention_maps(vit, x)
    assert maps.shape == (2, vit.num_heads, 4, 3)
    attn = hand_attention(vit, x)  # tokens: [CLS], 12 patches
    expected = torch.stack([attn[:, h, 0, 1:] for h in range(vit.num_heads)], 1)  # [CLS] query, patch keys
    torch.testing.assert_close(maps.flatten(2), expected, rtol=0, atol=1e-6)
    assert default_method(vit) == 'cls-attn'
    out = PartSegmenter(vit, top_k=50)(x)[0]
    assert out.maps.shape[1] == vit.num_heads and out.labels.max() < vit.num_heads


def test_vit_register_baseline_one_region_per_register(vit_reg):
    x = torch.randn(1, 3, 64, 64)
    assert default_method(vit_reg) == 'register-attn'
    maps = register_attention_maps(vit_reg, x)
    assert maps.shape == (1, 4, 4, 4)
    attn = hand_attention(vit_reg, x)  # tokens: [CLS], registers 0..3, 16 patches
    heads = vit_reg.num_heads
    expected = torch.stack([sum(attn[:, h, 1 + r, 5:] for h in range(heads)) / heads for r in range(4)], 1)
    torch.testing.assert_close(maps.flatten(2), expected, rtol=0, atol=1e-6)
    assert PartSegmenter(vit_reg, top_k=50)(x)[0].maps.shape[1] == 4
    assert cls_attention_maps(vit_reg, x).shape == (1, 4, 4, 4)  # the [CLS] baseline works too


def test_rats_register_attention_is_each_registers_compress_map(rats):
    x = torch.randn(1, 3, 64, 64)
    maps = register_attention_maps(rats, x)
    comp = compress_attention_maps(rats, x)
    assert comp.shape == (1, 4, 2, 4, 4) and maps.shape == (1, 8, 4, 4)
    torch.testing.assert_close(maps[0, 5], comp[0, 5 // 2, 5 % 2])  # register i lives in head i // n
    torch.testing.assert_close(maps.flatten(2).sum(-1), torch.ones(1, 8))  # softmax over the patches


def test_shared_registers_attention_is_the_head_mean():
    torch.manual_seed(0)
    m = RATSViT(arch='tiny', img_size=64, shared_registers=True).eval()
    x = torch.randn(1, 3, 64, 64)
    comp = m.forward_attention_maps(x)['maps'][m.num_layers - 1]['compress']  # (1, H, N, L)
    torch.testing.assert_close(register_attention_maps(m, x).flatten(2), comp.mean(1))


def test_methods_need_the_right_tokens(rats, vit):
    with pytest.raises(ValueError, match='needs a \\[CLS\\] token'):
        check_method(rats, 'cls-attn')
    with pytest.raises(ValueError, match='needs registers'):
        PartSegmenter(vit, method='registers')
    with pytest.raises(ValueError, match='unknown part-segmentation method'):
        candidate_maps(rats, torch.randn(1, 3, 32, 32), 'kmeans')
    with pytest.raises(ValueError, match='compress attention exists only'):
        compress_attention_maps(vit, torch.randn(1, 3, 32, 32))


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_segmenter_on_gpu_equals_cpu(rats):
    x = torch.randn(2, 3, 64, 64)
    cpu = PartSegmenter(rats, top_k=4)(x)[0]
    gpu = PartSegmenter(rats.cuda(), top_k=4)(x.cuda())[0]
    rats.cpu()
    assert (gpu.labels.cpu() == cpu.labels).float().mean() > 0.99
