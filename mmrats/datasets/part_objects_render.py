"""Vectorised numpy drawing for the part-structured objects: shapes, textures, cluttered backgrounds.

Everything works on full coordinate grids: a primitive is an affine map from
pixel coordinates to its own frame ``(u, v) in [-1, 1]^2`` (3 x 3 homogeneous
matrices), a shape is an inequality in that frame, and a texture is a function
of the frame scaled to pixels, so a texture moves, turns and flips with its
part. No Python loop runs over pixels.
"""
from __future__ import annotations

import colorsys

import numpy as np

from .part_objects_catalogue import UNINFORMATIVE_COLOUR, PartType

COLOURS = ('informative', 'uninformative')


def affine(cx: float, cy: float, sx: float, sy: float, angle_deg: float, flip: bool = False) -> np.ndarray:
    """3 x 3 matrix mapping a frame ``[-1, 1]^2`` into its parent: scale (and flip x), rotate, translate."""
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    scale = np.diag([-sx if flip else sx, sy, 1.0])
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    move = np.array([[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]])
    return move @ rot @ scale


def frame_coords(to_pixels: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame coordinates ``(u, v)`` of every pixel centre, given the frame -> pixel matrix."""
    inv = np.linalg.inv(to_pixels)
    u = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]
    v = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]
    return u.astype(np.float32), v.astype(np.float32)


def shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside test of a shape in its frame ``[-1, 1]^2``.

    ``triangle`` points to +u (apex at ``(1, 0)``); ``trapezoid`` is wider at
    the bottom (+v); ``roundrect`` is a superellipse of exponent 6.
    """
    if shape == 'ellipse':
        return u * u + v * v <= 1.0
    if shape == 'rect':
        return (np.abs(u) <= 1.0) & (np.abs(v) <= 1.0)
    if shape == 'roundrect':
        return u ** 6 + v ** 6 <= 1.0
    if shape == 'triangle':
        return (u >= -1.0) & (np.abs(v) <= (1.0 - u) / 2.0)
    if shape == 'trapezoid':
        return (np.abs(v) <= 1.0) & (np.abs(u) <= 0.65 + 0.35 * (v + 1.0) / 2.0)
    raise ValueError(f'unknown shape {shape!r}')


def hsv(hue_deg: float, sat: float, val: float) -> np.ndarray:
    """One HSV colour (hue in degrees, wrapped) as float32 RGB in [0, 1]."""
    return np.array(colorsys.hsv_to_rgb((hue_deg % 360.0) / 360.0, sat, val), np.float32)


def value_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Smooth value noise in [0, 1], ``(h, w)``: a random ``(cells + 1)^2`` grid, smoothstep-interpolated."""
    grid = rng.random((cells + 1, cells + 1)).astype(np.float32)

    def axis(n: int) -> tuple[np.ndarray, np.ndarray]:
        t = np.linspace(0, cells, n, endpoint=False, dtype=np.float32)
        i = np.minimum(t.astype(np.int64), cells - 1)
        f = t - i
        return i, f * f * (3 - 2 * f)

    (iy, fy), (ix, fx) = axis(h), axis(w)
    rows = grid[iy] * (1 - fy)[:, None] + grid[iy + 1] * fy[:, None]
    return rows[:, ix] * (1 - fx)[None] + rows[:, ix + 1] * fx[None]


def texture_pattern(kind: str, s: np.ndarray, t: np.ndarray, freq: float, phase: float) -> np.ndarray:
    """A pattern in [0, 1] of texture coordinates ``(s, t)`` in units of 8 pixels (part-aligned)."""
    f = 2 * np.pi * freq
    if kind == 'stripes':
        return (np.sin(f * t + phase) > 0).astype(np.float32)
    if kind == 'spots':
        cu, cv = (s * freq + phase) % 1.0 - 0.5, (t * freq + phase) % 1.0 - 0.5
        return (cu * cu + cv * cv < 0.09).astype(np.float32)
    if kind == 'checker':
        return ((np.floor(s * freq + phase) + np.floor(t * freq)) % 2).astype(np.float32)
    if kind == 'rings':
        return (np.sin(f * np.sqrt(s * s + t * t) + phase) > 0).astype(np.float32)
    if kind == 'gradient':
        return np.clip(0.5 + 0.5 * np.sin(0.5 * f * t + phase), 0, 1).astype(np.float32)
    if kind == 'scales':
        row = np.floor(t * freq)
        cu = (s * freq + 0.5 * (row % 2) + phase) % 1.0 - 0.5
        cv = (t * freq) % 1.0
        return (cu * cu + cv * cv < 0.3).astype(np.float32)
    if kind == 'chevrons':
        return (np.sin(f * (s + 0.8 * np.abs(t)) + phase) > 0.3).astype(np.float32)
    if kind == 'mottled':
        return (0.5 + 0.25 * np.sin(f * s + phase) + 0.25 * np.sin(0.7 * f * t + 2 * phase)).astype(np.float32)
    raise ValueError(f'unknown texture {kind!r}')


def sample_appearance(rng: np.random.Generator, part: PartType, colour: str = 'informative') -> dict:
    """One instance's appearance drawn from a part type's family.

    With ``colour='uninformative'`` (issue #26) the base hue, saturation and brightness come from
    :data:`UNINFORMATIVE_COLOUR`, the same ranges for every part type; the draws are the same in number and
    order, so everything else drawn after them (texture, geometry, clutter) is the default's.
    """
    ranges = UNINFORMATIVE_COLOUR if colour == 'uninformative' else dict(hue=part.hue, sat=part.sat, val=part.val)
    hue = rng.uniform(*ranges['hue'])
    sat, val = rng.uniform(*ranges['sat']), rng.uniform(*ranges['val'])
    dv = rng.uniform(*part.contrast) * rng.choice([-1.0, 1.0])
    c1 = hsv(hue, sat, val)
    c2 = hsv(hue + rng.uniform(-12, 12), np.clip(sat + rng.uniform(-0.15, 0.15), 0, 1), np.clip(val + dv, 0.03, 1))
    return dict(kind=part.texture, c1=c1, c2=c2, freq=rng.uniform(*part.freq), phase=rng.uniform(0, 2 * np.pi))


def paint_texture(app: dict, u: np.ndarray, v: np.ndarray, half_w: float, half_h: float) -> np.ndarray:
    """RGB ``(..., 3)`` of an appearance on a part whose frame is ``(u, v)`` and half size ``(half_w, half_h)`` px."""
    s, t = u * (half_w / 8.0), v * (half_h / 8.0)
    m = texture_pattern(app['kind'], s, t, app['freq'], app['phase'])[..., None]
    shade = 1.0 - 0.18 * np.clip(u * u + v * v, 0, 1)[..., None]  # a little volume
    return (app['c1'] * (1 - m) + app['c2'] * m) * shade


def background(rng: np.random.Generator, h: int, w: int, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """A cluttered background: two colours blended by value noise, a non-part texture, distractor blobs.

    The clutter uses textures that no part type has (grain, wood, scribbles,
    noise blobs) in colours from the whole hue circle, so colour alone does
    not tell an object from the background.
    """
    c0 = hsv(rng.uniform(0, 360), rng.uniform(0.05, 0.6), rng.uniform(0.25, 0.9))
    c1 = hsv(rng.uniform(0, 360), rng.uniform(0.05, 0.6), rng.uniform(0.25, 0.9))
    m = value_noise(rng, h, w, int(rng.integers(2, 5)))[..., None]
    img = c0 * (1 - m) + c1 * m
    img = img * (1 + 0.15 * (2 * value_noise(rng, h, w, int(rng.integers(10, 20))) - 1))[..., None]
    for _ in range(int(rng.integers(3, 9))):  # distractor blobs: irregular, non-part textures
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.05, 0.22) * min(h, w)
        u, v = frame_coords(affine(cx, cy, r, r * rng.uniform(0.4, 1.0), rng.uniform(0, 180)), xx, yy)
        wobble = 0.35 * np.sin(3 * np.arctan2(v, u) + rng.uniform(0, 6.3))
        inside = (u * u + v * v) <= (1 + wobble) ** 2
        col = hsv(rng.uniform(0, 360), rng.uniform(0.1, 0.8), rng.uniform(0.2, 0.95))
        kind = rng.integers(3)
        if kind == 0:  # wood grain
            tex = 0.5 + 0.5 * np.sin(rng.uniform(2, 5) * u * r / 8 + 2 * np.sin(v * 2))
        elif kind == 1:  # grain
            tex = rng.random((h, w)).astype(np.float32)
        else:  # blotches
            tex = value_noise(rng, h, w, int(rng.integers(6, 12)))
        blob = col * (0.75 + 0.5 * tex[..., None])
        img = np.where(inside[..., None], blob, img)
    for _ in range(int(rng.integers(0, 4))):  # scribbles: thin random lines
        x0, y0, a = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, np.pi)
        dist = np.abs((xx - x0) * np.sin(a) - (yy - y0) * np.cos(a))
        img = np.where((dist < rng.uniform(0.6, 1.5))[..., None], hsv(rng.uniform(0, 360), 0.5, rng.uniform(0.1, 1)),
                       img)
    return img.astype(np.float32)
