"""docs/custom_data.md: the two example configs (configs/custom/) train 2 iterations and validate on
small data written in the layouts the guide describes (tiny model: the demo sizes)."""
import json
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from tests.conftest import REPO, load_tool

train_tool = load_tool('tools/train.py')

CUSTOM = REPO / 'configs' / 'custom'
COCO_CFG = CUSTOM / 'mask2former_rats-s16-regq_8xb1-lsj-20k_custom-coco-1024x1024.py'
SEG_CFG = CUSTOM / 'mask2former_rats-s16-regq_8xb1-20k_custom-seg-512x512.py'
TINY = REPO / 'configs' / '_base_' / 'demo_tiny_mask2former.py'
CLASSES = ('screw', 'nut', 'washer')  # the example configs' classes


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    from mmrats.datasets.synthetic_scenes import write_dataset
    root = tmp_path_factory.mktemp('synthetic')
    write_dataset(str(root), num_train=4, num_val=2, size=64, seed=0)
    return root


def write_custom_coco(scenes, root):
    """The guide's COCO layout (train/, val/, annotations/instances_{train,val}.json) with the example's
    3 category names: the 6 synthetic shapes folded onto them."""
    (root / 'annotations').mkdir(parents=True)
    for split in ('train', 'val'):
        shutil.copytree(scenes / 'coco' / f'{split}2017', root / split)
        data = json.loads((scenes / 'coco' / 'annotations' / f'instances_{split}2017.json').read_text())
        data['categories'] = [dict(id=i + 1, name=n) for i, n in enumerate(CLASSES)]
        for a in data['annotations']:
            a['category_id'] = (a['category_id'] - 1) % 3 + 1
        (root / 'annotations' / f'instances_{split}.json').write_text(json.dumps(data))


def write_custom_seg(scenes, root):
    """The guide's folders (images/{train,val}/*.jpg, labels/{train,val}/*.png): class k stored as k
    (0 = background), 255 = unlabelled."""
    for split, ade in (('train', 'training'), ('val', 'validation')):
        shutil.copytree(scenes / 'ade' / 'images' / ade, root / 'images' / split)
        (root / 'labels' / split).mkdir(parents=True)
        for png in sorted((scenes / 'ade' / 'annotations' / ade).glob('*.png')):
            stored = np.array(Image.open(png)).astype(np.int64)  # 0 unlabelled, 1 background, k + 1 shape k
            label = np.where(stored == 0, 255, np.where(stored == 1, 0, (stored - 2) % 3 + 1))
            Image.fromarray(label.astype(np.uint8)).save(root / 'labels' / split / png.name)


def tiny(tmp_path, config, head_key) -> str:
    """The example config with the demo-size backbone and head, on 128-pixel inputs (2 iterations in seconds).

    Everything else (classes, heads' class counts, datasets, label convention, evaluator) is the example's.
    """
    leaf = tmp_path / f'leaf_{config.name}'
    extra = ',\n    test_cfg=dict(max_per_image=16)' if head_key == 'panoptic_head' else ''
    leaf.write_text(f"_base_ = ['{config}', '{TINY}']\n"
                    'model = dict(\n    backbone={{_base_.demo_backbone}},\n'
                    '    neck=dict(in_channels={{_base_.demo_embed_dims}}),\n'
                    f'    {head_key}={{{{_base_.demo_head}}}}{extra})\n')
    cfg = Config.fromfile(str(leaf))
    size = (128, 128)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        for t in cfg[loader].dataset.pipeline:
            if t.type in ('RandomResize', 'Resize'):
                t.scale = size
            elif t.type == 'RandomChoiceResize':
                t.scales, t.max_size = [96, 128, 160], 256
            elif t.type == 'RandomCrop':
                t.crop_size = size
    pre = cfg.model.data_preprocessor
    if pre.get('batch_augments'):
        pre.batch_augments[0].size = size
    if pre.get('size'):
        pre.size = size
    path = tmp_path / f'tiny_{config.name}'
    cfg.dump(str(path))
    return str(path)


def run_args(work_dir, root, evaluator_ann=None):
    opts = [f'{s}_dataloader.dataset.data_root={root}/' for s in ('train', 'val', 'test')]
    opts += [f'{s}_evaluator.ann_file={evaluator_ann}' for s in ('val', 'test')] if evaluator_ann else []
    opts += ['train_cfg.max_iters=2', 'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2',
             'default_hooks.logger.interval=1']
    opts += [f'{s}_dataloader.{k}' for s in ('train', 'val', 'test')
             for k in ('num_workers=0', 'persistent_workers=False')]
    return ['--work-dir', str(work_dir), '--cfg-options', *opts]


def scalars(work_dir):
    return [json.loads(line) for p in work_dir.glob('*/vis_data/scalars.json') for line in p.read_text().splitlines()]


def test_custom_coco_config_trains_and_validates(scenes, tmp_path, capsys):
    root = tmp_path / 'my_coco'
    write_custom_coco(scenes, root)
    wd = tmp_path / 'work'
    args = run_args(wd, root, root / 'annotations' / 'instances_val.json')
    assert train_tool.main([tiny(tmp_path, COCO_CFG, 'panoptic_head'), *args]) == 0
    assert 'warning:' not in capsys.readouterr().err  # the guide's classes match the data: a silent pre-flight
    ckpt = torch.load(wd / 'iter_2.pth', map_location='cpu', weights_only=False)
    assert tuple(ckpt['meta']['dataset_meta']['classes']) == CLASSES
    assert ckpt['state_dict']['panoptic_head.cls_embed.weight'].shape[0] == len(CLASSES) + 1
    assert any('coco/segm_mAP' in s and 'coco/bbox_mAP' in s for s in scalars(wd))


def test_custom_seg_config_trains_and_validates(scenes, tmp_path, capsys):
    root = tmp_path / 'my_seg'
    write_custom_seg(scenes, root)
    wd = tmp_path / 'work'
    assert train_tool.main([tiny(tmp_path, SEG_CFG, 'decode_head'), *run_args(wd, root)]) == 0
    assert 'warning:' not in capsys.readouterr().err
    ckpt = torch.load(wd / 'iter_2.pth', map_location='cpu', weights_only=False)
    assert tuple(ckpt['meta']['dataset_meta']['classes']) == ('background', *CLASSES)
    assert ckpt['state_dict']['decode_head.cls_embed.weight'].shape[0] == len(CLASSES) + 2
    assert any('mIoU' in s for s in scalars(wd))


def test_guide_errors_on_the_example_configs(scenes, tmp_path, capsys):
    """The example configs on data whose labels do not fit them: the guide's errors, before any runner."""
    root = tmp_path / 'my_seg'
    write_custom_seg(scenes, root)
    label = root / 'labels' / 'train' / '000001.png'
    arr = np.array(Image.open(label))
    arr[:2, :2] = 4  # a fifth class the config does not list
    Image.fromarray(arr).save(label)
    wd = tmp_path / 'work'
    assert train_tool.main([tiny(tmp_path, SEG_CFG, 'decode_head'), *run_args(wd, root)]) == 2
    err = capsys.readouterr().err
    assert 'error: train_dataloader.dataset: label values [4] are outside the 4 classes' in err
    assert '000001.png' in err and not wd.exists()
