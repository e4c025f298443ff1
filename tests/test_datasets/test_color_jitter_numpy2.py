"""DINO's ColorJitter (hue in [-0.1, 0.1]) on numpy 2: mmcv's adjust_hue is replaced by mmrats."""
import numpy as np
import pytest
from PIL import Image

import mmrats  # noqa: F401  (installs the fix)
from mmrats.utils.numpy_compat import adjust_hue


def test_negative_hue_matches_a_wrapped_uint8_shift():
    rng = np.random.default_rng(0)
    bgr = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    out = adjust_hue(bgr, -0.1, backend='pillow')
    h, s, v = Image.fromarray(bgr[..., ::-1].copy()).convert('HSV').split()
    shifted = ((np.asarray(h).astype(int) + (256 - 25)) % 256).astype(np.uint8)  # int(-25.5) = -25
    ref = np.asarray(Image.merge('HSV', (Image.fromarray(shifted), s, v)).convert('RGB'))[..., ::-1]
    assert np.array_equal(out, ref)
    assert adjust_hue(bgr, -0.1, backend='cv2').shape == bgr.shape
    with pytest.raises(ValueError, match='hue_factor'):
        adjust_hue(bgr, 0.7)


def test_mmpretrain_color_jitter_runs_with_negative_hues():
    from mmpretrain.registry import TRANSFORMS
    jitter = TRANSFORMS.build(dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1,
                                   backend='pillow'))
    img = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    for _ in range(40):  # about half of the draws have a negative hue factor
        assert jitter(dict(img=img.copy()))['img'].shape == (16, 16, 3)
