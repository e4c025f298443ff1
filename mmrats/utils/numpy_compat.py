"""Compatibility of mmcv 2.1.0 with numpy 2 (see docs/install.md).

``mmcv.adjust_hue`` shifts the hue channel by ``np.uint8(hue_factor * 255)``.
numpy 2 refuses to turn a negative Python number into ``uint8``
(``OverflowError``), so every ``ColorJitter`` with a hue jitter (DINO's
augmentations: hue in [-0.1, 0.1]) fails half of the time. mmrats replaces the
function with one that computes the same shift modulo 256 (the wrap-around
numpy 1 performed), for both of mmcv's backends.
"""
from __future__ import annotations

import numpy as np


def _hue_shift(hue_factor: float) -> np.uint8:
    """The uint8 hue rotation of ``hue_factor`` in [-0.5, 0.5] (truncated, then modulo 256)."""
    return np.uint8(int(hue_factor * 255) % 256)


def adjust_hue(img: np.ndarray, hue_factor: float, backend: str | None = None) -> np.ndarray:
    """Rotate the hue of a BGR image by ``hue_factor`` turns (mmcv's semantics, numpy-2 safe).

    Args:
        img: ``(H, W, 3)`` BGR image (uint8 for the pillow backend).
        hue_factor: in [-0.5, 0.5]; 0 keeps the image, +-0.5 gives the complementary hues.
        backend: ``'cv2'`` or ``'pillow'`` (default: mmcv's image backend).
    """
    import cv2
    import mmcv.image.io as mmcv_io
    from PIL import Image

    backend = backend or mmcv_io.imread_backend
    if backend not in ('cv2', 'pillow'):
        raise ValueError(f"adjust_hue backend must be 'cv2' or 'pillow', got {backend!r}")
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor {hue_factor} is not in [-0.5, 0.5]')
    if not (isinstance(img, np.ndarray) and img.ndim in (2, 3)):
        raise TypeError('adjust_hue needs an ndarray image with 2 or 3 dimensions')
    shift = _hue_shift(hue_factor)
    if backend == 'pillow':
        if img.dtype != np.uint8:
            raise TypeError('the pillow backend of adjust_hue needs a uint8 image')
        h, s, v = Image.fromarray(np.ascontiguousarray(img[..., ::-1])).convert('HSV').split()
        h = Image.fromarray(np.asarray(h, dtype=np.uint8) + shift)  # uint8 arithmetic wraps; mode L
        return np.asarray(Image.merge('HSV', (h, s, v)).convert('RGB'), dtype=img.dtype)[..., ::-1]
    dtype = img.dtype
    h, s, v = cv2.split(cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL))
    h = (h.astype(np.uint8) + shift).astype(np.uint8)
    return cv2.cvtColor(cv2.merge([h, s, v]), cv2.COLOR_HSV2BGR_FULL).astype(dtype)


def patch_mmcv_adjust_hue() -> None:
    """Install :func:`adjust_hue` as ``mmcv.adjust_hue`` (idempotent; no-op without mmcv)."""
    try:
        import mmcv
        import mmcv.image
        import mmcv.image.photometric as photometric
    except ImportError:
        return
    for mod in (mmcv, mmcv.image, photometric):
        mod.adjust_hue = adjust_hue
