"""DINO's ColorJitter (hue in [-0.1, 0.1]) on numpy 2: mmcv's adjust_hue is replaced by mmrats."""
import colorsys

import numpy as np
import pytest
from PIL import Image

import mmrats  # noqa: F401  (installs the fix)
from mmrats.utils import numpy_compat
from mmrats.utils.numpy_compat import adjust_hue

# pure hues and a grey, BGR as mmcv reads images
COLORS_BGR = np.array([[[0, 0, 255], [0, 255, 0], [255, 0, 0], [0, 255, 255], [255, 255, 0], [255, 0, 255],
                        [128, 128, 128], [40, 90, 200]]], dtype=np.uint8)


def hsv(bgr: np.ndarray) -> np.ndarray:
    """``(P, 3)`` hue (turns), saturation, value of every pixel, by the standard library's colour maths."""
    return np.array([colorsys.rgb_to_hsv(*(px[::-1] / 255.0)) for px in bgr.reshape(-1, 3)])


def assert_hue_shifted(out: np.ndarray, img: np.ndarray, hue_factor: float) -> None:
    """mmcv's semantics, by hand: the hue turns by int(hue_factor * 255) / 255 (to within the two hue steps
    that uint8 HSV rounding costs), saturation and value stay, greys stay grey."""
    before, after = hsv(img), hsv(out)
    colour = before[:, 1] > 0
    expected = before[colour, 0] + int(hue_factor * 255) / 255
    turn = (after[colour, 0] - expected + 0.5) % 1.0 - 0.5
    assert np.abs(turn).max() <= 2 / 255, f'hue off by {turn} turns'
    assert np.abs(after[:, 1:] - before[:, 1:]).max() <= 2 / 255
    assert np.array_equal(out.reshape(-1, 3)[~colour], img.reshape(-1, 3)[~colour])


def test_mmcv_and_mmpretrain_use_the_patched_function():
    import mmcv
    import mmcv.image.photometric as photometric
    assert mmcv.adjust_hue is numpy_compat.adjust_hue
    assert mmcv.image.adjust_hue is photometric.adjust_hue is numpy_compat.adjust_hue


@pytest.mark.parametrize('backend', ['pillow', 'cv2'])
@pytest.mark.parametrize('hue_factor', [-0.1, 1 / 3, -0.45])
def test_hue_shift_matches_a_hand_computed_one(backend, hue_factor):
    assert_hue_shifted(adjust_hue(COLORS_BGR, hue_factor, backend=backend), COLORS_BGR, hue_factor)


def test_negative_hue_matches_a_wrapped_uint8_shift():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    out = adjust_hue(bgr, -0.1, backend='pillow')
    h, s, v = Image.fromarray(bgr[..., ::-1].copy()).convert('HSV').split()
    shifted = ((np.asarray(h).astype(int) + (256 - 25)) % 256).astype(np.uint8)  # int(-25.5) = -25
    ref = np.asarray(Image.merge('HSV', (Image.fromarray(shifted), s, v)).convert('RGB'))[..., ::-1]
    assert np.array_equal(out, ref)
    with pytest.raises(ValueError, match='hue_factor'):
        adjust_hue(bgr, 0.7)


def test_mmpretrain_color_jitter_shifts_the_hue_as_by_hand():
    """The transform of the DINO pipelines, with its random hue factor fixed to a negative one (the case
    numpy 2 broke), gives the hand-computed shift."""
    from mmpretrain.registry import TRANSFORMS
    jitter = TRANSFORMS.build(dict(type='ColorJitter', hue=0.1, backend='pillow'))
    jitter._rand_params = lambda: (np.arange(4), None, None, None, -0.1)
    assert_hue_shifted(jitter(dict(img=COLORS_BGR.copy()))['img'], COLORS_BGR, -0.1)
    # and the random draws (about half of them negative) all run
    jitter = TRANSFORMS.build(dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1,
                                   backend='pillow'))
    img = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    for _ in range(20):
        assert jitter(dict(img=img.copy()))['img'].shape == (16, 16, 3)
