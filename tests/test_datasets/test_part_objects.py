"""The procedural part-structured objects: determinism, ground truth, PartImageNet layout, on-the-fly dataset."""
import json

import numpy as np
import pytest

from mmrats.datasets.part_datasets import PartImageNetParts
from mmrats.datasets.part_objects import PartObjectsConfig, generate_part_objects
from mmrats.datasets.part_objects_catalogue import CATEGORIES, PART_ID, PART_NAMES, SUPERCATEGORIES
from mmrats.datasets.part_objects_dataset import PartObjectsDataset
from mmrats.datasets.part_objects_writer import rle_encode, write_part_objects

CFG = PartObjectsConfig(img_size=64)


def test_catalogue_shape():
    """>= 8 categories in >= 3 super-categories; members of a super-category share its part types."""
    assert len(CATEGORIES) >= 8 and len(SUPERCATEGORIES) >= 3
    for sc in SUPERCATEGORIES:
        members = [c for c in CATEGORIES if c.supercategory == sc]
        assert len(members) >= 2
        types = [{p[0] for p in c.primitives} for c in members]
        assert all(t == types[0] for t in types), sc  # every member has every part type of its group
    assert len(PART_NAMES) == len(set(PART_NAMES)) == 11


def test_deterministic_by_seed_and_index():
    a = generate_part_objects(7, seed=3, split='train', cfg=CFG)
    for i in range(3):  # drawing other images first changes nothing
        generate_part_objects(i, seed=3, split='train', cfg=CFG)
    b = generate_part_objects(7, seed=3, split='train', cfg=CFG)
    for key in ('image', 'parts', 'objects', 'boxes'):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert a.categories == b.categories
    assert not np.array_equal(a.image, generate_part_objects(7, seed=4, split='train', cfg=CFG).image)
    assert not np.array_equal(a.image, generate_part_objects(7, seed=3, split='test', cfg=CFG).image)


def test_ground_truth_consistent():
    """Parts lie exactly on objects, belong to the object's super-category; boxes are the tight boxes;
    some images have two objects, some occluders; categories are balanced by index."""
    two = 0
    for i in range(40):
        s = generate_part_objects(i, seed=0, split='val', cfg=CFG)
        assert s.image.shape == (64, 64, 3) and s.image.dtype == np.uint8
        np.testing.assert_array_equal(s.parts > 0, s.objects > 0)
        assert s.objects.max() == len(s.categories) == len(s.boxes)
        assert s.category == i % len(CATEGORIES) == s.categories[-1]
        for j, (cat, box) in enumerate(zip(s.categories, s.boxes)):
            m = s.objects == j + 1
            rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
            np.testing.assert_array_equal(box, [cols[0], rows[0], cols[-1] + 1, rows[-1] + 1])
            x0, y0, x1, y1 = box.astype(int)
            assert m[y0:y1, x0:x1].sum() == m.sum()  # the box contains the whole mask
            allowed = {PART_ID[p[0]] for p in CATEGORIES[cat].primitives}
            assert set(np.unique(s.parts[m])) <= allowed
        two += len(s.categories) == 2
    assert 0 < two < 40


def test_variation_between_instances():
    """The same category differs in pose and appearance between instances."""
    a, b = (generate_part_objects(i, cfg=CFG) for i in (0, len(CATEGORIES)))
    assert a.category == b.category
    assert not np.array_equal(a.parts > 0, b.parts > 0)
    assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() > 10


def test_rle_encode_roundtrip():
    mask_util = pytest.importorskip('pycocotools.mask')
    rng = np.random.default_rng(0)
    for m in (rng.random((5, 7)) > 0.5, np.ones((3, 4), bool), np.zeros((3, 4), bool)):
        rle = mask_util.frPyObjects(rle_encode(m), *m.shape)
        np.testing.assert_array_equal(mask_util.decode(rle).astype(bool), m)


def test_partimagenet_layout_read_by_existing_reader(tmp_path):
    out = tmp_path / 'po'
    man = write_part_objects(out, dict(train=4, test=6), seed=1, cfg=CFG)
    assert man['splits']['test']['images'] == 6
    reader = PartImageNetParts(str(out), split='test')
    assert len(reader) == 6
    cats = {c['id']: c['name'] for c in json.loads((out / 'annotations' / 'test.json').read_text())['categories']}
    for i in range(6):
        s = generate_part_objects(i, seed=1, split='test', cfg=CFG)
        sample = reader[i]
        from PIL import Image
        np.testing.assert_array_equal(np.asarray(Image.open(sample.image_path).convert('RGB')), s.image)
        # the reader relabels part categories to 1..C in id order: here the same ids
        np.testing.assert_array_equal(sample.label, s.parts.astype(np.int64))
        name = f'{CATEGORIES[s.category].name}_{i:06d}.png'
        ade = np.asarray(Image.open(out / 'ade' / 'annotations' / 'test' / name))
        np.testing.assert_array_equal(ade, s.parts)
    assert [cats[k] for k in sorted(cats)] == list(PART_NAMES)
    # same parameters: reused; a foreign non-empty folder: refused, nothing overwritten
    assert write_part_objects(out, dict(train=4, test=6), seed=1, cfg=CFG) == man
    other = tmp_path / 'other'
    other.mkdir()
    (other / 'mine.txt').write_text('x')
    with pytest.raises(FileExistsError, match='not empty'):
        write_part_objects(other, dict(test=1), cfg=CFG)
    assert (other / 'mine.txt').read_text() == 'x'


def test_on_the_fly_dataset_matches_generator():
    ds = PartObjectsDataset(num_images=5, split='test', seed=2, img_size=64,
                            pipeline=[dict(type='PackInputs', algorithm_keys=['gt_part_label'])])
    assert len(ds) == 5
    s = generate_part_objects(3, seed=2, split='test', cfg=CFG)
    info = ds.get_data_info(3)
    np.testing.assert_array_equal(info['img'], s.image[..., ::-1])  # BGR, as LoadImageFromFile
    packed = ds[3]
    np.testing.assert_array_equal(packed['inputs'].numpy().transpose(1, 2, 0), s.image[..., ::-1])
    np.testing.assert_array_equal(np.asarray(packed['data_samples'].gt_part_label), s.parts)
    assert int(packed['data_samples'].gt_label) == s.category


def test_bad_arguments():
    with pytest.raises(ValueError, match='split'):
        generate_part_objects(0, split='training')
    with pytest.raises(ValueError, match='num_images'):
        PartObjectsDataset(num_images=0)
    with pytest.raises(ValueError, match='gen_cfg'):
        PartObjectsDataset(num_images=1, gen_cfg=dict(colour=1))
    with pytest.raises(ValueError, match='gen_cfg.*unexpected keyword'):
        PartObjectsDataset(num_images=1, gen_cfg=dict(hue=1))
    with pytest.raises(ValueError, match='occlusion_prob'):
        generate_part_objects(0, cfg=PartObjectsConfig(occlusion_prob=2))
