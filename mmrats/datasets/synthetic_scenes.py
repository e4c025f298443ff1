"""Deterministic synthetic scenes: the embedded demo data for Mask2Former on the CPU.

Each scene is a textured background with 2 to 5 shapes (disc, square, triangle,
ring, bar, cross) drawn on top of each other. A class is recognisable by its
shape and also carries its own hue range and texture (with random jitter), so
that a tiny model learns it in a few hundred iterations. :func:`write_dataset`
writes the same images in the ADE20K layout (mmseg) and the COCO instance
layout (mmdet), with a ``manifest.json`` that makes it idempotent.

Only numpy and PIL draw the scenes (vectorised: coordinate grids, inequalities
and half-plane tests in a rotated frame); pycocotools encodes the RLE masks.
"""
from __future__ import annotations

import colorsys
import io
import json
import os
import os.path as osp
import shutil

import numpy as np
from PIL import Image
from pycocotools import mask as mask_util

CLASSES = ('background', 'disc', 'square', 'triangle', 'ring', 'bar', 'cross')
PALETTE = ((120, 120, 120), (220, 40, 40), (40, 180, 60), (50, 90, 220), (240, 190, 30),
           (170, 60, 200), (30, 200, 210))
# palettes as lists of RGB tuples: mmdet's get_palette reads a tuple as one colour
SEG_METAINFO = dict(classes=CLASSES, palette=list(PALETTE))
DET_METAINFO = dict(classes=CLASSES[1:], palette=list(PALETTE[1:]))

FORMAT_VERSION = 1
VAL_OFFSET = 1_000_000  # validation scene i is generate_scene(VAL_OFFSET + i): independent of num_train
MIN_AREA = 30  # instances with fewer visible pixels are dropped (their pixels become unlabelled)
# per thing class: (hue centre in degrees, hue jitter, texture)
STYLES = {1: (0, 18, 'dots'), 2: (120, 18, 'checker'), 3: (222, 16, 'stripes'),
          4: (45, 12, 'concentric'), 5: (285, 18, 'speckle'), 6: (182, 14, 'grid')}


def _rgb(hue_deg: float, sat: float, val: float) -> np.ndarray:
    """One HSV colour (hue in degrees) as a float RGB array in [0, 1]."""
    return np.array(colorsys.hsv_to_rgb((hue_deg % 360) / 360, sat, val), dtype=np.float32)


def _lowfreq(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth value noise in [0, 1]: a random (cells+1)^2 grid, smoothstep-interpolated."""
    grid = rng.random((cells + 1, cells + 1)).astype(np.float32)
    t = np.linspace(0, cells, size, endpoint=False, dtype=np.float32)
    i = np.minimum(t.astype(np.int64), cells - 1)
    f = t - i
    f = f * f * (3 - 2 * f)
    rows = grid[i] * (1 - f)[:, None] + grid[i + 1] * f[:, None]  # (size, cells+1)
    return rows[:, i] * (1 - f)[None] + rows[:, i + 1] * f[None]


def _background(rng: np.random.Generator, size: int, yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
    """Two low-saturation colours blended by low-frequency noise, plus one faint random texture."""
    hue = rng.uniform(0, 360)
    c0 = _rgb(hue, rng.uniform(0.05, 0.55), rng.uniform(0.3, 0.85))
    c1 = _rgb(hue + rng.uniform(-90, 90), rng.uniform(0.05, 0.55), rng.uniform(0.3, 0.85))
    m = _lowfreq(rng, size, int(rng.integers(2, 5)))[..., None]
    img = c0 * (1 - m) + c1 * m
    kind = rng.integers(4)
    if kind == 1:  # faint stripes at a random angle
        a = rng.uniform(0, np.pi)
        period = rng.uniform(0.06, 0.15) * size
        tex = np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / period)
    elif kind == 2:  # blotches
        tex = 2 * _lowfreq(rng, size, int(rng.integers(8, 14))) - 1
    elif kind == 3:  # grain
        tex = rng.uniform(-1, 1, (size, size)).astype(np.float32)
    else:
        tex = np.zeros((size, size), np.float32)
    return img * (1 + rng.uniform(0.08, 0.2) * tex)[..., None]


def _shape_mask(category: int, u: np.ndarray, v: np.ndarray, extent: float,
                rng: np.random.Generator) -> np.ndarray:
    """The shape of ``category`` in its own (rotated, centred) frame ``(u, v)``; ``extent`` ~ diameter."""
    r = extent / 2
    if category == 1:  # disc
        return u * u + v * v <= r * r
    if category == 2:  # square
        h = r * 0.85
        return (np.abs(u) <= h) & (np.abs(v) <= h)
    if category == 3:  # equilateral triangle, circumradius r: three half-planes at the inradius r/2
        out = np.ones(u.shape, bool)
        for k in range(3):
            a = np.pi / 2 + k * 2 * np.pi / 3
            out &= u * np.cos(a) + v * np.sin(a) <= r / 2
        return out
    if category == 4:  # ring
        d2 = u * u + v * v
        inner = r * rng.uniform(0.4, 0.6)
        return (d2 <= r * r) & (d2 >= inner * inner)
    if category == 5:  # bar
        w = extent * rng.uniform(0.12, 0.2)
        return (np.abs(u) <= r * 1.1) & (np.abs(v) <= w)
    w = extent * rng.uniform(0.13, 0.18)  # cross
    return ((np.abs(u) <= r) & (np.abs(v) <= w)) | ((np.abs(u) <= w) & (np.abs(v) <= r))


def _texture(kind: str, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A two-tone texture mask in [0, 1] in the object's frame, with random period and phase."""
    p = rng.uniform(3.5, 6.0)
    du, dv = rng.uniform(0, p, 2)
    if kind == 'dots':
        a, b = (u + du) % p - p / 2, (v + dv) % p - p / 2
        return (a * a + b * b <= (0.3 * p) ** 2).astype(np.float32)
    if kind == 'checker':
        return ((np.floor((u + du) / p) + np.floor((v + dv) / p)) % 2).astype(np.float32)
    if kind == 'stripes':
        return ((u + du) % p < p / 2).astype(np.float32)
    if kind == 'concentric':
        return (np.sqrt(u * u + v * v) % p < p / 2).astype(np.float32)
    if kind == 'grid':
        return (((u + du) % p < 1.3) | ((v + dv) % p < 1.3)).astype(np.float32)
    return (rng.random(u.shape) < 0.25).astype(np.float32)  # speckle


def generate_scene(index: int, size: int = 128, seed: int = 0) -> dict:
    """Draw scene ``index`` (deterministic in ``(index, size, seed)``).

    Args:
        index: scene index (any non-negative int).
        size: side of the square image in pixels.
        seed: dataset seed.

    Returns:
        dict with ``image`` (H, W, 3) uint8, ``semantic`` (H, W) uint8 in the
        ADE20K convention (0 unlabelled, class k of :data:`CLASSES` stored as
        k + 1) and ``instances``: a list of dicts with ``category`` (index into
        :data:`CLASSES`, >= 1), ``mask`` (H, W) bool (visible part) and
        ``bbox`` ``(x, y, w, h)`` of the visible mask, in drawing order.
    """
    rng = np.random.default_rng([seed, index, size])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    img = _background(rng, size, yy, xx)
    owner = np.full((size, size), -1, np.int64)
    cats = []
    for k in range(int(rng.integers(2, 6))):
        cat = int(rng.integers(1, len(CLASSES)))
        extent = rng.uniform(0.12, 0.45) * size
        cx, cy = rng.uniform(0.1, 0.9, 2) * size
        theta = rng.uniform(0, 2 * np.pi)
        c, s = np.cos(theta), np.sin(theta)
        u = (xx - cx) * c + (yy - cy) * s
        v = -(xx - cx) * s + (yy - cy) * c
        mask = _shape_mask(cat, u, v, extent, rng)
        hue0, dhue, kind = STYLES[cat]
        hue = hue0 + rng.uniform(-dhue, dhue)
        sat, val = rng.uniform(0.6, 0.95), rng.uniform(0.6, 0.95)
        light, dark = _rgb(hue, sat, val), _rgb(hue + rng.uniform(-10, 10), sat, val * rng.uniform(0.35, 0.6))
        if rng.random() < 0.5:
            light, dark = dark, light
        t = _texture(kind, u, v, rng)[..., None]
        shade = 1 + 0.12 * (u * np.cos(theta) + v * np.sin(theta)) / max(extent, 1.0)  # soft lighting
        obj = (dark * (1 - t) + light * t) * shade[..., None]
        img = np.where(mask[..., None], obj, img)
        owner[mask] = k
        cats.append(cat)
    img = img * 255 + rng.normal(0, 3.0, img.shape)
    image = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    semantic = np.ones((size, size), np.uint8)  # background = CLASSES[0] -> 1
    instances = []
    for k, cat in enumerate(cats):
        mask = owner == k
        if not mask.any():
            continue
        if mask.sum() < MIN_AREA:
            semantic[mask] = 0  # too small to annotate: unlabelled rather than a wrong label
            continue
        semantic[mask] = cat + 1
        ys, xs = np.nonzero(mask)
        bbox = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
        instances.append(dict(category=cat, mask=mask, bbox=bbox))
    return dict(image=image, semantic=semantic, instances=instances)


def _jpeg_bytes(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format='JPEG', quality=95)
    return buf.getvalue()


def _split_files(root: str, split: str, n: int) -> list[str]:
    """Every file that split ``split`` ('train' or 'val') of ``n`` images consists of."""
    ade = 'training' if split == 'train' else 'validation'
    files = [osp.join(root, 'coco', 'annotations', f'instances_{split}2017.json')]
    for i in range(n):
        files += [osp.join(root, 'ade', 'images', ade, f'{i:06d}.jpg'),
                  osp.join(root, 'ade', 'annotations', ade, f'{i:06d}.png'),
                  osp.join(root, 'coco', f'{split}2017', f'{i:012d}.jpg')]
    return files


def _write_split(root: str, split: str, n: int, size: int, seed: int) -> dict:
    """Write one split in both layouts; returns its counts."""
    ade = 'training' if split == 'train' else 'validation'
    dirs = [osp.join(root, 'ade', 'images', ade), osp.join(root, 'ade', 'annotations', ade),
            osp.join(root, 'coco', f'{split}2017'), osp.join(root, 'coco', 'annotations')]
    for d in dirs:
        os.makedirs(d, exist_ok=True)
    images, annotations = [], []
    for i in range(n):
        scene = generate_scene(i + (VAL_OFFSET if split == 'val' else 0), size, seed)
        jpeg = _jpeg_bytes(scene['image'])
        for path in (osp.join(dirs[0], f'{i:06d}.jpg'), osp.join(dirs[2], f'{i:012d}.jpg')):
            with open(path, 'wb') as f:
                f.write(jpeg)
        Image.fromarray(scene['semantic']).save(osp.join(dirs[1], f'{i:06d}.png'))
        images.append(dict(id=i + 1, file_name=f'{i:012d}.jpg', height=size, width=size))
        for inst in scene['instances']:
            rle = mask_util.encode(np.asfortranarray(inst['mask'].astype(np.uint8)))
            annotations.append(dict(id=len(annotations) + 1, image_id=i + 1, category_id=inst['category'],
                                    bbox=[float(x) for x in inst['bbox']], area=int(inst['mask'].sum()),
                                    iscrowd=0, segmentation=dict(size=[size, size],
                                                                 counts=rle['counts'].decode('ascii'))))
    categories = [dict(id=k, name=name, supercategory='shape') for k, name in enumerate(CLASSES) if k]
    with open(osp.join(dirs[3], f'instances_{split}2017.json'), 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)
    return dict(images=n, instances=len(annotations))


def _write_manifest(root: str, manifest: dict) -> None:
    tmp = osp.join(root, 'manifest.json.tmp')
    with open(tmp, 'w') as f:
        json.dump(manifest, f, indent=2)
    os.replace(tmp, osp.join(root, 'manifest.json'))


def write_dataset(root: str, num_train: int = 200, num_val: int = 50, size: int = 128, seed: int = 0) -> dict:
    """Write the synthetic scenes under ``root`` in the ADE20K and COCO layouts (cached).

    ``root/ade/{images,annotations}/{training,validation}/{i:06d}.{jpg,png}``,
    ``root/coco/{train,val}2017/{i:012d}.jpg`` and
    ``root/coco/annotations/instances_{train,val}2017.json``, plus
    ``root/manifest.json``. If the manifest has the same parameters and every
    file is present nothing is written. A previous synthetic dataset with other
    parameters is replaced; any other non-empty ``root`` is refused.

    Args:
        root: output folder.
        num_train: training images.
        num_val: validation images.
        size: image side in pixels.
        seed: dataset seed.

    Returns:
        The manifest dict (``params``, ``classes``, per-split counts, ``complete``).

    Raises:
        FileExistsError: ``root`` exists and holds something other than a synthetic dataset.
    """
    params = dict(num_train=int(num_train), num_val=int(num_val), size=int(size), seed=int(seed),
                  format_version=FORMAT_VERSION)
    man_path = osp.join(root, 'manifest.json')
    if osp.exists(root) and not osp.isdir(root):
        raise FileExistsError(f'{root!r} exists and is not a folder; refusing to write the synthetic scenes there')
    if osp.isfile(man_path):
        with open(man_path) as f:
            old = json.load(f)
        files = _split_files(root, 'train', num_train) + _split_files(root, 'val', num_val)
        if old.get('complete') and old.get('params') == params and all(map(osp.isfile, files)):
            return old
        foreign = sorted(set(os.listdir(root)) - {'manifest.json', 'manifest.json.tmp', 'ade', 'coco'})
        if foreign:
            raise FileExistsError(f'{root!r} holds a synthetic dataset but also {foreign}; refusing to '
                                  'regenerate into it (choose another --out or remove them)')
        for sub in ('ade', 'coco'):
            shutil.rmtree(osp.join(root, sub), ignore_errors=True)
    elif osp.isdir(root) and os.listdir(root):
        raise FileExistsError(f'{root!r} exists, is not empty and has no manifest.json of a synthetic dataset; '
                              'refusing to overwrite it (choose another --out or an empty folder)')
    os.makedirs(root, exist_ok=True)
    manifest = dict(format='mmrats-synthetic-scenes', params=params, classes=list(CLASSES), complete=False,
                    splits={})
    _write_manifest(root, manifest)  # marks the folder as ours even if interrupted
    manifest['splits'] = {split: _write_split(root, split, n, size, seed)
                          for split, n in (('train', num_train), ('val', num_val))}
    manifest['complete'] = True
    _write_manifest(root, manifest)
    return manifest
