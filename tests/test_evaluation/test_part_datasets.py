"""Readers of the part-discovery benchmarks on tiny fabricated folders, and their errors."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_util

from mmrats.datasets.part_datasets import (ADE20KParts, FolderParts, ImageNetSParts, PartDatasetError,
                                           PartImageNetParts, SyntheticScenesParts, build_part_dataset)
from mmrats.evaluation.part_metrics import IGNORE_INDEX


def write_img(path, h=12, w=16):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(path)


def write_png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_ade20k_ignores_zero_and_finds_the_mmseg_folder(tmp_path):
    root = tmp_path / 'ADEChallengeData2016'
    label = np.array([[0, 3], [150, 3]], np.uint8)
    for stem in ('b', 'a'):
        write_img(root / 'images/validation' / f'{stem}.jpg')
        write_png(root / 'annotations/validation' / f'{stem}.png', label)
    ds = ADE20KParts(str(tmp_path))  # the parent folder works too
    assert len(ds) == 2 and ds[0].image_path.endswith('a.jpg')
    s = ds[1]
    assert s.label.dtype == np.int64
    np.testing.assert_array_equal(s.label, [[IGNORE_INDEX, 3], [150, 3]])
    (root / 'annotations/validation/b.png').unlink()
    with pytest.raises(PartDatasetError, match=r"1 of 2 images have no label map, e.g. '.*b.png'"):
        ADE20KParts(str(root))
    with pytest.raises(PartDatasetError, match=r"folder '.*images/training' does not exist\. Expected: .*"
                                               r"annotations/<split>/\*\.png"):
        ADE20KParts(str(root), split='training')


def test_synthetic_scenes_reader(tmp_path):
    from mmrats.datasets.synthetic_scenes import write_dataset
    write_dataset(str(tmp_path / 'syn'), num_train=1, num_val=2, size=32)
    ds = SyntheticScenesParts(str(tmp_path / 'syn'))
    assert len(ds) == 2
    stored = np.asarray(Image.open(ds.items[0][1]))
    lab = ds[0].label
    assert lab.shape == (32, 32)
    np.testing.assert_array_equal(lab == IGNORE_INDEX, stored == 0)
    np.testing.assert_array_equal(lab[stored > 0], stored[stored > 0])
    assert len(SyntheticScenesParts(str(tmp_path / 'syn' / 'ade'))) == 2  # the ade folder itself works too
    with pytest.raises(PartDatasetError, match='make_synthetic_scenes.py'):
        SyntheticScenesParts(str(tmp_path))


def _partimagenet(root, wnid_subfolder=True):
    h, w = 10, 12
    sub = 'n01440764/' if wnid_subfolder else ''
    write_img(root / 'images/test' / f'{sub}n01440764_1.JPEG', h, w)
    rect = [[2.0, 1.0, 6.0, 1.0, 6.0, 5.0, 2.0, 5.0]]  # polygon x, y: columns 2..6, rows 1..5
    m = np.zeros((h, w), np.uint8)
    m[7:9, 8:11] = 1
    rle = mask_util.encode(np.asfortranarray(m))
    rle['counts'] = rle['counts'].decode('ascii')
    coco = dict(images=[dict(id=3, file_name='n01440764_1.JPEG', height=h, width=w)],
                annotations=[dict(id=1, image_id=3, category_id=5, segmentation=rect),
                             dict(id=2, image_id=3, category_id=0, segmentation=rle)],
                categories=[dict(id=i, name=f'part{i}') for i in range(8)])
    (root / 'annotations').mkdir(parents=True)
    (root / 'annotations/test.json').write_text(json.dumps(coco))
    return m


def test_partimagenet_rasterises_parts_with_background_as_a_region(tmp_path):
    m = _partimagenet(tmp_path)
    ds = PartImageNetParts(str(tmp_path))
    assert len(ds) == 1 and ds[0].image_path.endswith('n01440764/n01440764_1.JPEG')
    lab = ds[0].label
    assert lab.shape == (10, 12)
    assert set(np.unique(lab)) == {0, 1, 6}  # background, category 0 -> 1, category 5 -> 6
    np.testing.assert_array_equal(lab == 1, m.astype(bool))
    assert (lab[2:5, 3:6] == 6).all() and lab[0, 0] == 0 and lab[9, 0] == 0


def test_partimagenet_errors(tmp_path):
    with pytest.raises(PartDatasetError, match=r"no annotation json at .*test\.json.*COCO format"):
        PartImageNetParts(str(tmp_path))
    _partimagenet(tmp_path)
    (tmp_path / 'annotations/test.json').write_text('{"images": []')
    with pytest.raises(PartDatasetError, match='is not a COCO json'):
        PartImageNetParts(str(tmp_path))


def test_imagenet_s_ids_from_rgb(tmp_path):
    write_img(tmp_path / 'validation/n01/n01_7.JPEG', 2, 3)
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (300 % 256, 300 // 256, 0)  # class 300
    rgb[0, 1] = (1000 % 256, 1000 // 256, 0)  # ignored
    write_png(tmp_path / 'validation-segmentation/n01/n01_7.png', rgb)
    ds = ImageNetSParts(str(tmp_path))
    np.testing.assert_array_equal(ds[0].label, [[300, IGNORE_INDEX, 0], [0, 0, 0]])
    shutil.rmtree(tmp_path / 'validation-segmentation')
    with pytest.raises(PartDatasetError, match=r"validation-segmentation' does not exist"):
        ImageNetSParts(str(tmp_path))


def test_folder_of_label_pngs(tmp_path):
    write_img(tmp_path / 'images/x.jpg', 2, 2)
    write_img(tmp_path / 'images/sub/y.png', 2, 2)
    write_png(tmp_path / 'masks/x.png', np.array([[300, 255], [7, 7]], np.uint16))  # 16-bit ids
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = (1, 2, 3)
    write_png(tmp_path / 'masks/sub/y.png', rgb)  # one colour per region
    ds = FolderParts(str(tmp_path))
    assert [p.split('images/')[1] for p, _ in ds.items] == ['sub/y.png', 'x.jpg']
    np.testing.assert_array_equal(ds[1].label, [[300, IGNORE_INDEX], [7, 7]])
    np.testing.assert_array_equal(ds[0].label, [[1 + 2 * 256 + 3 * 65536, 0], [0, 0]])
    assert FolderParts(str(tmp_path), ignore_value=None)[1].label[0, 1] == 255
    with pytest.raises(PartDatasetError, match=r"folder '.*sam' does not exist.*<root>/sam/<name>\.png"):
        FolderParts(str(tmp_path), mask_dir='sam')


def test_build_part_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown part dataset type 'coco'"):
        build_part_dataset('coco', str(tmp_path))
    with pytest.raises(PartDatasetError, match=r"data root '.*nowhere' does not exist\. Expected: <root>/images"):
        build_part_dataset('ade20k', str(tmp_path / 'nowhere'))
    (tmp_path / 'images/validation').mkdir(parents=True)
    (tmp_path / 'annotations/validation').mkdir(parents=True)
    with pytest.raises(PartDatasetError, match='no images'):
        build_part_dataset('ade20k', str(tmp_path), split='validation')
