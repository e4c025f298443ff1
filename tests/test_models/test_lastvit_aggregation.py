"""LaSt-ViT aggregation against a direct transcription of its formulas (values, votes, gradient),
and ``global_repr='lastvit'`` in mmrats.DINO (ViT and RATS), its lab config and its errors."""
import cmath
import math

import pytest
import torch

from mmrats.models.utils import LaStViTAggregation, gaussian_lowpass, lastvit_aggregate, select_stable, vote_counts
from mmrats.registry import MODELS
from tests.conftest import REPO


def reference_lastvit(x: torch.Tensor, k: int, sigma: float, eps: float):
    """LaSt-ViT §3, written out: per patch a DFT over the channels, the Gaussian weight
    g(f) = exp(-f^2 / (2 sigma^2)) on the signed frequency f, the inverse DFT (real part) = x_hat;
    S = x_hat / (|x_hat - x| + eps); per channel j the K patches of largest S[:, j];
    Q[j] = their mean of x[:, j]; v_i = number of channels whose K patches include i.
    Loops over images, patches, channels and frequencies; Q stays differentiable in x."""
    b, n, d = x.shape
    qs, votes, x_hats = [], [], []
    for bi in range(b):
        xv = x[bi].detach().double().tolist()
        x_hat = [[0.0] * d for _ in range(n)]
        for i in range(n):
            spec = [sum(xv[i][t] * cmath.exp(-2j * math.pi * f * t / d) for t in range(d)) for f in range(d)]
            for f in range(d):
                signed = f if f <= d // 2 else f - d
                spec[f] *= math.exp(-0.5 * (signed / sigma) ** 2)
            for t in range(d):
                x_hat[i][t] = (sum(spec[f] * cmath.exp(2j * math.pi * f * t / d) for f in range(d)) / d).real
        s = [[x_hat[i][j] / (abs(x_hat[i][j] - xv[i][j]) + eps) for j in range(d)] for i in range(n)]
        q, v = [], [0] * n
        for j in range(d):
            chosen = sorted(range(n), key=lambda i: -s[i][j])[:k]
            q.append(sum(x[bi, i, j] for i in chosen) / k)
            for i in chosen:
                v[i] += 1
        qs.append(torch.stack(q))
        votes.append(v)
        x_hats.append(x_hat)
    return torch.stack(qs), torch.tensor(votes), torch.tensor(x_hats, dtype=torch.float64)


@pytest.mark.parametrize('d,sigma', [(10, 2.0), (7, 1.5)])
def test_matches_the_formulas_values_votes_and_gradient(d, sigma):
    torch.manual_seed(d)
    x = torch.randn(2, 9, d, dtype=torch.float64, requires_grad=True)
    k, eps = 3, 1e-6
    ref_q, ref_votes, ref_hat = reference_lastvit(x, k, sigma, eps)
    torch.testing.assert_close(gaussian_lowpass(x.detach(), sigma), ref_hat, rtol=1e-9, atol=1e-9)
    q, idx = lastvit_aggregate(x, k, sigma, eps, return_indices=True)
    torch.testing.assert_close(q, ref_q, rtol=1e-12, atol=1e-12)
    assert torch.equal(vote_counts(idx, 9), ref_votes)
    assert torch.equal(LaStViTAggregation(k, sigma, eps).votes(x.detach()), ref_votes)
    assert int(ref_votes.sum()) == 2 * k * d
    # gradient: the selected entries get w_j / K, every other entry 0 (the reference's own gradient)
    w = torch.randn(2, d, dtype=torch.float64)
    (g,) = torch.autograd.grad((q * w).sum(), x)
    (g_ref,) = torch.autograd.grad((ref_q * w).sum(), x)
    torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=1e-12)
    assert int((g != 0).sum()) == 2 * k * d


def test_selection_is_not_mean_pooling_and_full_k_is():
    torch.manual_seed(0)
    x = torch.randn(3, 16, 12)
    torch.testing.assert_close(lastvit_aggregate(x, 16, 2.0), x.mean(1))  # K = L: every patch
    torch.testing.assert_close(lastvit_aggregate(x, 1.0, 2.0), x.mean(1))
    assert not torch.allclose(lastvit_aggregate(x, 4, 2.0), x.mean(1), atol=1e-3)
    # a share: 0.25 of 16 patches = 4 per channel
    assert select_stable(x, 0.25, 2.0).shape == (3, 4, 12)
    torch.testing.assert_close(lastvit_aggregate(x, 0.25, 2.0), lastvit_aggregate(x, 4, 2.0))
    # a patch that is smooth along its channels (x_hat ~ x) is the most stable one of every positive channel
    smooth = torch.full((1, 1, 12), 5.0)
    votes = LaStViTAggregation(1, 2.0).votes(torch.cat([smooth, x[:1]], dim=1))
    assert int(votes[0, 0]) == 12


def test_errors():
    x = torch.randn(2, 4, 8)
    with pytest.raises(ValueError, match=r'top_k=5 must be in \[1, 4\]'):
        lastvit_aggregate(x, 5)
    for bad in (0, 1.5, 0.0, '3'):
        with pytest.raises(ValueError, match='top_k'):
            LaStViTAggregation(bad)
    with pytest.raises(ValueError, match='sigma'):
        LaStViTAggregation(2, sigma=0.0)
    with pytest.raises(ValueError, match=r'\(B, L, D\)'):
        lastvit_aggregate(x[0], 2)


def tiny_dino(mode, **kw):
    bb = dict(type='mmrats.RATSViT', arch='tiny', mode=mode, img_size=32, patch_size=8)
    neck = dict(type='mmrats.DINONeck', in_channels=64, out_channels=16, hidden_channels=32, bottleneck_channels=16)
    model = MODELS.build(dict(type='mmrats.DINO', backbone=bb, neck=neck,
                              head=dict(type='mmrats.DINOHead', out_channels=16), **kw))
    model.init_weights()
    return model


@pytest.mark.parametrize('mode', ['mhsa', 'rats'])
def test_dino_lastvit_global_repr_trains_the_backbone(mode):
    torch.manual_seed(0)
    model = tiny_dino(mode, global_repr='lastvit', lastvit=dict(top_k=0.25, sigma=3.0))
    x = torch.randn(2, 3, 32, 32)
    f = model.backbone.forward_features(x)
    torch.testing.assert_close(model.global_features(model.backbone, x),
                               lastvit_aggregate(f['patch_tokens'], 4, 3.0))  # 16 patches -> K = 4
    if mode == 'mhsa':
        assert not torch.allclose(model.global_features(model.backbone, x), f['cls_token'])
    crops = [torch.randn(2, 3, 32, 32) for _ in range(2)] + [torch.randn(2, 3, 16, 16) for _ in range(2)]
    loss = model.loss(crops)['loss']
    assert torch.isfinite(loss)
    loss.backward()
    assert model.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
    assert model.backbone.blocks[-1].mlp.fc2.weight.grad.abs().sum() > 0


def test_dino_lastvit_errors_and_lab_config():
    with pytest.raises(ValueError, match="only with global_repr='lastvit'"):
        tiny_dino('mhsa', global_repr='cls', lastvit=dict(top_k=2))
    model = tiny_dino('mhsa', global_repr='lastvit', lastvit=dict(top_k=8))
    with pytest.raises(ValueError, match=r'top_k=8 must be in \[1, 4\]'):  # a 16 px crop has 4 patches
        model.global_features(model.backbone, torch.randn(1, 3, 16, 16))
    from mmengine.config import Config
    lab = REPO / 'configs' / 'lab'
    cfg = Config.fromfile(str(lab / 'dino_vit-lastvit-lab_1xb32-2e_part-objects-64.py'))
    base = Config.fromfile(str(lab / 'dino_vit-lab_1xb32-2e_part-objects-64.py'))
    assert cfg.model.global_repr == 'lastvit' and cfg.model.pop('lastvit')['top_k'] == 0.25
    cfg.model.global_repr = base.model.global_repr
    assert cfg.to_dict() == base.to_dict()  # everything else: the ViT's recipe
