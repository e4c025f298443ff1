"""Pictures of part segmentation: overlays, per-head compress attention (Appendix D), sweep plots."""
import numpy as np
import pytest

from mmrats.visualization import draw_head_attention, draw_part_segmentation, plot_sweep


def _image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)


def test_part_segmentation_picture_has_image_gt_segmentation_and_maps():
    rng = np.random.default_rng(0)
    seg = np.zeros((64, 64), int)
    seg[:, 32:] = 1
    gt = np.where(np.arange(64)[None] < 20, 4, 9).repeat(64, 0)
    gt[:5] = -1
    maps = rng.random((3, 4, 4))
    small = draw_part_segmentation(_image(), seg, maps[:1], np.array([5]), gt)
    full = draw_part_segmentation(_image(), seg, maps, np.array([5, 0, 2]), gt, title='t')
    assert full.ndim == 3 and full.dtype == np.uint8 and full.std() > 10
    assert small.shape[0] == full.shape[0]  # one row of maps below the summary row either way
    many = draw_part_segmentation(_image(), seg, rng.random((20, 4, 4)), np.arange(20), gt, max_maps=16)
    assert many.shape[0] > full.shape[0] and many.shape[1] > full.shape[1]  # 16 maps: 2 rows of 8


def test_head_attention_picture():
    comp = np.random.default_rng(0).random((4, 3, 4, 4))
    two = draw_head_attention(_image(), comp, heads=(0, 3), per_head=2)
    three = draw_head_attention(_image(), comp, heads=(0, 1, 3), per_head=2)
    assert three.shape[0] > two.shape[0] and two.std() > 10  # one row per head
    with pytest.raises(ValueError, match=r'heads \[4\] out of range for 4 heads'):
        draw_head_attention(_image(), comp, heads=(0, 4))


def test_sweep_plot():
    png = plot_sweep([224, 512], {'ADE20K': {'m2o': [20.0, 25.0], 'ari': [10.0, 12.0]}}, 'resolution')
    assert png.ndim == 3 and png.shape[1] > png.shape[0] and png.std() > 5
