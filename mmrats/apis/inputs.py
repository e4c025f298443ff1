"""Images as a backbone takes them: one image or several, of any size, on any device."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from mmrats.utils.images import ImageError, ImageLike, load_image, normalize

Images = ImageLike | Sequence[ImageLike]


def model_size(backbone: nn.Module) -> tuple[int, int]:
    """The input size ``(height, width)`` the backbone was built for (its position embedding's grid)."""
    return tuple(g * backbone.patch_size for g in backbone.patch_grid)


def check_size(backbone: nn.Module, img_size: int | tuple[int, int] | None) -> tuple[int, int]:
    """``img_size`` as ``(height, width)`` (default: :func:`model_size`); each a multiple of the patch size."""
    h, w = model_size(backbone) if img_size is None else (
        (img_size, img_size) if isinstance(img_size, int) else tuple(img_size))
    p = backbone.patch_size
    if h <= 0 or w <= 0 or h % p or w % p:
        raise ImageError(f'img_size {(h, w)} is not a positive multiple of the patch size {p}')
    return h, w


def is_batch(images: Images) -> bool:
    """A list / tuple of images, or a 4-d array or tensor, is several images; anything else is one."""
    return isinstance(images, (list, tuple)) or (isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim == 4)


def prepare(backbone: nn.Module, images: Images, img_size: int | tuple[int, int] | None = None,
            device: str | torch.device | None = None) -> tuple[torch.Tensor, np.ndarray | None]:
    """The normalised input batch ``(B, 3, H, W)`` and the images as the model sees them ``(B, H, W, 3)`` uint8.

    Args:
        backbone: the model (its patch size and default input size).
        images: one image or several (paths, PIL images, arrays or tensors of any size, grayscale, RGBA or
            16-bit: see :func:`mmrats.utils.images.to_rgb`), each resized (bicubic) to ``img_size``. A float
            tensor ``(B, 3, H, W)`` is taken as an already normalised batch and used as it is (its uint8
            images are then None).
        img_size: the input side or ``(height, width)``; default: the size the backbone was built for.
        device: default: the backbone's.

    Raises:
        ImageError: an input is not an image, or the size is not a multiple of the patch size.
    """
    device = device or next(backbone.parameters()).device
    if isinstance(images, torch.Tensor) and images.ndim == 4 and images.is_floating_point() \
            and images.shape[1] == 3:
        h, w = images.shape[-2:]
        check_size(backbone, (h, w))
        return images.to(device), None
    size = check_size(backbone, img_size)
    items = list(images) if is_batch(images) else [images]
    if not items:
        raise ImageError('no images given')
    rgb = np.stack([load_image(item, size) for item in items])
    return normalize(rgb).to(device), rgb
