"""SAM proxy ground truth on disk: overlapping masks -> one label map per image (paper §4.1, Appendix E).

The paper evaluates COCO 2017 val and ImageNet val against SAM 2.1's
automatic masks. The generator returns overlapping binary masks; a label map
needs one id per pixel. The paper does not say how it resolves overlaps, so
**[choice]**: masks are painted from the largest to the smallest, a smaller
mask over a larger one (a part over its whole, as the sam2 notebooks draw
them); ids are 1, 2, ... in that order (1 = the largest); pixels no mask
covers are 0 (:data:`~mmrats.datasets.part_benchmarks.SAM_UNCOVERED`, ignored
by the benchmark). Maps are single-channel 16-bit PNGs, read back by
:class:`~mmrats.datasets.part_datasets.FolderParts`.

A mask file is written under a temporary name and renamed when complete, so a
killed run never leaves a half-written PNG, and :func:`pending_images` lists
what a run (or one shard of it) still has to do.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .part_datasets import IMAGE_SUFFIXES

OVERLAP_RULE = 'painted largest to smallest (a smaller mask over a larger one); ids 1.. by decreasing area; 0 = none'
MAX_REGIONS = 65535


def masks_to_label_map(masks: Sequence[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """One ``(H, W)`` uint16 label map from overlapping boolean masks (the overlap rule above).

    Args:
        masks: ``(H, W)`` boolean masks (SAM's ``segmentation`` fields), any order.
        shape: ``(H, W)`` of the image (an image with no mask is all 0).

    Raises:
        ValueError: a mask of another shape, or more than 65,535 masks.
    """
    if len(masks) > MAX_REGIONS:
        raise ValueError(f'{len(masks)} masks do not fit a 16-bit label map (at most {MAX_REGIONS})')
    label = np.zeros(shape, np.uint16)
    areas = [int(np.count_nonzero(m)) for m in masks]
    for rank, i in enumerate(sorted(range(len(masks)), key=lambda j: (-areas[j], j))):
        m = np.asarray(masks[i], bool)
        if m.shape != tuple(shape):
            raise ValueError(f'mask {i} has shape {m.shape}, the image {tuple(shape)}')
        label[m] = rank + 1
    return label


def write_label_png(label: np.ndarray, path: str | Path) -> None:
    """Write a uint16 label map as a 16-bit PNG, atomically (a temporary file renamed when complete)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    Image.fromarray(label.astype(np.uint16)).save(tmp, format='PNG')
    os.replace(tmp, path)


def list_images(image_dir: str | Path) -> list[Path]:
    """Every image under ``image_dir`` (sub-folders too, e.g. ImageNet's ``<wnid>/``), sorted."""
    root = Path(image_dir)
    return sorted(p for p in root.rglob('*') if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def mask_path(image: Path, image_dir: str | Path, out_dir: str | Path) -> Path:
    """Where an image's label map goes: the image's path below ``image_dir``, under ``out_dir``, as ``.png``."""
    return (Path(out_dir) / image.relative_to(image_dir)).with_suffix('.png')


def pending_images(image_dir: str | Path, out_dir: str | Path, shard: int = 0,
                   num_shards: int = 1) -> tuple[list[Path], int]:
    """The images of shard ``shard`` of ``num_shards`` (every ``num_shards``-th, sorted) without a label map yet.

    Returns:
        ``(pending, done)``: the images still to do and how many of the shard's are done.
    """
    if not 0 <= shard < num_shards:
        raise ValueError(f'shard {shard} is not in 0..{num_shards - 1}')
    mine = list_images(image_dir)[shard::num_shards]
    pending = [p for p in mine if not mask_path(p, image_dir, out_dir).is_file()]
    return pending, len(mine) - len(pending)
