"""The parts page's pictures of one image under one backbone, computed with :mod:`mmrats.apis` (no model code).

* the image as the model sees it (resized to the model's input size);
* the unsupervised part segmentation at ``K`` (paper §4.2): the top-``K`` candidate maps' argmax, coloured
  over the image;
* the register similarity maps (Eq. 7), ranked by their peak, each over the image (a grid; one shown large);
* the compress attention of every head of the last block (RATS only, Appendix D);
* the patch tokens' norms after the last block (Darcet et al. 2024, §2.1: high-norm outliers).

Every picture but the compress-attention figure has exactly the model's input size.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from torch import nn

from mmrats.utils.images import ImageError, load_image
from mmrats.visualization import overlay_labels, overlay_map

from ..inference import compress_attention, discover_parts, register_maps, token_norms
from ..inputs import model_size

# The largest image the page decodes (width x height); a larger one is refused before it is decoded.
MAX_PIXELS = 50_000_000
_HEADER_LOCK = threading.Lock()


def read_image(path: str | os.PathLike, size: tuple[int, int], max_pixels: int = MAX_PIXELS
               ) -> tuple[np.ndarray, str]:
    """An uploaded image file, resized (bicubic) to ``size = (H, W)``, and a line saying what was done.

    Any image PIL reads (JPEG, PNG, WebP, ...; grayscale, RGBA and 16-bit converted to RGB).

    Raises:
        ImageError: the path does not exist or is not a file, the file is empty, not an image, truncated,
            or larger than ``max_pixels`` (the message names the file and says what to do).
    """
    p = Path(path)
    name = p.name
    if not p.is_file():
        raise ImageError(f'{name!r} does not exist or is not a file')
    if p.stat().st_size == 0:
        raise ImageError(f'{name!r} is an empty file (0 bytes): upload a JPEG, PNG or WebP image')
    try:
        with _HEADER_LOCK:  # only the header is read here: PIL's own size limit is lifted for it, ours applies
            limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                with Image.open(p) as img:
                    width, height, fmt = img.width, img.height, img.format
            finally:
                Image.MAX_IMAGE_PIXELS = limit
    except Exception as e:  # PIL raises several types for files that are not images
        raise ImageError(f'{name!r} is not an image PIL can read ({type(e).__name__}): upload a JPEG, PNG or '
                         'WebP image') from None
    if width * height > max_pixels:
        raise ImageError(f'{name!r} is {width} x {height} ({width * height / 1e6:.0f} megapixels); the page takes '
                         f'images up to {max_pixels / 1e6:.0f} megapixels: downscale it first')
    rgb = load_image(p, size)  # ImageError for a truncated file
    return rgb, f'{name}: {fmt} {width} x {height}, resized to {size[1]} x {size[0]} (the model\'s input)'


@dataclass
class PageViews:
    """Everything the page shows for one image and one backbone.

    Attributes:
        image: ``(H, W, 3)`` uint8 the image at the model's input size.
        parts: ``(H, W, 3)`` the part segmentation at ``top_k`` over the image.
        top_k: the ``K`` of ``parts``; ``num_parts``: the regions it has.
        norms: ``(H, W, 3)`` the patch-token norms over the image; ``norm_range``: their min and max.
        register_maps: ``(N, h, w)`` every register's similarity map, highest peak first (None without
            registers); ``register_ids``, ``register_peaks``, ``register_heads``: per map, its register, peak
            and head (heads None unless RATS).
        compress: the compress-attention figure (None unless RATS).
        notes: lines for the page (what could not be shown, and why).
    """

    image: np.ndarray
    parts: np.ndarray
    top_k: int
    num_parts: int
    norms: np.ndarray
    norm_range: tuple[float, float]
    register_maps: np.ndarray | None = None
    register_ids: np.ndarray | None = None
    register_peaks: np.ndarray | None = None
    register_heads: np.ndarray | None = None
    compress: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    def register_caption(self, rank: int) -> str:
        """``'#rank: register i (head h), peak p'`` for the map at ``rank``."""
        head = '' if self.register_heads is None else f' (head {int(self.register_heads[rank])})'
        return f'#{rank + 1}: register {int(self.register_ids[rank])}{head}, peak {self.register_peaks[rank]:.2f}'


def parts_view(backbone: nn.Module, image: np.ndarray, top_k: int) -> tuple[np.ndarray, int]:
    """The part segmentation at ``top_k`` over ``image`` (at its size) and the number of regions."""
    res = discover_parts(backbone, image, top_k=top_k, img_size=image.shape[:2])
    return overlay_labels(res.image, res.labels), len(res.indices)


def register_view(views: PageViews, rank: int) -> np.ndarray:
    """The register map at ``rank`` over the image, at the image's size.

    Raises:
        ValueError: the backbone has no registers, or ``rank`` is out of range.
    """
    if views.register_maps is None:
        raise ValueError('this backbone has no registers, so there are no register maps')
    if not 0 <= rank < len(views.register_maps):
        raise ValueError(f'register rank {rank + 1} is out of range (1..{len(views.register_maps)})')
    return overlay_map(views.image, views.register_maps[rank], cmap='viridis')


def compute_views(backbone: nn.Module, image: np.ndarray, top_k: int = 8) -> PageViews:
    """All the page's pictures of ``image`` (``(H, W, 3)`` uint8, resized to the model's input size first)."""
    size = model_size(backbone)
    image = load_image(image, size)
    parts, num = parts_view(backbone, image, top_k)
    norms = token_norms(backbone, image)
    views = PageViews(image, parts, top_k, num, overlay_map(image, norms.patches, cmap='magma'),
                      (float(norms.patches.min()), float(norms.patches.max())))
    if backbone.num_registers:
        maps = register_maps(backbone, image)
        views.register_maps, views.register_ids = maps.maps, maps.indices
        views.register_peaks, views.register_heads = maps.peaks, maps.heads
    else:
        views.notes.append('register maps: this backbone has no registers (a plain ViT); its parts are '
                           '[CLS] attention maps, one per head')
    if backbone.mode == 'rats':
        att = compress_attention(backbone, image)
        views.compress = att.draw(per_head=min(4, att.attention.shape[1]),
                                  title=f'compress attention, block {att.layer + 1}')
    else:
        views.notes.append('compress attention: RATS only (this backbone attends patch to patch)')
    return views
