"""The images the token diagnostics measure: part-structured objects and COCO-layout folders, with their boxes.

:class:`DiagnosticImages` holds square uint8 RGB images, their object boxes
in input pixels, and (part-structured objects only) categories and part
labels; :meth:`DiagnosticImages.tensor` normalises a slice for a backbone
(:func:`mmrats.utils.images.normalize`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from mmrats.datasets.part_objects import PartObjectsConfig, generate_part_objects
from mmrats.utils.images import load_image, normalize

__all__ = ['DiagnosticImages', 'DiagnosticDataError', 'coco_images', 'part_objects_images']


class DiagnosticDataError(ValueError):
    """A data folder the diagnostics cannot read (the message names the file and the fix)."""


class DiagnosticImages:
    """Images ``(N, S, S, 3)`` uint8 RGB, boxes per image (input pixels), categories, part labels (or None)."""

    def __init__(self, images: np.ndarray, boxes: list[np.ndarray], categories: np.ndarray | None,
                 parts: np.ndarray | None, name: str) -> None:
        self.images, self.boxes, self.categories, self.parts, self.name = images, boxes, categories, parts, name

    def __len__(self) -> int:
        return len(self.images)

    def tensor(self, sl: slice) -> torch.Tensor:
        """The normalised ``(B, 3, S, S)`` batch of the images ``sl``."""
        return normalize(self.images[sl])


def part_objects_images(num: int, split: str, seed: int, size: int) -> DiagnosticImages:
    """The first ``num`` part-structured objects of ``split`` (dataset seed ``seed``) at ``size`` pixels."""
    cfg = PartObjectsConfig(img_size=size)
    s = [generate_part_objects(i, seed, split, cfg) for i in range(num)]
    return DiagnosticImages(np.stack([x.image for x in s]), [x.boxes for x in s], np.array([x.category for x in s]),
                            np.stack([x.parts for x in s]).astype(np.int64), f'part-objects-{split}')


def coco_images(root: str, split: str, num: int, size: int) -> DiagnosticImages:
    """The first ``num`` images (by id) of a COCO-layout folder that have boxes, resized to ``size``.

    Raises:
        DiagnosticDataError: no annotation file, a listed image missing, or no image with a box (the
            message does not repeat ``root``).
    """
    ann = Path(root) / 'annotations' / f'instances_{split}2017.json'
    if not ann.is_file():
        raise DiagnosticDataError(f'{ann} does not exist (COCO layout: annotations/instances_'
                                  f'{split}2017.json and {split}2017/); make the demo data with '
                                  'tools/dataset_converters/make_synthetic_scenes.py')
    d = json.loads(ann.read_text())
    per_image: dict[int, list] = {}
    for a in d.get('annotations', []):
        if not a.get('iscrowd', 0):
            per_image.setdefault(a['image_id'], []).append(a['bbox'])
    images, boxes = [], []
    for info in sorted(d.get('images', []), key=lambda i: i['id']):
        if info['id'] not in per_image:
            continue
        path = Path(root) / f'{split}2017' / info['file_name']
        if not path.is_file():
            raise DiagnosticDataError(f'image {path} listed in {ann.name} does not exist')
        img = load_image(path)
        sx, sy = size / img.shape[1], size / img.shape[0]
        images.append(load_image(img, size))
        boxes.append(np.array([[x * sx, y * sy, (x + w) * sx, (y + h) * sy] for x, y, w, h in per_image[info['id']]],
                              np.float32))
        if len(images) == num:
            break
    if not images:
        raise DiagnosticDataError(f'no image with a box in {ann}')
    return DiagnosticImages(np.stack(images), boxes, None, None, f'coco-{split}')
