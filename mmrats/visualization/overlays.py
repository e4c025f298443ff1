"""Maps drawn over an image at the image's own size, without a figure (the parts page, paper §3.2 / §4.2).

The figure functions of :mod:`~mmrats.visualization.part_pictures` lay out
panels with matplotlib; these return one ``(H, W, 3)`` uint8 picture of exactly
the input's size, so that a map can be shown large, compared pixel for pixel
with the image and saved as it is:

* :func:`overlay_labels`: a region-id map (a part segmentation) in a
  qualitative palette, blended over the image;
* :func:`overlay_map`: a score map on the patch grid (a register similarity map,
  Eq. 7; compress attention; token norms), upsampled bilinearly, min-max
  scaled and blended over the image in a sequential colormap;
* :func:`stack_pictures`: several pictures one above the other (one PNG to download).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def _colormap(name: str):
    import matplotlib
    return matplotlib.colormaps[name]


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise ValueError(f'image must be (H, W, 3) uint8, got {image.shape} {image.dtype}')
    return image


def _blend(image: np.ndarray, colour: np.ndarray, alpha: float) -> np.ndarray:
    out = (1.0 - alpha) * image.astype(np.float32) + alpha * colour
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def overlay_labels(image: np.ndarray, labels: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """Region ids ``(H, W)`` coloured (tab20, by id modulo 20) over the image ``(H, W, 3)`` uint8.

    Raises:
        ValueError: the label map is not the image's size.
    """
    image = _check_image(image)
    labels = np.asarray(labels)
    if labels.shape != image.shape[:2]:
        raise ValueError(f'labels {labels.shape} do not match the image {image.shape[:2]}')
    palette = np.asarray(_colormap('tab20').colors, np.float32) * 255.0
    return _blend(image, palette[labels.astype(np.int64) % len(palette)], alpha)


def upsample_map(score: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A ``(h, w)`` map, or a ``(K, h, w)`` stack of them, resized bilinearly to ``size = (H, W)``."""
    score = np.asarray(score, np.float32)
    t = torch.as_tensor(score.reshape(-1, *score.shape[-2:]))[None]
    up = F.interpolate(t, size=tuple(size), mode='bilinear', align_corners=False)[0].numpy()
    return up.reshape(*score.shape[:-2], *up.shape[-2:])


def overlay_map(image: np.ndarray, score: np.ndarray, cmap: str = 'inferno', alpha: float = 0.6) -> np.ndarray:
    """A score map ``(h, w)`` on the patch grid, upsampled to the image and blended over it in ``cmap``.

    The map is min-max scaled per picture (a constant map shows as the colormap's low end).
    """
    image = _check_image(image)
    score = np.asarray(score, np.float32)
    if score.ndim != 2:
        raise ValueError(f'score map must be (h, w), got shape {score.shape}')
    big = upsample_map(score, image.shape[:2])
    lo, hi = float(big.min()), float(big.max())
    unit = (big - lo) / (hi - lo) if hi > lo else np.zeros_like(big)
    colour = _colormap(cmap)(unit)[..., :3].astype(np.float32) * 255.0
    return _blend(image, colour, alpha)


def stack_pictures(pictures: Sequence[np.ndarray], gap: int = 8) -> np.ndarray:
    """Pictures one above the other, left-aligned on white, ``gap`` pixels apart; ``(H, W, 3)`` uint8."""
    pictures = [_check_image(p) for p in pictures if p is not None]
    if not pictures:
        raise ValueError('no pictures to stack')
    width = max(p.shape[1] for p in pictures)
    height = sum(p.shape[0] for p in pictures) + gap * (len(pictures) - 1)
    out = np.full((height, width, 3), 255, np.uint8)
    y = 0
    for p in pictures:
        out[y:y + p.shape[0], :p.shape[1]] = p
        y += p.shape[0] + gap
    return out
