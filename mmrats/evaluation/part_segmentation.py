"""Unsupervised part segmentation from register maps (paper §3.2 Eq. 7, §4.2; docs/method.md).

The pipeline of the spec's "Register similarity maps and part segmentation":
per image, one score map per candidate region on the ``(H/16, W/16)`` patch
grid, the top ``K`` maps ranked by their peak, an isotropic Gaussian smoothing
(std ``sigma``, in patch-grid cells), bilinear upsampling to the image size
and an argmax: a segmentation with at most ``K`` regions, labelled ``0..K-1``
in decreasing order of peak. Everything is batched torch and runs on any
device and any input whose sides are multiples of the patch size.

Three ways to get the candidate maps (``method``), so that RATS and the
paper's baselines go through the same smoothing / upsampling / argmax:

* ``'registers'`` (RATS, Eq. 7): cosine similarity of every final-layer
  (post-norm) register to every patch token (also usable for ViT + registers).
* ``'cls-attn'`` (DINO ViT baseline): the last block's attention of [CLS] to
  the patches, one map per head.
* ``'register-attn'`` (ViT-with-registers baseline, Darcet et al. 2023): the
  last block's attention of each register to the patches, averaged over
  heads **[choice]**, one map per register. On a RATS backbone the same name
  gives each register's compress attention (its own head; shared registers:
  averaged over heads).

Attention maps are used raw (they are softmax rows over the same patches, so
comparable across heads/registers of one image) **[choice]**.
"""
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

METHODS = ('registers', 'cls-attn', 'register-attn')
_UPSAMPLE_BUDGET = 1 << 25  # elements of the upsampled (b, K, H, W) block handled at once


def default_method(backbone: nn.Module) -> str:
    """The paper's choice for a backbone: RATS -> ``registers``; ViT -> ``cls-attn`` or ``register-attn``."""
    if backbone.mode == 'rats':
        return 'registers'
    return 'register-attn' if backbone.num_registers else 'cls-attn'


def check_method(backbone: nn.Module, method: str) -> None:
    """Raise ValueError if ``backbone`` has no tokens for ``method``."""
    if method not in METHODS:
        raise ValueError(f'unknown part-segmentation method {method!r}; choose one of {METHODS}')
    if method in ('registers', 'register-attn') and not backbone.num_registers:
        raise ValueError(f"method {method!r} needs registers, but the backbone has none "
                         f"(mode={backbone.mode!r}); use 'cls-attn' for a ViT with [CLS]")
    if method == 'cls-attn' and not backbone.with_cls_token:
        raise ValueError("method 'cls-attn' needs a [CLS] token, which a RATS backbone does not have "
                         "(registers replace it); use 'registers' or 'register-attn'")


def _grid(rows: Tensor, hw: tuple[int, int]) -> Tensor:
    """``(B, M, L)`` -> ``(B, M, h, w)``."""
    return rows.reshape(*rows.shape[:2], *hw)


@torch.no_grad()
def similarity_maps(backbone: nn.Module, images: Tensor) -> Tensor:
    """Eq. 7 score maps ``S[i, j] = cos(r_i, p_j)`` of every register, ``(B, N, h, w)``."""
    f = backbone.forward_features(images)
    sim = F.normalize(f['registers'], dim=-1) @ F.normalize(f['patch_tokens'], dim=-1).transpose(1, 2)
    return _grid(sim, f['patch_hw'])  # register order; == register_similarity before its ranking


@torch.no_grad()
def last_block_attention(backbone: nn.Module, images: Tensor) -> tuple[dict, tuple[int, int]]:
    """The last block's attention weights (manual path) and the patch grid."""
    out = backbone.forward_attention_maps(images, layers=(-1,))
    return out['maps'][backbone.num_layers - 1], out['patch_hw']


@torch.no_grad()
def cls_attention_maps(backbone: nn.Module, images: Tensor) -> Tensor:
    """DINO baseline: last-block [CLS] -> patch attention, one map per head, ``(B, H, h, w)``."""
    check_method(backbone, 'cls-attn')
    maps, hw = last_block_attention(backbone, images)
    return _grid(maps['attn'][:, :, 0, backbone.num_prefix:], hw)


@torch.no_grad()
def register_attention_maps(backbone: nn.Module, images: Tensor) -> Tensor:
    """ViT-with-registers baseline: each register's last-block attention to the patches, ``(B, N, h, w)``.

    ``mhsa`` backbones: register queries over patch keys, averaged over heads.
    ``rats`` backbones: each register's compress attention in its own head
    (register ``i`` of head ``i // n``), or the head mean for shared registers.
    """
    check_method(backbone, 'register-attn')
    maps, hw = last_block_attention(backbone, images)
    if backbone.mode == 'mhsa':
        first = int(backbone.with_cls_token)
        rows = maps['attn'][:, :, first:backbone.num_prefix, backbone.num_prefix:].mean(1)
    else:
        comp = maps['compress']  # (B, H, n, L), n = N / H; or (B, H, N, L) when shared
        rows = comp.mean(1) if comp.shape[2] == backbone.num_registers else comp.flatten(1, 2)
    return _grid(rows, hw)


@torch.no_grad()
def compress_attention_maps(backbone: nn.Module, images: Tensor, layer: int = -1) -> Tensor:
    """RATS compress attention of ``layer`` per head and register, ``(B, H, n, h, w)`` (Appendix D)."""
    if backbone.mode != 'rats':
        raise ValueError('compress attention exists only in a RATS backbone (mode=\'rats\')')
    out = backbone.forward_attention_maps(images, layers=(layer,))
    comp = out['maps'][layer % backbone.num_layers]['compress']
    return comp.reshape(*comp.shape[:3], *out['patch_hw'])


def candidate_maps(backbone: nn.Module, images: Tensor, method: str) -> Tensor:
    """Candidate region maps ``(B, M, h, w)`` of ``method`` (see the module docstring)."""
    check_method(backbone, method)
    if method == 'registers':
        return similarity_maps(backbone, images)
    if method == 'cls-attn':
        return cls_attention_maps(backbone, images)
    return register_attention_maps(backbone, images)


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
