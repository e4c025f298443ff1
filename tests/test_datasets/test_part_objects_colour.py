"""The colour control of issue #26: ``PartObjectsConfig(colour='uninformative')``.

Part identity is then carried by texture kind, texture scale and shape only: every part type draws its hue,
saturation and brightness from the same ranges. The images keep the default's geometry, parts and clutter, and
the default stays bit for bit what it was before the control existed.
"""
import hashlib
import json

import numpy as np
import pytest
from matplotlib.colors import rgb_to_hsv

from mmrats.datasets.part_objects import PartObjectsConfig, generate_part_objects
from mmrats.datasets.part_objects_catalogue import PART_NAMES, UNINFORMATIVE_COLOUR
from mmrats.datasets.part_objects_dataset import PartObjectsDataset
from mmrats.datasets.part_objects_writer import write_part_objects

UNINFORMATIVE = PartObjectsConfig(colour='uninformative')
# sha256 of the default images (image, parts, objects, boxes) below, computed before the colour control was added
DEFAULT_SHA256 = 'cc5a924622bdfab7332574f8a0ef5c25e57aad5b0e78b390bc8336bf02044155'
# part types whose default hue range is narrow (the others, vehicle body and wheel, span the circle already)
NARROW_HUE = ('quadruped head', 'quadruped torso', 'vehicle window', 'bird head', 'bird body', 'bird wing')


def _digest(cfg: PartObjectsConfig | None = None) -> str:
    h = hashlib.sha256()
    for split in ('train', 'val', 'test'):
        for seed in (0, 3):
            for i in (0, 1, 5, 17, 40):
                s = generate_part_objects(i, seed, split, cfg)
                for a in (s.image, s.parts, s.objects, s.boxes):
                    h.update(a.tobytes())
    return h.hexdigest()


def test_the_default_images_are_bit_identical_to_before_the_control():
    assert _digest() == DEFAULT_SHA256
    assert _digest(PartObjectsConfig(colour='informative')) == DEFAULT_SHA256
    assert _digest(UNINFORMATIVE) != DEFAULT_SHA256


@pytest.mark.parametrize('index, seed, split', [(0, 0, 'train'), (4, 0, 'test'), (13, 2, 'val'), (22, 5, 'train')])
def test_same_geometry_parts_and_clutter_other_part_colours(index, seed, split):
    a = generate_part_objects(index, seed, split)
    b = generate_part_objects(index, seed, split, UNINFORMATIVE)
    for key in ('parts', 'objects', 'boxes'):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert a.categories == b.categories and a.category == b.category
    changed = (a.image != b.image).any(-1)
    assert not changed[a.parts == 0].any()  # background, clutter and occluders: the default's pixels
    assert changed[a.parts > 0].mean() > 0.5  # the parts: other colours


def _part_colours(cfg: PartObjectsConfig | None, num: int = 270) -> dict[str, np.ndarray]:
    """Per part type, one row per image it appears in: (mean hue angle as a unit vector x, y; mean saturation;
    mean brightness) of its pixels."""
    rows: dict[str, list] = {name: [] for name in PART_NAMES}
    for i in range(num):
        s = generate_part_objects(i, 0, 'train', cfg)
        hsv = rgb_to_hsv(s.image / 255.0)
        for t, name in enumerate(PART_NAMES, 1):
            px = hsv[s.parts == t]
            if len(px) >= 10:
                angle = 2 * np.pi * px[:, 0]
                w = px[:, 1] + 1e-6  # a grey pixel has no hue
                v = np.array([(w * np.cos(angle)).sum(), (w * np.sin(angle)).sum()])
                rows[name].append([*(v / np.linalg.norm(v)), px[:, 1].mean(), px[:, 2].mean()])
    return {k: np.array(v) for k, v in rows.items() if len(v) >= 8}


def _hue_concentration(rows: np.ndarray) -> float:
    """Mean resultant length of the instances' hues: 1 all alike, about 0 spread round the circle."""
    return float(np.linalg.norm(rows[:, :2].mean(0)))


def test_colour_says_nothing_about_the_part_type():
    default, control = _part_colours(None), _part_colours(UNINFORMATIVE)
    assert set(default) == set(control) == set(PART_NAMES)
    for name in NARROW_HUE:  # the default: each part type's hue is concentrated ...
        assert _hue_concentration(default[name]) > 0.8, name
    for name, rows in control.items():  # ... the control: every part type's hue spreads round the circle
        assert _hue_concentration(rows) < 0.3, (name, _hue_concentration(rows))
    for col, what in ((2, 'saturation'), (3, 'brightness')):  # and saturation and brightness no longer differ
        d = [rows[:, col].mean() for rows in default.values()]
        c = [rows[:, col].mean() for rows in control.values()]
        assert max(d) - min(d) > 0.3, what
        assert max(c) - min(c) < 0.15, (what, max(c) - min(c))


def test_the_control_draws_from_the_catalogues_whole_range():
    assert UNINFORMATIVE_COLOUR == dict(hue=(0.0, 360.0), sat=(0.0, 0.9), val=(0.1, 0.95))


def test_dataset_and_writer_take_the_control(tmp_path):
    ds = PartObjectsDataset(2, 'test', img_size=96, gen_cfg=dict(colour='uninformative'))
    np.testing.assert_array_equal(ds.get_data_info(1)['img'], generate_part_objects(1, 0, 'test', UNINFORMATIVE)
                                  .image[..., ::-1])
    with pytest.raises(ValueError, match="colour must be one of"):
        PartObjectsConfig(colour='grey').check()
    # the manifest names the control; the default's is as before it existed (folders written then still match)
    write_part_objects(tmp_path / 'u', dict(test=1), cfg=PartObjectsConfig(img_size=32, colour='uninformative'),
                       ade=False)
    write_part_objects(tmp_path / 'd', dict(test=1), cfg=PartObjectsConfig(img_size=32), ade=False)
    assert json.loads((tmp_path / 'u' / 'manifest.json').read_text())['params']['config']['colour'] == 'uninformative'
    assert 'colour' not in json.loads((tmp_path / 'd' / 'manifest.json').read_text())['params']['config']
