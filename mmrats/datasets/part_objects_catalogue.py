"""The catalogue of the part-structured objects: super-categories, categories, part types, appearance families.

A lab-scale stand-in for PartImageNet (He et al. 2022; the paper's §4.1 / Table 1
part benchmark): categories are grouped into super-categories whose members
share part types (a dog, a horse and a giraffe all have a head, a torso, legs
and a tail), part types are distinct per super-category as in PartImageNet
("Quadruped Head" is not "Bird Head"), and every part type has its own
appearance family (texture kind, colour range, texture scale) that varies
between instances. Categories differ by their geometry (which primitives, where,
how large), not by their colours.

Geometry is written in an object frame ``[-1, 1]^2`` (x to the right, y down,
the object facing right). A primitive is ``(part type, shape, cx, cy, sx, sy,
angle in degrees)``: the shape's own frame ``[-1, 1]^2`` scaled by the half
sizes ``(sx, sy)``, rotated and centred at ``(cx, cy)``. Several primitives may
share a part type (a giraffe's torso includes its neck). The drawing order is
the list order (later primitives cover earlier ones).
"""
from __future__ import annotations

from dataclasses import dataclass

SHAPES = ('ellipse', 'rect', 'roundrect', 'triangle', 'trapezoid')
TEXTURES = ('spots', 'stripes', 'checker', 'rings', 'gradient', 'scales', 'chevrons', 'mottled')


@dataclass(frozen=True)
class PartType:
    """One part type and its appearance family.

    Attributes:
        name: ``'<super-category> <part>'`` (PartImageNet style).
        texture: one of :data:`TEXTURES`.
        hue: hue range in degrees (may wrap past 360).
        sat: saturation range.
        val: value (brightness) range of the base colour.
        freq: texture frequency range, cycles per 8 pixels.
        contrast: range of the value difference between the two texture colours.
    """

    name: str
    texture: str
    hue: tuple[float, float]
    sat: tuple[float, float]
    val: tuple[float, float]
    freq: tuple[float, float]
    contrast: tuple[float, float]


# Part ids are 1-based (0 is the background); the order is the label order.
PART_TYPES: tuple[PartType, ...] = (
    PartType('quadruped head', 'spots', (15, 45), (0.45, 0.8), (0.45, 0.8), (0.7, 1.1), (0.25, 0.45)),
    PartType('quadruped torso', 'stripes', (20, 55), (0.35, 0.75), (0.5, 0.85), (0.45, 0.8), (0.2, 0.4)),
    PartType('quadruped leg', 'gradient', (0, 40), (0.3, 0.7), (0.25, 0.55), (0.3, 0.5), (0.2, 0.35)),
    PartType('quadruped tail', 'rings', (330, 390), (0.3, 0.7), (0.2, 0.5), (0.9, 1.4), (0.2, 0.4)),
    PartType('vehicle body', 'mottled', (0, 360), (0.5, 0.9), (0.45, 0.9), (0.25, 0.4), (0.1, 0.2)),
    PartType('vehicle window', 'chevrons', (185, 225), (0.1, 0.4), (0.7, 0.95), (0.35, 0.6), (0.15, 0.3)),
    PartType('vehicle wheel', 'rings', (0, 360), (0.0, 0.15), (0.1, 0.3), (0.6, 1.0), (0.25, 0.45)),
    PartType('bird head', 'spots', (180, 260), (0.4, 0.8), (0.4, 0.8), (1.0, 1.5), (0.25, 0.45)),
    PartType('bird body', 'scales', (60, 130), (0.35, 0.75), (0.45, 0.85), (0.7, 1.1), (0.2, 0.4)),
    PartType('bird wing', 'checker', (70, 150), (0.3, 0.7), (0.3, 0.65), (0.5, 0.9), (0.25, 0.45)),
    PartType('bird tail', 'stripes', (200, 290), (0.3, 0.7), (0.3, 0.7), (1.0, 1.5), (0.25, 0.45)),
)
PART_NAMES: tuple[str, ...] = tuple(p.name for p in PART_TYPES)
# The colour control of issue #26 (PartObjectsConfig(colour='uninformative')): every part type draws its hue,
# saturation and brightness from these ranges, the union of the part types' own, so colour says nothing about
# the part type and only texture kind, texture scale and shape do.
UNINFORMATIVE_COLOUR = dict(hue=(0.0, 360.0),
                            sat=(min(p.sat[0] for p in PART_TYPES), max(p.sat[1] for p in PART_TYPES)),
                            val=(min(p.val[0] for p in PART_TYPES), max(p.val[1] for p in PART_TYPES)))
PART_ID = {name: i + 1 for i, name in enumerate(PART_NAMES)}
BACKGROUND = 0


@dataclass(frozen=True)
class Category:
    """An object category: its super-category and its primitives (see the module docstring).

    Attributes:
        name: category name.
        supercategory: the super-category, whose part types it uses.
        primitives: ``(part type, shape, cx, cy, sx, sy, angle)`` in the object frame.
        aspect: range of the object's width / height stretch.
    """

    name: str
    supercategory: str
    primitives: tuple[tuple[str, str, float, float, float, float, float], ...]
    aspect: tuple[float, float] = (0.85, 1.15)


def _q(part: str) -> str:
    return f'quadruped {part}'


def _v(part: str) -> str:
    return f'vehicle {part}'


def _b(part: str) -> str:
    return f'bird {part}'


CATEGORIES: tuple[Category, ...] = (
    Category('dog', 'quadruped', (
        (_q('tail'), 'triangle', -0.68, -0.22, 0.22, 0.06, 200),
        (_q('leg'), 'rect', -0.42, 0.38, 0.07, 0.26, 6), (_q('leg'), 'rect', 0.32, 0.38, 0.07, 0.26, -6),
        (_q('torso'), 'ellipse', -0.05, 0.0, 0.58, 0.26, 0),
        (_q('leg'), 'rect', -0.26, 0.40, 0.07, 0.26, -4), (_q('leg'), 'rect', 0.16, 0.40, 0.07, 0.26, 4),
        (_q('head'), 'ellipse', 0.62, -0.30, 0.24, 0.18, -15))),
    Category('horse', 'quadruped', (
        (_q('tail'), 'triangle', -0.72, 0.05, 0.30, 0.08, 240),
        (_q('leg'), 'rect', -0.46, 0.45, 0.06, 0.40, 3), (_q('leg'), 'rect', 0.40, 0.45, 0.06, 0.40, -3),
        (_q('torso'), 'ellipse', -0.05, -0.08, 0.62, 0.24, 0),
        (_q('torso'), 'rect', 0.55, -0.35, 0.10, 0.26, 35),
        (_q('leg'), 'rect', -0.30, 0.47, 0.06, 0.40, -3), (_q('leg'), 'rect', 0.24, 0.47, 0.06, 0.40, 3),
        (_q('head'), 'roundrect', 0.78, -0.55, 0.22, 0.11, 30)), aspect=(0.9, 1.2)),
    Category('giraffe', 'quadruped', (
        (_q('tail'), 'triangle', -0.55, 0.05, 0.25, 0.05, 250),
        (_q('leg'), 'rect', -0.36, 0.55, 0.05, 0.42, 2), (_q('leg'), 'rect', 0.26, 0.55, 0.05, 0.42, -2),
        (_q('torso'), 'ellipse', -0.05, 0.0, 0.45, 0.22, -8),
        (_q('torso'), 'rect', 0.38, -0.48, 0.08, 0.42, 25),
        (_q('leg'), 'rect', -0.22, 0.57, 0.05, 0.42, -2), (_q('leg'), 'rect', 0.14, 0.57, 0.05, 0.42, 2),
        (_q('head'), 'ellipse', 0.62, -0.86, 0.18, 0.11, 10)), aspect=(0.7, 0.95)),
    Category('car', 'vehicle', (
        (_v('body'), 'trapezoid', 0.0, -0.22, 0.48, 0.20, 0),
        (_v('body'), 'roundrect', 0.0, 0.08, 0.92, 0.20, 0),
        (_v('window'), 'rect', -0.19, -0.22, 0.17, 0.12, 0), (_v('window'), 'rect', 0.19, -0.22, 0.17, 0.12, 0),
        (_v('wheel'), 'ellipse', -0.55, 0.30, 0.18, 0.18, 0), (_v('wheel'), 'ellipse', 0.55, 0.30, 0.18, 0.18, 0)),
        aspect=(1.0, 1.3)),
    Category('bus', 'vehicle', (
        (_v('body'), 'roundrect', 0.0, -0.05, 0.95, 0.40, 0),
        *((_v('window'), 'rect', x, -0.18, 0.12, 0.13, 0) for x in (-0.66, -0.33, 0.0, 0.33)),
        (_v('window'), 'rect', 0.78, -0.12, 0.10, 0.22, 0),
        (_v('wheel'), 'ellipse', -0.60, 0.38, 0.15, 0.15, 0), (_v('wheel'), 'ellipse', 0.60, 0.38, 0.15, 0.15, 0)),
        aspect=(1.1, 1.4)),
    Category('truck', 'vehicle', (
        (_v('body'), 'rect', -0.30, -0.12, 0.60, 0.36, 0),
        (_v('body'), 'roundrect', 0.62, 0.02, 0.28, 0.28, 0),
        (_v('window'), 'trapezoid', 0.66, -0.10, 0.18, 0.11, 0),
        (_v('wheel'), 'ellipse', -0.65, 0.36, 0.15, 0.15, 0), (_v('wheel'), 'ellipse', -0.28, 0.36, 0.15, 0.15, 0),
        (_v('wheel'), 'ellipse', 0.62, 0.36, 0.15, 0.15, 0))),
    Category('songbird', 'bird', (
        (_b('tail'), 'triangle', -0.62, 0.12, 0.28, 0.14, 200),
        (_b('body'), 'ellipse', -0.05, 0.10, 0.45, 0.36, 0),
        (_b('wing'), 'ellipse', -0.12, 0.06, 0.32, 0.17, 15),
        (_b('head'), 'ellipse', 0.45, -0.32, 0.24, 0.24, 0))),
    Category('duck', 'bird', (
        (_b('tail'), 'triangle', -0.70, -0.05, 0.18, 0.12, 215),
        (_b('body'), 'ellipse', 0.0, 0.18, 0.66, 0.26, 0),
        (_b('wing'), 'roundrect', -0.12, 0.08, 0.34, 0.12, -8),
        (_b('head'), 'ellipse', 0.58, -0.40, 0.20, 0.18, 0),
        (_b('head'), 'trapezoid', 0.82, -0.36, 0.12, 0.05, 90)), aspect=(1.0, 1.3)),
    Category('swallow', 'bird', (
        (_b('tail'), 'triangle', -0.70, 0.10, 0.34, 0.07, 195), (_b('tail'), 'triangle', -0.70, 0.24, 0.34, 0.07, 165),
        (_b('body'), 'ellipse', -0.05, 0.10, 0.45, 0.16, -8),
        (_b('wing'), 'triangle', 0.05, -0.35, 0.42, 0.13, 250),
        (_b('head'), 'ellipse', 0.46, -0.02, 0.15, 0.14, 0)), aspect=(1.0, 1.25)),
)
CATEGORY_NAMES: tuple[str, ...] = tuple(c.name for c in CATEGORIES)
SUPERCATEGORIES: tuple[str, ...] = tuple(dict.fromkeys(c.supercategory for c in CATEGORIES))


def check_catalogue() -> None:
    """Raise ValueError if a primitive names an unknown part type or shape, or uses another super-category's part."""
    for c in CATEGORIES:
        for prim in c.primitives:
            part, shape = prim[0], prim[1]
            if part not in PART_ID:
                raise ValueError(f'category {c.name!r}: unknown part type {part!r}')
            if not part.startswith(c.supercategory + ' '):
                raise ValueError(f'category {c.name!r} ({c.supercategory}) uses part {part!r} of another group')
            if shape not in SHAPES:
                raise ValueError(f'category {c.name!r}: unknown shape {shape!r}; choose one of {SHAPES}')
    for p in PART_TYPES:
        if p.texture not in TEXTURES:
            raise ValueError(f'part type {p.name!r}: unknown texture {p.texture!r}; choose one of {TEXTURES}')
