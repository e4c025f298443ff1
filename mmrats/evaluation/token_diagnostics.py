"""LaSt-ViT's diagnostics of where a backbone's global representation comes from (LaSt-ViT §3, "Patch Score
and Point-in-Box", "Lazy Aggregation Hypothesis").

* **Patch score** ``S_p = cos(x_patch, Q)``: the cosine between every final
  (post-norm) patch token and the global representation ``Q``, which is
  [CLS] for a ViT, the registers' mean for RATS (what ``mmrats.DINO`` trains),
  or LaSt-ViT's aggregated vector (:mod:`mmrats.models.utils.lastvit_aggregation`); the
  mean of all patches is the control (LaSt-ViT's "Mean-Pool" row).
* **Point-in-Box (PiB)**: whether the highest-scoring patch (its centre)
  lies inside a ground-truth box of the image. With it we report the *chance*
  PiB: the share of the image's patch centres inside a box (what a patch
  drawn at random scores), since boxes of different datasets cover very
  different areas **[ours]**.
* **Masking test**: the ``m`` patches with the highest (or lowest) score are
  removed from the input, the global representation is recomputed and a
  k-NN classifier (against unmasked references) is evaluated; lazy
  aggregation shows as little loss when the top-scored patches go and a large
  loss when the bottom-scored ones go. Removing = setting the patch's pixels
  to 0 after normalisation (the dataset mean colour), as LaSt-ViT masks its
  inputs; a random choice of ``m`` patches is the control **[ours]**.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from mmrats.models.utils.global_repr import GLOBAL_REPRS, global_vector, resolve_global_repr

from .knn import knn_classify

__all__ = ['GLOBAL_REPRS', 'centres_in_boxes', 'global_vector', 'knn_top1', 'mask_patches', 'masking_indices',
           'patch_centres', 'patch_scores', 'point_in_box', 'resolve_global_repr']

def patch_scores(patch_tokens: Tensor, global_repr: Tensor) -> Tensor:
    """``S_p``: cosine between each patch ``(B, L, C)`` and the global vector ``(B, C)``; ``(B, L)``."""
    return F.cosine_similarity(patch_tokens, global_repr[:, None, :], dim=-1)


def patch_centres(hw: tuple[int, int], patch_size: int) -> np.ndarray:
    """``(L, 2)`` pixel centres ``(x, y)`` of the patches of an ``h x w`` grid, row-major like the tokens."""
    rows, cols = np.divmod(np.arange(hw[0] * hw[1]), hw[1])
    return np.stack([(cols + 0.5) * patch_size, (rows + 0.5) * patch_size], axis=1)


def centres_in_boxes(centres: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``(L,)`` bool: the centre lies inside at least one box ``(n, 4)`` ``x0, y0, x1, y1`` (end exclusive)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros(len(centres), bool)
    x, y = centres[:, :1], centres[:, 1:]
    inside = (x >= boxes[:, 0]) & (x < boxes[:, 2]) & (y >= boxes[:, 1]) & (y < boxes[:, 3])
    return inside.any(1)


def point_in_box(scores: Tensor, hw: tuple[int, int], patch_size: int, boxes: list[np.ndarray]) -> dict:
    """PiB hits of a batch: the arg-max patch of every image inside one of its boxes.

    Args:
        scores: ``(B, L)`` patch scores.
        hw: the patch grid.
        patch_size: patch side in pixels (boxes are in input pixels).
        boxes: per image an ``(n, 4)`` array of ``x0, y0, x1, y1``.

    Returns:
        ``dict(hits=(B,) bool, chance=(B,) float, top=(B,) int)``: ``chance`` is the share of
        the image's patch centres inside a box.
    """
    centres = patch_centres(hw, patch_size)
    top = scores.argmax(1).cpu().numpy()
    hits, chance = [], []
    for i, b in enumerate(boxes):
        inside = centres_in_boxes(centres, b)
        hits.append(bool(inside[top[i]]))
        chance.append(float(inside.mean()))
    return dict(hits=np.array(hits), chance=np.array(chance), top=top)


def mask_patches(x: Tensor, indices: Tensor, patch_size: int) -> Tensor:
    """A copy of ``x`` ``(B, 3, H, W)`` with the patches ``indices`` ``(B, m)`` (row-major) set to 0."""
    b, _, h, w = x.shape
    gw = w // patch_size
    keep = torch.ones(b, (h // patch_size) * gw, device=x.device, dtype=x.dtype)
    keep.scatter_(1, indices, 0.0)
    keep = keep.view(b, 1, h // patch_size, gw)
    keep = keep.repeat_interleave(patch_size, 2).repeat_interleave(patch_size, 3)
    out = x.clone()
    out[:, :, :keep.shape[2], :keep.shape[3]] *= keep
    return out


def masking_indices(scores: Tensor, num: int, which: str, generator: torch.Generator | None = None) -> Tensor:
    """``(B, num)`` patches to remove: the ``'top'``- or ``'bottom'``-scored ones, or ``'random'``."""
    if which == 'top':
        return scores.topk(num, dim=1).indices
    if which == 'bottom':
        return scores.topk(num, dim=1, largest=False).indices
    if which == 'random':
        return torch.stack([torch.randperm(scores.shape[1], generator=generator)[:num]
                            for _ in range(scores.shape[0])]).to(scores.device)
    raise ValueError(f"masking choice {which!r}: choose 'top', 'bottom' or 'random'")


def knn_top1(train: Tensor, train_labels: np.ndarray, test: Tensor, test_labels: np.ndarray, k: int = 10,
             temperature: float = 0.07) -> float:
    """Weighted k-NN top-1 (percent), DINO's: cosine similarity, votes ``exp(sim / T)`` of the ``k`` nearest
    (:func:`mmrats.evaluation.knn.knn_classify`)."""
    return knn_classify(train, train_labels, test, test_labels, k, temperature)['top1']
