"""Token norms per layer and the outlier rule (Darcet et al.), LaSt-ViT's patch score, Point-in-Box,
masking and k-NN pieces (mmrats.evaluation.token_diagnostics*)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmrats.evaluation.token_diagnostics import (centres_in_boxes, global_vector, knn_top1, mask_patches,
                                                 masking_indices, patch_centres, patch_scores, point_in_box,
                                                 resolve_global_repr)
from mmrats.evaluation.token_diagnostics_norms import layer_norms, layer_tokens, otsu_threshold, outlier_rule
from mmrats.models import RATSViT
from mmrats.models.utils import LaStViTAggregation


def test_outlier_rule_finds_the_planted_mode_and_nothing_in_a_unimodal_histogram():
    rng = np.random.default_rng(0)
    low = rng.lognormal(np.log(5.0), 0.15, 1900)
    high = rng.lognormal(np.log(50.0), 0.15, 100)  # 5 % outliers, 10x the norm (Darcet et al. Fig. 3)
    r = outlier_rule(np.concatenate([low, high]))
    assert r['bimodal'] and low.max() < r['threshold'] < high.min()
    assert r['share'] == pytest.approx(0.05) and r['ratio'] == pytest.approx(10, rel=0.1)
    flat = outlier_rule(low)  # one mode: Otsu still cuts, the rule says no outliers
    assert not flat['bimodal'] and flat['share'] == 0.0 and flat['threshold'] is None and flat['upper_share'] > 0
    majority = outlier_rule(np.concatenate([low[:100], high.repeat(10)]))  # the upper mode is no minority
    assert not majority['bimodal'] and majority['share'] == 0.0
    assert outlier_rule(low, threshold=5.0)['share'] == pytest.approx((low > 5.0).mean())
    assert 0.0 < otsu_threshold(np.r_[np.zeros(10), np.ones(10)]) <= 1.0


@pytest.mark.parametrize('mode,regs', [('rats', 8), ('mhsa', 0), ('mhsa', 3)])
def test_layer_norms_are_the_backbones_own_tokens(mode, regs):
    torch.manual_seed(0)
    model = RATSViT(arch='tiny', mode=mode, img_size=32, patch_size=8, num_registers=regs,
                    out_indices=(0, 1)).eval()
    x = torch.randn(2, 3, 32, 32)
    n = layer_norms(model, x)
    f = model.forward_features(x)
    assert n['patches'].shape == (3, 2, 16)  # 2 blocks + the post-norm output, 16 patches
    torch.testing.assert_close(torch.from_numpy(n['patches'][0]), f['out_tokens'][0].norm(dim=-1))  # block 1
    torch.testing.assert_close(torch.from_numpy(n['patches'][2]), f['patch_tokens'].norm(dim=-1))
    if regs:
        assert n['registers'].shape == (3, 2, regs)
        torch.testing.assert_close(torch.from_numpy(n['registers'][2]), f['registers'].norm(dim=-1))
    else:
        assert n['registers'] is None
    if mode == 'mhsa':
        torch.testing.assert_close(torch.from_numpy(n['cls'][2]), f['cls_token'].norm(dim=-1))
    else:
        assert n['cls'] is None
    # the residual stream of block 2, before the final norm, normalises to the output tokens
    assert torch.allclose(model.norm(layer_tokens(model, x)[1]['patches']), f['patch_tokens'], atol=1e-5)


def test_patch_scores_global_vectors_and_their_errors():
    torch.manual_seed(0)
    rats = RATSViT(arch='tiny', img_size=32, patch_size=8).eval()
    vit = RATSViT(arch='tiny', mode='mhsa', img_size=32, patch_size=8).eval()
    x = torch.randn(2, 3, 32, 32)
    assert resolve_global_repr(rats) == 'registers' and resolve_global_repr(vit) == 'cls'
    with pytest.raises(ValueError, match="'cls' needs a backbone with \\[CLS\\]"):
        resolve_global_repr(rats, 'cls')
    with pytest.raises(ValueError, match="'registers' needs a backbone with registers"):
        resolve_global_repr(vit, 'registers')
    with torch.no_grad():
        f = rats.forward_features(x)
    g = global_vector(f, 'registers')
    torch.testing.assert_close(g, f['registers'].mean(1))
    agg = LaStViTAggregation(4, 2.0)
    torch.testing.assert_close(global_vector(f, 'lastvit', agg), agg(f['patch_tokens']))
    torch.testing.assert_close(global_vector(f, 'patch-mean'), f['patch_tokens'].mean(1))
    with pytest.raises(ValueError, match="needs a LaStViTAggregation"):
        global_vector(f, 'lastvit')
    s = patch_scores(f['patch_tokens'], g)
    i, j = 1, 5
    ref = (f['patch_tokens'][i, j] @ g[i]) / (f['patch_tokens'][i, j].norm() * g[i].norm())
    torch.testing.assert_close(s[i, j], ref)
    assert s.shape == (2, 16) and float(s.abs().max()) <= 1 + 1e-6


def test_point_in_box_uses_the_top_patch_centre():
    centres = patch_centres((2, 3), 10)  # row-major: (5, 5), (15, 5), (25, 5), (5, 15), ...
    np.testing.assert_array_equal(centres[4], [15, 15])
    boxes = [np.array([[10, 10, 20, 20]], np.float32), np.array([[0, 0, 10, 10], [20, 0, 30, 10]], np.float32)]
    np.testing.assert_array_equal(centres_in_boxes(centres, boxes[1]), [1, 0, 1, 0, 0, 0])
    scores = torch.zeros(2, 6)
    scores[0, 4] = 1.0  # centre (15, 15): in image 0's box
    scores[1, 1] = 1.0  # centre (15, 5): between image 1's boxes
    r = point_in_box(scores, (2, 3), 10, boxes)
    assert r['hits'].tolist() == [True, False] and r['top'].tolist() == [4, 1]
    np.testing.assert_allclose(r['chance'], [1 / 6, 2 / 6])
    assert not centres_in_boxes(centres, np.zeros((0, 4))).any()


def test_masking_removes_exactly_the_chosen_patches():
    x = torch.randn(2, 3, 16, 24) + 5
    idx = torch.tensor([[0, 5], [2, 3]])  # 8 px patches: a 2 x 3 grid
    m = mask_patches(x, idx, 8)
    zero = (m == 0).all(1)
    for b, chosen in enumerate(idx.tolist()):
        for p in range(6):
            r, c = divmod(p, 3)
            cell = zero[b, 8 * r:8 * r + 8, 8 * c:8 * c + 8]
            assert bool(cell.all()) == (p in chosen) and (p in chosen or not cell.any())
    assert torch.equal(m[zero[:, None].expand_as(m) == 0], x[zero[:, None].expand_as(m) == 0])
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.3]])
    assert sorted(masking_indices(scores, 2, 'top')[0].tolist()) == [1, 2]
    assert sorted(masking_indices(scores, 2, 'bottom')[0].tolist()) == [0, 3]
    assert masking_indices(scores, 3, 'random', torch.Generator().manual_seed(0)).unique().numel() == 3
    with pytest.raises(ValueError, match="'top', 'bottom' or 'random'"):
        masking_indices(scores, 1, 'middle')


def test_knn_is_dinos_weighted_vote():
    g = torch.Generator().manual_seed(0)
    centres = F.normalize(torch.randn(3, 8, generator=g), dim=-1) * 5
    labels = np.repeat(np.arange(3), 10)
    train = centres[labels] + 0.3 * torch.randn(30, 8, generator=g)
    test = centres[labels[::5]] + 0.3 * torch.randn(6, 8, generator=g)
    assert knn_top1(train, labels, test, labels[::5], k=5) == 100.0
    wrong = (labels[::5] + 1) % 3
    assert knn_top1(train, labels, test, wrong, k=5) == 0.0
    # 2 near neighbours of class 1 outvote 3 far ones of class 0 through exp(sim / T)
    tr = torch.tensor([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.1, 1.0], [0.05, 1.0]])
    assert knn_top1(tr, np.array([1, 1, 0, 0, 0]), torch.tensor([[1.0, 0.02]]), np.array([1]), k=5) == 100.0
