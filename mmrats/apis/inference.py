"""What a backbone sees in images: features, parts, register maps, compress attention (paper §3.2, Eq. 7, App. D),
token norms (Darcet et al. 2024, §2.1).

Each function takes one image or several (paths, PIL images, arrays or
tensors of any size, see :func:`~mmrats.apis.inputs.prepare`), resizes them
to ``img_size`` (default: the size the backbone was built for) and runs on
the backbone's device. One image in gives one result; a list gives a list.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mmrats.evaluation.part_segmentation import PartSegmenter
from mmrats.evaluation.token_diagnostics_norms import layer_norms
from mmrats.models.utils.candidate_maps import compress_attention_maps
from mmrats.models.utils.global_repr import global_vector, resolve_global_repr
from mmrats.models.utils.lastvit_aggregation import LaStViTAggregation
from mmrats.visualization import draw_head_attention, draw_part_segmentation, draw_register_maps, register_similarity

from .inputs import Images, is_batch, prepare


@torch.no_grad()
def extract_features(backbone: nn.Module, images: Images, global_repr: str = 'auto',
                     lastvit: LaStViTAggregation | None = None, img_size: int | tuple[int, int] | None = None,
                     batch_size: int = 16) -> dict:
    """The named final-layer (post-norm) tokens of a batch of images.

    Args:
        backbone: a ``RATSViT``.
        images: one image or several.
        global_repr: ``'auto'`` ([CLS] if the backbone has one, else the registers' mean, as DINO trains it),
            ``'cls'``, ``'registers'``, ``'lastvit'`` (with ``lastvit``) or ``'patch-mean'``.
        lastvit: LaSt-ViT's aggregation, for ``global_repr='lastvit'``.
        img_size: input side or ``(height, width)``.
        batch_size: images per forward pass.

    Returns:
        ``dict(global_repr=name, global=(B, C), registers=(B, N, C) or None, cls_token=(B, C) or None,
        patch_tokens=(B, L, C), patch_hw=(h, w))`` on the backbone's device (B = 1 for one image).
    """
    name = resolve_global_repr(backbone, global_repr)
    x, _ = prepare(backbone, images, img_size)
    parts = []
    for start in range(0, len(x), batch_size):
        f = backbone.forward_features(x[start:start + batch_size])
        parts.append(dict(f, **{'global': global_vector(f, name, lastvit)}))
    out = dict(global_repr=name, patch_hw=tuple(parts[0]['patch_hw']))
    for key in ('global', 'registers', 'cls_token', 'patch_tokens'):
        out[key] = None if parts[0][key] is None else torch.cat([p[key] for p in parts])
    return out


@dataclass
class PartResult:
    """Part discovery of one image at one ``K``.

    Attributes:
        top_k: the ``K`` asked for (at most that many regions).
        labels: ``(H, W)`` int64 region ids ``0..K'-1`` at the input size, in decreasing order of peak.
        maps: ``(K', h, w)`` the kept candidate maps on the patch grid (before smoothing).
        indices: ``(K',)`` each kept map's index among the candidate maps: the register (``registers``,
            ``register-attn``) or the head (``cls-attn``).
        heads: ``(K',)`` the head each kept register belongs to (RATS partitions its registers across the heads,
            register ``i`` in head ``i // (N / H)``); None for [CLS] heads and shared registers.
        method: the candidate maps (``registers``, ``cls-attn``, ``register-attn``).
        image: ``(H, W, 3)`` uint8 RGB as the model saw it (None for a normalised tensor input).
    """

    top_k: int
    labels: np.ndarray
    maps: np.ndarray
    indices: np.ndarray
    heads: np.ndarray | None
    method: str
    image: np.ndarray | None = None

    def draw(self, title: str = '') -> np.ndarray:
        """The picture: image, segmentation, then the kept maps; ``(H', W', 3)`` uint8."""
        if self.image is None:
            raise ValueError('this result has no image (the input was a normalised tensor) to draw on')
        return draw_part_segmentation(self.image, self.labels, self.maps, self.indices, None, title)


def _heads(backbone: nn.Module, method: str, indices: np.ndarray) -> np.ndarray | None:
    per_head = backbone.num_registers // backbone.num_heads if backbone.num_heads else 0
    if method == 'cls-attn' or backbone.mode != 'rats' or getattr(backbone.blocks[-1].attn, 'shared', False) \
            or not per_head:
        return None
    return indices // per_head


@torch.no_grad()
def discover_parts(backbone: nn.Module, images: Images, top_k: int | Sequence[int] = 8, method: str | None = None,
                   sigma: float = 1.0, img_size: int | tuple[int, int] | None = None,
                   batch_size: int = 8) -> PartResult | list[PartResult] | list[dict[int, PartResult]]:
    """Unsupervised part segmentation (paper §4.2): top-``K`` candidate maps, smoothed, upsampled, argmax.

    Args:
        backbone: a ``RATSViT`` (RATS: register-patch similarity, Eq. 7; ViT: [CLS] attention per head;
            ViT + registers: register attention; see :mod:`mmrats.models.utils.candidate_maps`).
        images: one image or several.
        top_k: ``K``, or several ``K`` (computed from one forward pass).
        method: the candidate maps; default: the paper's choice for the backbone.
        sigma: Gaussian smoothing std in patch cells (0: none).
        img_size: input side or ``(height, width)``.
        batch_size: images per forward pass.

    Returns:
        For one ``K``: a :class:`PartResult` per image; for several: per image a dict ``{K: PartResult}``.
        One image in (not a list): that image's result alone.

    Raises:
        ValueError: ``method`` needs tokens the backbone lacks; ``K < 1``.
    """
    ks = [int(top_k)] if isinstance(top_k, int) else [int(k) for k in top_k]
    if not ks or min(ks) < 1:
        raise ValueError(f'top_k must be >= 1 (or a non-empty list of such), got {top_k}')
    seg = PartSegmenter(backbone, method, max(ks), sigma)
    x, rgb = prepare(backbone, images, img_size)
    results: list[dict[int, PartResult]] = []
    for start in range(0, len(x), batch_size):
        outs = seg(x[start:start + batch_size], ks)
        for i in range(len(outs[0].labels)):
            per_k = {}
            for k, o in zip(ks, outs):
                idx = o.indices[i].cpu().numpy()
                per_k[k] = PartResult(k, o.labels[i].cpu().numpy(), o.maps[i].cpu().numpy(), idx,
                                      _heads(backbone, seg.method, idx), seg.method,
                                      None if rgb is None else rgb[start + i])
            results.append(per_k)
    out = [r[ks[0]] for r in results] if isinstance(top_k, int) else results
    return out if is_batch(images) else out[0]


@dataclass
class RegisterMaps:
    """Register similarity maps of one image (Eq. 7), ranked by their peak.

    Attributes:
        maps: ``(K, h, w)`` cosine similarity of each kept register to every patch.
        indices: ``(K,)`` register index of each map; ``peaks``: ``(K,)`` their maxima.
        heads: ``(K,)`` the head each register belongs to (None for shared registers).
        image: ``(H, W, 3)`` uint8 RGB as the model saw it.
    """

    maps: np.ndarray
    indices: np.ndarray
    peaks: np.ndarray
    heads: np.ndarray | None
    image: np.ndarray | None

    def draw(self, title: str = '', cols: int = 8) -> np.ndarray:
        """The picture: the image, the argmax, one panel per register; ``(H', W', 3)`` uint8."""
        if self.image is None:
            raise ValueError('this result has no image (the input was a normalised tensor) to draw on')
        return draw_register_maps(self.image, self.maps, self.indices, title, cols)


@torch.no_grad()
def register_maps(backbone: nn.Module, image, top_k: int | None = None,
                  img_size: int | tuple[int, int] | None = None) -> RegisterMaps:
    """The register similarity maps of one image, the ``top_k`` highest peaks first (all if None).

    Raises:
        ValueError: the backbone has no registers.
    """
    if not backbone.num_registers:
        raise ValueError('register maps need a backbone with registers (RATS, or a ViT with num_registers > 0)')
    x, rgb = prepare(backbone, image, img_size)
    f = backbone.forward_features(x[:1])
    maps, idx = register_similarity(f['registers'], f['patch_tokens'], f['patch_hw'], top_k)
    maps, idx = maps[0].cpu().numpy(), idx[0].cpu().numpy()
    heads = _heads(backbone, 'registers', idx) if backbone.mode == 'rats' else None
    return RegisterMaps(maps, idx, maps.reshape(len(maps), -1).max(1), heads, None if rgb is None else rgb[0])


@dataclass
class CompressAttention:
    """RATS compress attention of one image (Appendix D): each head's registers over the patches.

    Attributes:
        attention: ``(heads, n, h, w)``: register ``j`` of head ``h`` is register ``h * n + j``.
        layer: the block it is from.
        image: ``(H, W, 3)`` uint8 RGB as the model saw it.
    """

    attention: np.ndarray
    layer: int
    image: np.ndarray | None

    def draw(self, heads: Sequence[int] | None = None, per_head: int = 2, title: str = '') -> np.ndarray:
        """The picture of ``per_head`` registers of each of ``heads`` (default: every head)."""
        if self.image is None:
            raise ValueError('this result has no image (the input was a normalised tensor) to draw on')
        heads = range(len(self.attention)) if heads is None else heads
        return draw_head_attention(self.image, self.attention, heads, per_head, title)


@torch.no_grad()
def compress_attention(backbone: nn.Module, image, layer: int = -1,
                       img_size: int | tuple[int, int] | None = None) -> CompressAttention:
    """The compress attention of block ``layer`` for one image.

    Raises:
        ValueError: not a RATS backbone.
    """
    x, rgb = prepare(backbone, image, img_size)
    att = compress_attention_maps(backbone, x[:1], layer)[0].cpu().numpy()
    return CompressAttention(att, layer % backbone.num_layers, None if rgb is None else rgb[0])


@dataclass
class TokenNorms:
    """L2 norms of one image's tokens after one block (Darcet et al. 2024, §2.1: high-norm outlier patches).

    Attributes:
        patches: ``(h, w)`` the patch tokens' norms on the patch grid.
        registers: ``(N,)`` the registers' norms (None without registers).
        cls: the [CLS] token's norm (None without one).
        layer: the block (0-based) whose output is measured; ``num_layers`` is the post-norm output.
        image: ``(H, W, 3)`` uint8 RGB as the model saw it.
    """

    patches: np.ndarray
    registers: np.ndarray | None
    cls: float | None
    layer: int
    image: np.ndarray | None


@torch.no_grad()
def token_norms(backbone: nn.Module, image, layer: int = -1,
                img_size: int | tuple[int, int] | None = None) -> TokenNorms:
    """The token norms of one image after block ``layer`` (default: the last block, before the final norm).

    ``layer`` counts blocks from 0 (negative from the end); ``layer=backbone.num_layers`` gives the
    post-norm output the heads read.

    Raises:
        ValueError: ``layer`` is out of range.
    """
    n = backbone.num_layers
    if not -n <= layer <= n:
        raise ValueError(f'layer {layer} is out of range for a backbone of {n} blocks (-{n}..{n})')
    x, rgb = prepare(backbone, image, img_size)
    norms = layer_norms(backbone, x[:1])
    i = layer % n if layer < n else n
    h, w = x.shape[-2] // backbone.patch_size, x.shape[-1] // backbone.patch_size
    regs = None if norms['registers'] is None else norms['registers'][i, 0]
    cls = None if norms['cls'] is None else float(norms['cls'][i, 0])
    return TokenNorms(norms['patches'][i, 0].reshape(h, w), regs, cls, i, None if rgb is None else rgb[0])
