"""The token diagnostics of a backbone on a set of images (what ``tools/analysis/token_diagnostics.py`` reports).

Built on the pieces of :mod:`.token_diagnostics` (patch score, Point-in-Box,
masking, k-NN) and :mod:`.token_diagnostics_norms` (norms per layer, the
outlier rule), over :class:`~.token_diagnostics_data.DiagnosticImages`:

* :func:`token_features`: global vectors, patch scores and LaSt-ViT vote counts (optionally masked);
* :func:`norms_of` / :func:`norm_summary`: token norms per layer and their per-layer summary;
* :func:`pib_of`: Point-in-Box, its chance level and LaSt-ViT's votes inside the boxes;
* :func:`masking_test`: k-NN top-1 with the top-, bottom- or randomly chosen patches removed;
* :func:`part_discovery`: the part-discovery M2O / O2O / ARI at one ``K``.
"""
from __future__ import annotations

import numpy as np
import torch

from .part_metrics import PartMetricAccumulator
from .part_segmentation import PartSegmenter
from .token_diagnostics import (centres_in_boxes, global_vector, knn_top1, mask_patches, masking_indices,
                                patch_centres, patch_scores, point_in_box)
from .token_diagnostics_data import DiagnosticImages
from .token_diagnostics_norms import layer_norms, outlier_rule

__all__ = ['masking_test', 'norm_summary', 'norms_of', 'part_discovery', 'pib_of', 'token_features']


@torch.no_grad()
def token_features(model, data: DiagnosticImages, global_repr: str, lastvit, batch: int,
                   masked: tuple[torch.Tensor, int] | None = None) -> dict:
    """Global vectors, patch scores and LaSt-ViT vote counts of ``data``.

    Args:
        model: a ``RATSViT``.
        data: the images.
        global_repr: a resolved global representation (:func:`~mmrats.models.utils.global_repr.resolve_global_repr`).
        lastvit: a :class:`~mmrats.models.utils.LaStViTAggregation` (its votes are counted whatever ``global_repr``).
        batch: images per forward pass.
        masked: ``(indices (N, m), patch_size)``: remove these patches of every image first.

    Returns:
        ``dict(g=(N, C), scores=(N, L), votes=(N, L), hw=(h, w))`` on the CPU.
    """
    g_all, s_all, v_all = [], [], []
    n = len(data)
    for start in range(0, n, batch):
        x = data.tensor(slice(start, min(start + batch, n)))
        if masked is not None:
            x = mask_patches(x, masked[0][start:start + len(x)], masked[1])
        f = model.forward_features(x)
        g = global_vector(f, global_repr, lastvit)
        g_all.append(g)
        s_all.append(patch_scores(f['patch_tokens'], g))
        v_all.append(lastvit.votes(f['patch_tokens']))
    return dict(g=torch.cat(g_all), scores=torch.cat(s_all), votes=torch.cat(v_all), hw=f['patch_hw'])


@torch.no_grad()
def norms_of(model, data: DiagnosticImages, batch: int) -> dict:
    """:func:`~.token_diagnostics_norms.layer_norms` of all of ``data``: ``patches``, ``registers``, ``cls``
    as ``(layers + 1, N, ...)`` arrays (None for a group the backbone lacks)."""
    out = {'patches': [], 'registers': [], 'cls': []}
    for start in range(0, len(data), batch):
        r = layer_norms(model, data.tensor(slice(start, start + batch)))
        for k in out:
            if r[k] is not None:
                out[k].append(r[k])
    return {k: np.concatenate(v, axis=1) if v else None for k, v in out.items()}


def norm_summary(norms: dict, min_ratio: float = 2.0, max_share: float = 0.5,
                 threshold: float | None = None) -> list[dict]:
    """Per layer: mean norms of each token group and the outlier rule on the patch norms
    (:func:`~.token_diagnostics_norms.outlier_rule` with ``min_ratio``, ``max_share`` or a fixed ``threshold``)."""
    rows = []
    num = norms['patches'].shape[0]
    for i in range(num):
        r = dict(layer=f'block {i + 1}' if i < num - 1 else 'output (post-norm)',
                 patch_mean=float(norms['patches'][i].mean()), patch_p99=float(np.percentile(norms['patches'][i], 99)),
                 patch_max=float(norms['patches'][i].max()),
                 register_mean=None if norms['registers'] is None else float(norms['registers'][i].mean()),
                 cls=None if norms['cls'] is None else float(norms['cls'][i].mean()))
        r['outliers'] = outlier_rule(norms['patches'][i], min_ratio, max_share, threshold)
        rows.append(r)
    return rows


@torch.no_grad()
def part_discovery(model, data: DiagnosticImages, top_k: int, batch: int) -> dict:
    """Part discovery at ``top_k`` with the backbone's default candidate maps: ``m2o``, ``o2o``, ``ari``
    (percent), ``method``, ``top_k``. ``data`` needs part labels."""
    seg = PartSegmenter(model, None, top_k, 1.0)
    acc = PartMetricAccumulator()
    for start in range(0, len(data), batch):
        sl = slice(start, start + batch)
        acc.update(seg(data.tensor(sl), [top_k])[0].labels.numpy(), data.parts[sl])
    return dict({k: acc.result()[k] for k in ('m2o', 'o2o', 'ari')}, method=seg.method, top_k=top_k)


def pib_of(model, data: DiagnosticImages, global_repr: str, lastvit, batch: int) -> tuple[dict, dict]:
    """Point-in-Box of ``data``.

    Returns:
        ``(summary, features)``: ``summary = dict(pib, pib_chance, vote_share_in_boxes, images)`` (percent);
        ``features`` those of :func:`token_features` plus ``top`` (N,), each image's top-scored patch.
    """
    f = token_features(model, data, global_repr, lastvit, batch)
    p = point_in_box(f['scores'], f['hw'], model.patch_size, data.boxes)
    centres = patch_centres(f['hw'], model.patch_size)
    votes = f['votes'].double().numpy()
    inside = np.stack([centres_in_boxes(centres, b) for b in data.boxes])
    vote_share = float((votes * inside).sum() / votes.sum())
    return dict(pib=100.0 * float(p['hits'].mean()), pib_chance=100.0 * float(p['chance'].mean()),
                vote_share_in_boxes=100.0 * vote_share, images=len(data)), dict(f, top=p['top'])


def masking_test(model, train: DiagnosticImages, test: DiagnosticImages, test_scores: torch.Tensor,
                 test_global: torch.Tensor, global_repr: str, lastvit, mask_ratio: float, knn_k: int,
                 batch: int, seed: int = 0) -> dict:
    """k-NN top-1 of ``test`` against unmasked ``train`` references, clean and with patches removed.

    Args:
        test_scores: ``(N, L)`` patch scores of the clean ``test`` images (which patches are "top").
        test_global: ``(N, C)`` their clean global vectors.
        mask_ratio: share of the patches removed (at least one).
        seed: of the random choice.

    Returns:
        ``dict(num_masked, clean, top, bottom, random)`` (top-1 in percent).
    """
    ref = token_features(model, train, global_repr, lastvit, batch)['g']
    num_masked = max(1, int(round(mask_ratio * test_scores.shape[1])))
    out = dict(num_masked=num_masked, clean=knn_top1(ref, train.categories, test_global, test.categories, knn_k))
    gen = torch.Generator().manual_seed(seed)
    for which in ('top', 'bottom', 'random'):
        idx = masking_indices(test_scores, num_masked, which, gen)
        g = token_features(model, test, global_repr, lastvit, batch, masked=(idx, model.patch_size))['g']
        out[which] = knn_top1(ref, train.categories, g, test.categories, knn_k)
    return out
