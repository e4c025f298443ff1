"""The synthetic scenes: deterministic, consistent, and loadable by stock mmseg and mmdet pipelines."""
import json
import os

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_util

from mmrats.datasets import (CLASSES, DET_METAINFO, SEG_METAINFO, SyntheticSceneSegDataset, generate_scene,
                             write_dataset)
from tests.conftest import load_tool

make_synthetic_scenes = load_tool('tools/dataset_converters/make_synthetic_scenes.py')

# pycocotools' decode under numpy 2 (not ours): the masks are still correct
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")
SMALL = dict(num_train=6, num_val=3, size=64, seed=0)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic') / 'scenes'
    write_dataset(str(root), **SMALL)
    return root


def test_metainfo():
    assert len(CLASSES) == 7 and CLASSES[0] == 'background'
    assert SEG_METAINFO['classes'] == CLASSES and len(SEG_METAINFO['palette']) == 7
    assert DET_METAINFO['classes'] == CLASSES[1:] and len(DET_METAINFO['palette']) == 6


def test_deterministic():
    a, b = generate_scene(3, size=64, seed=0), generate_scene(3, size=64, seed=0)
    assert a['image'].tobytes() == b['image'].tobytes()
    assert a['semantic'].tobytes() == b['semantic'].tobytes()
    assert [(i['category'], i['bbox'], i['mask'].tobytes()) for i in a['instances']] == \
           [(i['category'], i['bbox'], i['mask'].tobytes()) for i in b['instances']]
    assert generate_scene(4, size=64, seed=0)['image'].tobytes() != a['image'].tobytes()
    assert generate_scene(3, size=64, seed=1)['image'].tobytes() != a['image'].tobytes()


@pytest.mark.parametrize('index', range(8))
def test_scene_consistent(index):
    s = generate_scene(index, size=64)
    img, sem = s['image'], s['semantic']
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    assert sem.shape == (64, 64) and sem.dtype == np.uint8
    assert set(np.unique(sem)) <= set(range(8))
    assert 1 in sem  # background visible
    union = np.zeros(sem.shape, bool)
    for inst in s['instances']:
        m = inst['mask']
        assert 1 <= inst['category'] <= 6
        assert m.dtype == bool and m.sum() >= 30
        assert (sem[m] == inst['category'] + 1).all()
        assert not (union & m).any()  # visible parts do not overlap
        union |= m
        ys, xs = np.nonzero(m)
        assert inst['bbox'] == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    assert (sem[~union] <= 1).all()  # every thing pixel belongs to an instance


def test_files_both_layouts(data_root):
    man = json.loads((data_root / 'manifest.json').read_text())
    assert man['params'] == dict(SMALL, format_version=1) and man['complete']
    assert man['splits']['train']['images'] == 6 and man['splits']['val']['images'] == 3
    for ade, coco, n in (('training', 'train2017', 6), ('validation', 'val2017', 3)):
        assert len(os.listdir(data_root / 'ade' / 'images' / ade)) == n
        assert len(os.listdir(data_root / 'ade' / 'annotations' / ade)) == n
        assert len(os.listdir(data_root / 'coco' / coco)) == n
        for i in range(n):  # the same scene in both layouts
            a = (data_root / 'ade' / 'images' / ade / f'{i:06d}.jpg').read_bytes()
            assert a == (data_root / 'coco' / coco / f'{i:012d}.jpg').read_bytes()
            label = Image.open(data_root / 'ade' / 'annotations' / ade / f'{i:06d}.png')
            assert label.mode == 'L' and label.size == (64, 64)
    lab = np.array(Image.open(data_root / 'ade' / 'annotations' / 'training' / '000002.png'))
    assert lab.tobytes() == generate_scene(2, size=64)['semantic'].tobytes()
    img = np.array(Image.open(data_root / 'ade' / 'images' / 'training' / '000002.jpg'))
    assert np.abs(img.astype(int) - generate_scene(2, size=64)['image']).mean() < 8  # JPEG q95


@pytest.mark.parametrize('split,n,offset', [('train', 6, 0), ('val', 3, 1_000_000)])
def test_coco_json_decodes_to_instances(data_root, split, n, offset):
    coco = json.loads((data_root / 'coco' / 'annotations' / f'instances_{split}2017.json').read_text())
    assert [c['id'] for c in coco['categories']] == [1, 2, 3, 4, 5, 6]
    assert [c['name'] for c in coco['categories']] == list(CLASSES[1:])
    assert len(coco['images']) == n
    assert len({a['id'] for a in coco['annotations']}) == len(coco['annotations'])
    for im in coco['images']:
        i = int(im['file_name'].split('.')[0])
        assert (im['height'], im['width']) == (64, 64)
        scene = generate_scene(offset + i, size=64)
        anns = [a for a in coco['annotations'] if a['image_id'] == im['id']]
        assert len(anns) == len(scene['instances'])
        for a, inst in zip(anns, scene['instances']):
            assert isinstance(a['segmentation']['counts'], str) and a['iscrowd'] == 0
            m = mask_util.decode(dict(a['segmentation'], counts=a['segmentation']['counts'].encode()))
            assert (m.astype(bool) == inst['mask']).all()
            assert a['category_id'] == inst['category']
            assert a['area'] == int(m.sum())
            assert a['bbox'] == [float(x) for x in inst['bbox']]
            assert all(isinstance(x, float) for x in a['bbox'])
            assert a['bbox'] == mask_util.toBbox(a['segmentation']).tolist()


def test_ade_loads_through_mmseg(data_root):
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    with DefaultScope.overwrite_default_scope('mmseg'):
        ds = DATASETS.build(dict(type='mmrats.SyntheticSceneSegDataset', data_root=str(data_root / 'ade'),
                                 data_prefix=dict(img_path='images/validation',
                                                  seg_map_path='annotations/validation'),
                                 pipeline=pipeline))
        assert isinstance(ds, SyntheticSceneSegDataset)
        assert len(ds) == 3 and ds.metainfo['classes'] == CLASSES
        seen = set()
        for k in range(len(ds)):
            out = ds[k]
            assert tuple(out['inputs'].shape) == (3, 64, 64)
            seg = out['data_samples'].gt_sem_seg.data.numpy()
            seen |= set(np.unique(seg).tolist())
            stored = np.array(Image.open(data_root / 'ade' / 'annotations' / 'validation' / f'{k:06d}.png'))
            assert (seg[0] == np.where(stored == 0, 255, stored.astype(int) - 1)).all()
    assert seen <= set(range(7)) | {255} and 0 in seen and len(seen) > 1


def test_coco_loads_through_mmdet(data_root):
    from mmdet.datasets import CocoDataset
    from mmdet.utils import register_all_modules
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmdet'):
        ds = CocoDataset(data_root=str(data_root / 'coco'), ann_file='annotations/instances_val2017.json',
                         data_prefix=dict(img='val2017/'), metainfo=DET_METAINFO,
                         pipeline=[dict(type='LoadImageFromFile'),
                                   dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
                                   dict(type='PackDetInputs')])
    assert len(ds) == 3 and ds.metainfo['classes'] == CLASSES[1:]
    total = 0
    for k in range(len(ds)):
        out = ds[k]
        inst = out['data_samples'].gt_instances
        scene = generate_scene(1_000_000 + k, size=64)
        n = len(scene['instances'])
        assert len(inst) == n
        assert inst.labels.tolist() == [i['category'] - 1 for i in scene['instances']]  # CLASSES[1:] order
        total += n
        if n:
            assert inst.masks.masks.shape == (n, 64, 64)
            assert (inst.masks.masks.astype(bool) == np.stack([i['mask'] for i in scene['instances']])).all()
            assert tuple(inst.bboxes.tensor.shape) == (n, 4)
    assert total > 0


def test_cache_reused_and_foreign_dir_refused(tmp_path, capsys):
    root = tmp_path / 'out'
    assert make_synthetic_scenes.main(['--out', str(root), '--num-train', '2', '--num-val', '1',
                                       '--size', '48']) == 0
    assert 'wrote' in capsys.readouterr().out
    man_before = (root / 'manifest.json').read_bytes()
    img = root / 'coco' / 'train2017' / f'{0:012d}.jpg'
    mtimes = (os.stat(img).st_mtime_ns, os.stat(root / 'manifest.json').st_mtime_ns)
    assert make_synthetic_scenes.main(['--out', str(root), '--num-train', '2', '--num-val', '1',
                                       '--size', '48']) == 0
    out = capsys.readouterr().out
    assert 'reused' in out and 'disc' in out
    assert (root / 'manifest.json').read_bytes() == man_before
    assert (os.stat(img).st_mtime_ns, os.stat(root / 'manifest.json').st_mtime_ns) == mtimes
    # other parameters: the previous synthetic dataset is replaced, without leftovers
    man = write_dataset(str(root), num_train=1, num_val=1, size=48)
    assert man['params']['num_train'] == 1
    assert len(os.listdir(root / 'ade' / 'images' / 'training')) == 1
    # a non-empty folder that is not ours is refused
    foreign = tmp_path / 'user'
    foreign.mkdir()
    (foreign / 'precious.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='user'):
        write_dataset(str(foreign), num_train=1, num_val=1, size=48)
    assert os.listdir(foreign) == ['precious.txt']
    assert make_synthetic_scenes.main(['--out', str(foreign), '--num-train', '1']) == 2


def test_seg_dataset_missing_root_error(tmp_path):
    missing = tmp_path / 'nowhere'
    with pytest.raises(FileNotFoundError) as e:
        SyntheticSceneSegDataset(data_root=str(missing), data_prefix=dict(img_path='images/training',
                                                                         seg_map_path='annotations/training'))
    msg = str(e.value)
    assert str(missing) in msg and 'images/{training,validation}' in msg
    assert 'annotations/{training,validation}' in msg
    assert 'python tools/dataset_converters/make_synthetic_scenes.py' in msg
    (missing / 'images' / 'training').mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match='annotations/training'):
        SyntheticSceneSegDataset(data_root=str(missing), data_prefix=dict(img_path='images/training',
                                                                         seg_map_path='annotations/training'))
