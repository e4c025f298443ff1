"""Procedural part-structured objects: a deterministic, unlimited lab-scale part-discovery dataset.

A stand-in for PartImageNet (He et al. 2022; the paper's part benchmark, §4.1,
Table 1) small enough to pretrain and evaluate on a CPU: every image holds one
object (sometimes two) of the categories of
:mod:`~mmrats.datasets.part_objects_catalogue`, built from parts whose types
are shared within a super-category and whose appearance (texture, colours,
scale) is drawn per instance from the part type's family. Objects vary in
position, scale, aspect, rotation, flip and occlusion; the background is
cluttered with textures that no part has.

Image ``i`` of split ``s`` with seed ``k`` is drawn from
``numpy.random.default_rng([k, SPLIT_IDS[s], i])``: any image can be drawn on
its own, in any order, any number of them, and the same arguments always give
the same pixels. The main object's category is ``i % 9`` (balanced classes).

Ground truth (:class:`PartObjectsSample`): the part label map (0 background,
``1..11`` the part types of :data:`PART_NAMES`), the object (instance) map,
each object's category and its box (the tight box of its visible pixels).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .part_objects_catalogue import CATEGORIES, PART_ID, PART_TYPES, check_catalogue
from .part_objects_render import (COLOURS, affine, background, frame_coords, hsv, paint_texture, sample_appearance,
                                  shape_mask, value_noise)

SPLIT_IDS = {'train': 0, 'val': 1, 'test': 2}
check_catalogue()


@dataclass
class PartObjectsSample:
    """One generated image and its ground truth.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        parts: ``(H, W)`` uint8 part-type ids (0 = background).
        objects: ``(H, W)`` uint8 object ids ``1..n`` (0 = background), in
            the order of ``categories`` and ``boxes``.
        categories: category index (into ``CATEGORIES``) of each object.
        boxes: ``(n, 4)`` float32 ``x0, y0, x1, y1`` (pixels, end exclusive)
            of each object's visible pixels.
        category: the main object's category (the image label).
    """

    image: np.ndarray
    parts: np.ndarray
    objects: np.ndarray
    categories: list[int]
    boxes: np.ndarray
    category: int
    meta: dict = field(default_factory=dict)


@dataclass
class PartObjectsConfig:
    """Generation parameters (all images of a dataset share them).

    Attributes:
        img_size: image side in pixels.
        two_objects_prob: probability of a second, smaller object.
        occlusion_prob: probability of 1-2 occluders over the main object.
        scale: range of the main object's half width, as a fraction of the image side.
        second_scale: the same for the second object.
        max_rotation: rotation range +- degrees.
        min_visible: an object keeps at least this fraction of its drawn pixels
            (occluders that would hide more are dropped, a second object that
            would be hidden more is dropped).
        colour: ``'informative'`` (the default: every part type has its own hue, saturation and brightness
            ranges) or ``'uninformative'`` (issue #26's colour control: the same ranges for every part type,
            :data:`~mmrats.datasets.part_objects_catalogue.UNINFORMATIVE_COLOUR`; the geometry, parts and
            clutter of an image are the default's, only the parts' colours change).
    """

    img_size: int = 96
    two_objects_prob: float = 0.25
    occlusion_prob: float = 0.3
    scale: tuple[float, float] = (0.3, 0.46)
    second_scale: tuple[float, float] = (0.16, 0.26)
    max_rotation: float = 25.0
    min_visible: float = 0.5
    colour: str = 'informative'

    def check(self) -> None:
        if self.colour not in COLOURS:
            raise ValueError(f'PartObjectsConfig colour must be one of {COLOURS}, got {self.colour!r}')
        if self.img_size < 16:
            raise ValueError(f'PartObjectsConfig img_size must be >= 16, got {self.img_size}')
        for name in ('two_objects_prob', 'occlusion_prob', 'min_visible'):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f'PartObjectsConfig {name} must be in [0, 1], got {getattr(self, name)}')


def _grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32) + 0.5  # pixel centres
    return xx, yy


def _bbox_of_frame(m: np.ndarray, n: int) -> tuple[int, int, int, int]:
    """Pixel rows/cols ``y0, y1, x0, x1`` covering the image of ``[-1, 1]^2`` under ``m``, clipped."""
    corners = m @ np.array([[-1, 1, 1, -1], [-1, -1, 1, 1], [1, 1, 1, 1]], np.float64)
    x0, x1 = np.floor(corners[0].min()), np.ceil(corners[0].max()) + 1
    y0, y1 = np.floor(corners[1].min()), np.ceil(corners[1].max()) + 1
    return (int(np.clip(y0, 0, n)), int(np.clip(y1, 0, n)), int(np.clip(x0, 0, n)), int(np.clip(x1, 0, n)))


def render_object(rng: np.random.Generator, category: int, cx: float, cy: float, half: float,
                  cfg: PartObjectsConfig, xx: np.ndarray, yy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draw one object on an empty canvas: ``rgb (H, W, 3)`` float and part ids ``(H, W)`` (0 = not drawn)."""
    n = cfg.img_size
    cat = CATEGORIES[category]
    aspect = rng.uniform(*cat.aspect) * rng.uniform(0.9, 1.1)
    sx, sy = half * np.sqrt(aspect), half / np.sqrt(aspect)
    obj = affine(cx, cy, sx, sy, rng.uniform(-cfg.max_rotation, cfg.max_rotation), flip=bool(rng.random() < 0.5))
    looks = {p.name: sample_appearance(rng, p, cfg.colour) for p in PART_TYPES
             if p.name.startswith(cat.supercategory + ' ')}
    rgb = np.zeros((n, n, 3), np.float32)
    parts = np.zeros((n, n), np.uint8)
    for part, shape, pcx, pcy, psx, psy, ang in cat.primitives:
        psx, psy = psx * rng.uniform(0.85, 1.15), psy * rng.uniform(0.85, 1.15)
        m = obj @ affine(pcx + rng.normal(0, 0.03), pcy + rng.normal(0, 0.03), psx, psy, ang + rng.normal(0, 6))
        y0, y1, x0, x1 = _bbox_of_frame(m, n)
        if y1 <= y0 or x1 <= x0:
            continue
        u, v = frame_coords(m, xx[y0:y1, x0:x1], yy[y0:y1, x0:x1])
        inside = shape_mask(shape, u, v)
        tex = paint_texture(looks[part], u, v, psx * sx, psy * sy)
        rgb[y0:y1, x0:x1][inside] = tex[inside]
        parts[y0:y1, x0:x1][inside] = PART_ID[part]
    return rgb, parts


def occluder(rng: np.random.Generator, box: np.ndarray, n: int, xx: np.ndarray,
             yy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A non-part blob over the edge of ``box`` (x0, y0, x1, y1): its mask and colour image."""
    x0, y0, x1, y1 = box
    side = rng.integers(4)
    cx = rng.uniform(x0, x1) if side < 2 else (x0 if side == 2 else x1)
    cy = rng.uniform(y0, y1) if side >= 2 else (y0 if side == 0 else y1)
    r = rng.uniform(0.2, 0.4) * max(x1 - x0, y1 - y0)
    u, v = frame_coords(affine(cx, cy, r, r * rng.uniform(0.3, 0.8), rng.uniform(0, 180)), xx, yy)
    mask = u * u + v * v <= 1
    col = hsv(rng.uniform(0, 360), rng.uniform(0.1, 0.7), rng.uniform(0.2, 0.9))
    img = col * (0.7 + 0.6 * value_noise(rng, n, n, int(rng.integers(4, 10))))[..., None]
    return mask, img


def _tight_box(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], np.float32)


def generate_part_objects(index: int, seed: int = 0, split: str = 'train',
                          cfg: PartObjectsConfig | None = None) -> PartObjectsSample:
    """Draw image ``index`` of ``split`` for dataset seed ``seed`` (see the module docstring).

    Args:
        index: image index (>= 0).
        seed: dataset seed.
        split: ``'train'``, ``'val'`` or ``'test'`` (independent streams).
        cfg: generation parameters (default :class:`PartObjectsConfig`).
    """
    cfg = cfg or PartObjectsConfig()
    cfg.check()
    if split not in SPLIT_IDS:
        raise ValueError(f'unknown split {split!r}; choose one of {sorted(SPLIT_IDS)}')
    if index < 0:
        raise ValueError(f'image index must be >= 0, got {index}')
    rng = np.random.default_rng([seed, SPLIT_IDS[split], index])
    n = cfg.img_size
    xx, yy = _grid(n)
    img = background(rng, n, n, xx, yy)
    main = index % len(CATEGORIES)
    specs = [(main, rng.uniform(*cfg.scale) * n)]
    if rng.random() < cfg.two_objects_prob:
        specs.insert(0, (int(rng.integers(len(CATEGORIES))), rng.uniform(*cfg.second_scale) * n))  # behind
    layers = []
    for cat, half in specs:
        cx, cy = rng.uniform(0.55 * half, n - 0.55 * half), rng.uniform(0.45 * half, n - 0.45 * half)
        layers.append((cat, *render_object(rng, cat, cx, cy, half, cfg, xx, yy)))
    # composite back to front; a second object hidden too much by the main one is left out
    parts = np.zeros((n, n), np.uint8)
    objects = np.zeros((n, n), np.uint8)
    kept = []
    if len(layers) == 2:
        behind, front = layers[0][2] > 0, layers[1][2] > 0
        if behind.sum() == 0 or (behind & ~front).sum() < cfg.min_visible * behind.sum():
            layers = layers[1:]
    for cat, rgb, p in layers:
        m = p > 0
        img[m], parts[m] = rgb[m], p[m]
        kept.append(cat)
        objects[m] = len(kept)
    drawn = [(objects == i + 1).sum() for i in range(len(kept))]
    if rng.random() < cfg.occlusion_prob:
        for _ in range(int(rng.integers(1, 3))):
            mask, occ = occluder(rng, _tight_box(objects == len(kept)), n, xx, yy)
            if all(((objects == i + 1) & ~mask).sum() >= cfg.min_visible * drawn[i] for i in range(len(kept))):
                img[mask], parts[mask], objects[mask] = occ[mask], 0, 0
    img = img + rng.normal(0, 0.015, img.shape).astype(np.float32)
    image = (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)
    boxes = np.stack([_tight_box(objects == i + 1) for i in range(len(kept))])
    return PartObjectsSample(image=image, parts=parts, objects=objects, categories=kept, boxes=boxes,
                             category=main, meta=dict(index=index, seed=seed, split=split))
