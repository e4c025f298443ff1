"""Image loading and normalisation, in one place for the API, the analysis tools and the evaluations.

Every model here is trained on RGB images normalised with the ImageNet mean
and std (on 0-255, as the configs' ``data_preprocessor``). This module turns
whatever a user holds (a path, a PIL image, a numpy array or a torch tensor;
grayscale, RGBA (alpha dropped), 16-bit or float) into an ``(H, W, 3)`` uint8 RGB array,
resizes it (bicubic) and normalises a batch for a backbone. Label maps are
resized with the nearest pixel centre, as the part benchmarks are scored.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image

# RGB, on 0-255: the data_preprocessor of every config (mmseg / mmdet / mmpretrain).
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
_MEAN, _STD = np.array(IMAGENET_MEAN, np.float32), np.array(IMAGENET_STD, np.float32)

ImageLike = Union[str, Path, Image.Image, np.ndarray, torch.Tensor]


class ImageError(ValueError):
    """An input that is not an image this module can read (names the input and why)."""


def _describe(source) -> str:
    if isinstance(source, (str, Path)):
        return f'image file {str(source)!r}'
    if isinstance(source, (np.ndarray, torch.Tensor)):
        return f'{type(source).__name__} of shape {tuple(source.shape)} and dtype {source.dtype}'
    return type(source).__name__


def _array_to_rgb(arr: np.ndarray, what: str) -> np.ndarray:
    """``(H, W)``, ``(H, W, 1|3|4)`` of uint8, uint16 / int (0-65535) or float (0-1) -> ``(H, W, 3)`` uint8."""
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = arr.transpose(1, 2, 0)  # channels first (a torch image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[-1] not in (1, 3, 4) or min(arr.shape[:2]) < 1:
        raise ImageError(f'{what}: expected an image of shape (H, W), (H, W, 1|3|4) or (1|3|4, H, W)')
    if arr.dtype == np.uint8:
        out = arr
    elif np.issubdtype(arr.dtype, np.floating):
        out = (np.clip(np.nan_to_num(arr), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)  # floats are on 0-1
    elif np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        top = 65535 if arr.max(initial=0) > 255 else 255  # 16-bit images
        out = (np.clip(arr.astype(np.float64), 0, top) * (255.0 / top) + 0.5).astype(np.uint8)
    else:
        raise ImageError(f'{what}: unsupported dtype')
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    elif out.shape[-1] == 4:  # alpha dropped, as PIL's convert('RGB') and mmcv's loaders do
        out = out[..., :3]
    return np.ascontiguousarray(out)


def _open(path: Path) -> Image.Image:
    if not path.is_file():
        raise ImageError(f'image file {str(path)!r} does not exist')
    try:
        img = Image.open(path)
        img.load()
    except Exception as e:  # PIL raises several types for empty, truncated or foreign files
        raise ImageError(f'image file {str(path)!r} cannot be read as an image: {type(e).__name__}: {e}') from None
    return img


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    if img.mode in ('I;16', 'I;16B', 'I;16L', 'I'):  # 16-bit and 32-bit grayscale
        return _array_to_rgb(np.asarray(img, dtype=np.int64) if img.mode == 'I' else np.asarray(img), 'image')
    return np.array(img.convert('RGB'))


def to_rgb(source: ImageLike) -> np.ndarray:
    """Any image a user holds as ``(H, W, 3)`` uint8 RGB.

    Args:
        source: a file path; a PIL image; an ``(H, W)``, ``(H, W, C)`` or
            ``(C, H, W)`` array or tensor with C in 1, 3, 4, of uint8,
            16-bit integers or floats on 0-1. Grayscale is repeated; RGBA
            loses its alpha (as PIL's ``convert('RGB')`` and mmcv's loaders).

    Raises:
        ImageError: the file does not exist or is not an image, or the array
            has another shape or dtype; the message names the input.
    """
    if isinstance(source, (str, Path)):
        return _pil_to_rgb(_open(Path(source)))
    if isinstance(source, Image.Image):
        return _pil_to_rgb(source)
    if isinstance(source, torch.Tensor):
        return _array_to_rgb(source.detach().cpu().numpy(), _describe(source))
    if isinstance(source, np.ndarray):
        return _array_to_rgb(source, _describe(source))
    raise ImageError(f'cannot read an image from a {_describe(source)}: give a path, a PIL image, an array '
                     'or a tensor')


def load_image(source: ImageLike, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """:func:`to_rgb`, resized (bicubic) to ``size`` (a side or ``(height, width)``) if given."""
    img = to_rgb(source)
    if size is None:
        return img
    h, w = (size, size) if isinstance(size, int) else size
    if (h, w) == img.shape[:2]:
        return img
    return np.array(Image.fromarray(img).resize((w, h), Image.BICUBIC))


def normalize(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``(H, W, 3)`` or ``(B, H, W, 3)`` uint8 RGB -> ``(B, 3, H, W)`` float32, as the configs normalise."""
    x = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ImageError(f'normalize takes (H, W, 3) or (B, H, W, 3) RGB images, got shape {tuple(x.shape)}')
    x = (x.astype(np.float32) - _MEAN) / _STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def resize_label(label: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """A label map resized to ``size`` with the nearest pixel centre (no label is invented)."""
    h, w = label.shape[:2]
    oh, ow = (size, size) if isinstance(size, int) else size
    rows = ((2 * np.arange(oh) + 1) * h) // (2 * oh)
    cols = ((2 * np.arange(ow) + 1) * w) // (2 * ow)
    return label[rows[:, None], cols[None]]


def center_crop(source: ImageLike, size: int, resize_ratio: float = 256 / 224) -> np.ndarray:
    """DINO's evaluation view: the shorter side resized (bicubic) to ``size * resize_ratio``, then the central
    ``size x size`` square (``Resize(256)`` + ``CenterCrop(224)`` at 224)."""
    img = Image.fromarray(to_rgb(source))
    short = int(round(size * resize_ratio))
    scale = short / min(img.size)
    w, h = max(size, int(round(img.width * scale))), max(size, int(round(img.height * scale)))
    img = img.resize((w, h), Image.BICUBIC)
    left, top = (w - size) // 2, (h - size) // 2
    return np.array(img.crop((left, top, left + size, top + size)))
