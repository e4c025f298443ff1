"""Pictures of part segmentation: overlays, per-head compress attention (Appendix D), sweep plots.

Each picture is checked for its size (the figure's inches at matplotlib's dpi) and for what it shows:
the image's own colour in its plain panel, the region colours of the segmentation, the plotted lines."""
import matplotlib
import numpy as np
import pytest

from mmrats.visualization import draw_head_attention, draw_part_segmentation, plot_sweep

MAGENTA = (255, 0, 255)  # the test image: one colour no colormap of the pictures uses
TAB20 = [(31, 119, 180), (174, 199, 232)]  # region ids 0 and 1 (tab20 on 0..19)
LINES = [(31, 119, 180), (255, 127, 14)]  # matplotlib's first two line colours


def _image(solid=False):
    if solid:
        return np.broadcast_to(np.array(MAGENTA, np.uint8), (64, 64, 3)).copy()
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)


def _size(width_in, height_in):
    dpi = matplotlib.rcParams['figure.dpi']
    return round(height_in * dpi), round(width_in * dpi), 3


def _count(picture, rgb):
    return int((picture == np.array(rgb, np.uint8)).all(-1).sum())


def test_part_segmentation_picture_has_image_gt_segmentation_and_maps():
    rng = np.random.default_rng(0)
    seg = np.zeros((64, 64), int)
    seg[:, 32:] = 1
    gt = np.where(np.arange(64)[None] < 20, 4, 9).repeat(64, 0)
    gt[:5] = -1
    maps = rng.random((3, 4, 4))
    full = draw_part_segmentation(_image(solid=True), seg, maps, np.array([5, 0, 2]), gt, title='t')
    assert full.shape == _size(2 * 4, 2.1 * 2) and full.dtype == np.uint8  # 4 columns; summary row + 1 map row
    # the plain image panel shows the image (at least 120 x 120 pixels of its colour) ...
    assert _count(full, MAGENTA) > 120 * 120
    # ... and the 'regions' panel the two regions of the segmentation, half and half
    left, right = _count(full, TAB20[0]), _count(full, TAB20[1])
    assert left > 50 * 100 and right > 50 * 100 and abs(left - right) < 0.1 * left
    many = draw_part_segmentation(_image(), seg, rng.random((20, 4, 4)), np.arange(20), gt, max_maps=16)
    assert many.shape == _size(2 * 8, 2.1 * 3)  # 16 maps: 2 rows of 8 below the summary row
    assert many.std() > 10


def test_head_attention_picture():
    comp = np.random.default_rng(0).random((4, 3, 4, 4))
    two = draw_head_attention(_image(solid=True), comp, heads=(0, 3), per_head=2)
    three = draw_head_attention(_image(), comp, heads=(0, 1, 3), per_head=2)
    assert two.shape == _size(2 * 3, 2.1 * 2) and three.shape == _size(2 * 3, 2.1 * 3)  # one row per head
    assert _count(two, MAGENTA) > 2 * 120 * 120  # the image in the first panel of each row
    assert three.std() > 10
    with pytest.raises(ValueError, match=r'heads \[4\] out of range for 4 heads'):
        draw_head_attention(_image(), comp, heads=(0, 4))


def test_sweep_plot():
    png = plot_sweep([224, 512], {'ADE20K': {'m2o': [20.0, 25.0], 'ari': [10.0, 12.0]},
                                  'PartImageNet': {'m2o': [30.0, 28.0], 'ari': [15.0, 11.0]}}, 'resolution')
    assert png.shape == _size(4.2 * 2, 3.4)  # one panel per metric
    for colour in LINES:  # one line per dataset, in each panel
        assert _count(png, colour) > 100
