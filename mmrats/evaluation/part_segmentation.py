"""Unsupervised part segmentation from register maps (paper §3.2 Eq. 7, §4.2; docs/method.md).

The pipeline of the spec's "Register similarity maps and part segmentation":
per image, one score map per candidate region on the ``(H/16, W/16)`` patch
grid, the top ``K`` maps ranked by their peak, an isotropic Gaussian smoothing
(std ``sigma``, in patch-grid cells), bilinear upsampling to the image size
and an argmax: a segmentation with at most ``K`` regions, labelled ``0..K-1``
in decreasing order of peak. Everything is batched torch and runs on any
device and any input whose sides are multiples of the patch size.

The candidate maps (RATS: register-patch similarity, Eq. 7; DINO ViT: [CLS]
attention per head; ViT + registers: register attention) are
:mod:`mmrats.models.utils.candidate_maps`, re-exported here; this module
ranks, smooths, upsamples and segments them.
"""
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmrats.models.utils.candidate_maps import (METHODS, candidate_maps, check_method, cls_attention_maps,
                                               compress_attention_maps, default_method, last_block_attention,
                                               register_attention_maps, similarity_maps)

__all__ = ['METHODS', 'PartSegmentation', 'PartSegmenter', 'candidate_maps', 'check_method', 'cls_attention_maps',
           'compress_attention_maps', 'default_method', 'gaussian_smooth', 'last_block_attention', 'rank_top_k',
           'register_attention_maps', 'segment_maps', 'similarity_maps']

_UPSAMPLE_BUDGET = 1 << 25  # elements of the upsampled (b, K, H, W) block handled at once


def rank_top_k(maps: Tensor, top_k: int | None) -> tuple[Tensor, Tensor]:
    """Keep the ``K`` maps with the highest peak, in decreasing order of peak.

    Args:
        maps: ``(B, M, h, w)``.
        top_k: ``K`` (clipped to ``M``); None keeps all ``M``.

    Returns:
        ``(B, K, h, w)`` maps and their indices ``(B, K)`` into ``M``.
    """
    b, m = maps.shape[:2]
    k = m if top_k is None else min(int(top_k), m)
    if k < 1:
        raise ValueError(f'top_k must be >= 1, got {top_k}')
    idx = maps.flatten(2).amax(-1).topk(k, dim=1).indices
    return torch.gather(maps, 1, idx[..., None, None].expand(-1, -1, *maps.shape[2:])), idx


def gaussian_kernel1d(sigma: float, device=None, dtype=torch.float32) -> Tensor:
    """Normalised 1-D Gaussian of std ``sigma`` truncated at ``int(3 sigma + 0.5)`` (scipy's ``truncate=3``)."""
    radius = max(1, int(3.0 * sigma + 0.5))
    x = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_smooth(maps: Tensor, sigma: float) -> Tensor:
    """Isotropic Gaussian smoothing of ``(B, K, h, w)`` maps (separable, replicate padding).

    ``sigma`` is in patch-grid cells **[choice]**; ``sigma <= 0`` returns the
    maps unchanged.
    """
    if sigma <= 0:
        return maps
    b, k, h, w = maps.shape
    kern = gaussian_kernel1d(sigma, maps.device, maps.dtype)
    r = len(kern) // 2
    x = maps.reshape(b * k, 1, h, w)
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode='replicate'), kern.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode='replicate'), kern.view(1, 1, -1, 1))
    return x.view(b, k, h, w)


def segment_maps(maps: Tensor, out_size: Sequence[int], sigma: float = 1.0) -> Tensor:
    """Smooth, upsample (bilinear) and argmax ``(B, K, h, w)`` maps into ``(B, H, W)`` labels ``0..K-1``.

    Upsampling is done in chunks of images so that memory stays bounded at
    large ``K`` and resolution.
    """
    smooth = gaussian_smooth(maps.float(), sigma)
    b, k = smooth.shape[:2]
    out_h, out_w = int(out_size[0]), int(out_size[1])
    step = max(1, _UPSAMPLE_BUDGET // max(1, k * out_h * out_w))
    parts = [F.interpolate(smooth[i:i + step], size=(out_h, out_w), mode='bilinear', align_corners=False)
             .argmax(1) for i in range(0, b, step)]
    return torch.cat(parts)


@dataclass
class PartSegmentation:
    """Output of :class:`PartSegmenter` for a batch.

    Attributes:
        labels: ``(B, H, W)`` int64 region ids ``0..K-1`` (rank of the map).
        maps: ``(B, K, h, w)`` kept score maps (before smoothing), by rank.
        indices: ``(B, K)`` register / head index of each kept map.
    """

    labels: Tensor
    maps: Tensor
    indices: Tensor


class PartSegmenter:
    """Backbone -> candidate maps -> top-K -> Gaussian smoothing -> upsampling -> argmax.

    Args:
        backbone: a :class:`~mmrats.models.RATSViT` in eval mode.
        method: one of :data:`METHODS`; default from the backbone
            (:func:`default_method`).
        top_k: number of regions kept (at most); None keeps every map.
        sigma: Gaussian std in patch-grid cells (0: no smoothing).
    """

    def __init__(self, backbone: nn.Module, method: str | None = None, top_k: int | None = 50,
                 sigma: float = 1.0) -> None:
        self.backbone = backbone
        self.method = method or default_method(backbone)
        check_method(backbone, self.method)
        self.top_k, self.sigma = top_k, float(sigma)

    @torch.no_grad()
    def __call__(self, images: Tensor, top_ks: Sequence[int | None] | None = None) -> list[PartSegmentation]:
        """Segment a batch ``(B, 3, H, W)`` (sides multiples of the patch size).

        Args:
            images: normalised images.
            top_ks: several ``K`` at once (one backbone pass; the maps are
                ranked once); default ``[self.top_k]``.

        Returns:
            One :class:`PartSegmentation` per ``K`` of ``top_ks``.
        """
        p = self.backbone.patch_size
        if images.shape[-2] % p or images.shape[-1] % p:
            raise ValueError(f'image size {tuple(images.shape[-2:])} is not a multiple of the patch size {p}')
        top_ks = [self.top_k] if top_ks is None else list(top_ks)
        maps = candidate_maps(self.backbone, images, self.method)
        ks = [maps.shape[1] if k is None else min(k, maps.shape[1]) for k in top_ks]
        ranked, idx = rank_top_k(maps, max(ks))
        return [PartSegmentation(segment_maps(ranked[:, :k], images.shape[-2:], self.sigma),
                                 ranked[:, :k], idx[:, :k]) for k in ks]
