"""Class pre-flight: the config's classes, its head and its annotations agree (or one line says how not)."""
import json
import shutil

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from mmrats.utils.preflight import ClassCheckError, check_classes
from mmrats.utils.preflight.coco_classes import _parse_coco, _scan_coco
from tests.conftest import REPO, load_tool, write_scenes

test_tool = load_tool('tools/test.py')
train_tool = load_tool('tools/train.py')

SEG = str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py')
DET = str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-coco-128x128.py')
COCO_REAL = str(REPO / 'configs/mask2former/mask2former_rats-s16-regq_8xb1-lsj-368k_coco-1024x1024.py')
SPLITS = ('train', 'val', 'test')


class RunnerBuilt(Exception):
    """Raised by the stub runner: the pre-flight let the run through."""


@pytest.fixture(autouse=True)
def no_runner(monkeypatch):
    class Stub:
        @staticmethod
        def from_cfg(cfg):
            raise RunnerBuilt()
    monkeypatch.setattr(train_tool, 'Runner', Stub)
    monkeypatch.setattr(test_tool, 'Runner', Stub)


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    return write_scenes(tmp_path_factory, num_train=12, num_val=3, size=64)


@pytest.fixture
def ade(scenes, tmp_path):
    """A writable copy of the ADE-layout scenes."""
    shutil.copytree(scenes / 'ade', tmp_path / 'ade')
    return tmp_path / 'ade'


def det_options(root, ann_dir=None):
    ann_dir = ann_dir or f'{root}/coco/annotations'
    opts = {f'{s}_dataloader.dataset.data_root': f'{root}/coco/' for s in SPLITS}
    opts.update({'train_dataloader.dataset.ann_file': f'{ann_dir}/instances_train2017.json',
                 'val_dataloader.dataset.ann_file': f'{ann_dir}/instances_val2017.json',
                 'test_dataloader.dataset.ann_file': f'{ann_dir}/instances_val2017.json',
                 'val_evaluator.ann_file': f'{ann_dir}/instances_val2017.json',
                 'test_evaluator.ann_file': f'{ann_dir}/instances_val2017.json'})
    return opts


def config(path, options):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(options)
    return cfg


def check(cfg, splits=('train_dataloader', 'val_dataloader')):
    warnings = []
    check_classes(cfg, splits, warn=warnings.append)
    return warnings


def set_classes(classes, head=True):
    """Options giving every dataset ``classes`` and (``head``) the head that many classes."""
    opts = {f'{s}_dataloader.dataset.metainfo.classes': classes for s in SPLITS}
    if head:
        n = len(classes)
        opts.update({'model.panoptic_head.num_things_classes': n, 'model.panoptic_fusion_head.num_things_classes': n,
                     'model.panoptic_head.loss_cls.class_weight': [1.0] * n + [0.1]})
    return opts


def to_args(opts):
    return [f'{k}={v}'.replace(' ', '') if isinstance(v, list) else f'{k}={v}' for k, v in opts.items()]


def one_line(err: str) -> str:
    assert 'Traceback' not in err
    lines = [ln for ln in err.splitlines() if ln.startswith('error:')]
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------------------------------ COCO layout

def test_matching_classes_pass_silently(scenes, tmp_path, capsys):
    assert check(config(DET, det_options(scenes))) == []
    with pytest.raises(RunnerBuilt):
        train_tool.main([DET, '--work-dir', str(tmp_path / 'w'), '--cfg-options', *to_args(det_options(scenes))])
    err = capsys.readouterr().err
    assert 'warning' not in err and 'error' not in err


def test_disjoint_classes_fail_with_one_line(scenes, tmp_path, capsys):
    """The issue's reproduction: the real COCO config (COCO's 80 classes) on the synthetic COCO-layout data."""
    opts = det_options(scenes)
    args = [COCO_REAL, '--work-dir', str(tmp_path / 'w'), '--cfg-options', 'model.backbone.init_cfg=None',
            *to_args(opts)]
    assert train_tool.main(args) == 2
    line = one_line(capsys.readouterr().err)
    assert not (tmp_path / 'w').exists()
    ann = opts['train_dataloader.dataset.ann_file']
    assert line.startswith('error: train_dataloader.dataset: none of the 80 metainfo.classes ')
    assert "('person', 'bicycle', 'car', 'motorcycle', 'airplane', ... 75 more)" in line  # shortened
    assert f"is a category of {ann} (6 categories ('disc', 'square', 'triangle', 'ring', 'bar', ... 1 more))" in line
    assert 'would drop all' in line and 'and all 12 images' in line  # filter_empty_gt in training
    assert 'train_dataloader.dataset.metainfo, val_dataloader.dataset.metainfo, test_dataloader.dataset.metainfo' \
        in line
    assert 'model.panoptic_head.num_things_classes' in line
    # tools/test.py checks its dataset the same way
    ckpt = tmp_path / 'm.pth'
    import torch
    torch.save({}, ckpt)
    assert test_tool.main([*args[:1], str(ckpt), *args[1:]]) == 2
    assert one_line(capsys.readouterr().err).startswith('error: test_dataloader.dataset: none of the 80')


def expected_drops(ann_file, classes):
    """Annotations whose category is not in ``classes``, and images left with none of the kept ones."""
    data = json.loads(open(ann_file).read())
    names = {c['id']: c['name'] for c in data['categories']}
    by_image = {}
    for a in data['annotations']:
        by_image.setdefault(a['image_id'], []).append(names[a['category_id']] in classes)
    dropped_anns = sum(not k for ks in by_image.values() for k in ks)
    dropped_imgs = sum(not any(ks) for ks in by_image.values())
    return dropped_anns, len(data['annotations']), dropped_imgs, len(data['images'])


def test_partial_overlap_warns_with_the_counts(scenes):
    from mmdet.datasets import CocoDataset
    classes = ['disc', 'square']
    opts = {**det_options(scenes), **set_classes(classes)}
    warnings = check(config(DET, opts))
    ann = opts['train_dataloader.dataset.ann_file']
    d_ann, n_ann, d_img, n_img = expected_drops(ann, classes)
    assert d_ann > 0 and d_img > 0  # the data exercises both counts
    assert len(warnings) == 2  # train, and val (which keeps its images: test_mode)
    assert warnings[0].startswith('train_dataloader.dataset: 4 of the 6 categories')
    assert f'{d_ann:,} of {n_ann:,} annotations will be dropped, and {d_img:,} of {n_img:,} images' in warnings[0]
    assert "('triangle', 'ring', 'bar', 'cross')" in warnings[0]
    assert 'annotations will be dropped, and 0 images (this dataset does not filter images)' in warnings[1]
    # the counts are what mmdet itself keeps
    ds = CocoDataset(data_root=f'{scenes}/coco/', ann_file=ann, data_prefix=dict(img='train2017/'),
                     metainfo=dict(classes=classes), filter_cfg=dict(filter_empty_gt=True, min_size=32), pipeline=[])
    assert len(ds) == n_img - d_img
    assert sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds))) == n_ann - d_ann


def test_classes_missing_from_the_file_warn(scenes):
    opts = {**det_options(scenes), **set_classes(['disc', 'square', 'triangle', 'ring', 'bar', 'cross', 'star'])}
    warnings = check(config(DET, opts))
    assert warnings and "1 of metainfo.classes have no category in the file ('star',)" in warnings[0]


def test_head_class_counts(scenes):
    opts = det_options(scenes)
    with pytest.raises(ClassCheckError, match=r'model.panoptic_head has num_things_classes=5, num_stuff_classes=0, '
                                              r'but train_dataloader.dataset has 6 classes'):
        check(config(DET, {**opts, 'model.panoptic_head.num_things_classes': 5}))
    with pytest.raises(ClassCheckError, match=r'model.panoptic_fusion_head has num_things_classes=80'):
        check(config(DET, {**opts, 'model.panoptic_fusion_head.num_things_classes': 80}))
    with pytest.raises(ClassCheckError, match=r'class_weight has 7 entries, Mask2Former needs num_classes \+ 1 = 3'):
        check(config(DET, {**opts, **set_classes(['disc', 'square']),
                           'model.panoptic_head.loss_cls.class_weight': [1.0] * 7}))
    # one class and 16 register queries: 16 scores per image, fewer than max_per_image=100
    with pytest.raises(ClassCheckError, match=r'max_per_image=100 is more than num_queries x classes = 16 x 1 = 16'):
        check(config(DET, {**opts, **set_classes(['disc']), 'model.test_cfg.max_per_image': 100}))


def test_string_classes(scenes):
    with pytest.raises(ClassCheckError, match=r"metainfo.classes is the string 'disc', not a tuple of names: write "
                                              r"classes=\('disc',\)"):
        check(config(DET, {**det_options(scenes), **set_classes('disc', head=False)}))


def test_empty_after_filters_names_the_filter(scenes, tmp_path):
    with pytest.raises(ClassCheckError, match=r'train_dataloader.dataset.filter_cfg.min_size=1000 drops all 12 '
                                              r'remaining images .* \(the largest has a 64-pixel short side'):
        check(config(DET, {**det_options(scenes), 'train_dataloader.dataset.filter_cfg.min_size': 1000}))
    # 'disc' is a category of the file, but none of its annotations are
    ann_dir = tmp_path / 'annotations'
    shutil.copytree(scenes / 'coco' / 'annotations', ann_dir)
    data = json.loads((ann_dir / 'instances_train2017.json').read_text())
    data['annotations'] = [a for a in data['annotations'] if a['category_id'] != 1]
    (ann_dir / 'instances_train2017.json').write_text(json.dumps(data))
    with pytest.raises(ClassCheckError, match=r'filter_cfg.filter_empty_gt=True drops all 12 images .* none has an '
                                              r'annotation of metainfo.classes \(0 such annotations'):
        check(config(DET, {**det_options(scenes, ann_dir), **set_classes(['disc'])}))


def test_fast_scan_reads_what_a_full_parse_reads(scenes, tmp_path):
    text = (scenes / 'coco' / 'annotations' / 'instances_train2017.json').read_text()

    def same(a, b):
        assert a.categories == b.categories and a.images == b.images
        assert (a.ann_image == b.ann_image).all() and (a.ann_category == b.ann_category).all()

    full = _parse_coco(text)
    assert len(full.ann_image) > 20
    same(_scan_coco(text), full)
    # other key orders: annotations first, category_id before image_id, an id-like key in 'info'
    data = json.loads(text)
    anns = [{'category_id': a['category_id'], 'segmentation': a['segmentation'], 'image_id': a['image_id'],
             'id': a['id']} for a in data['annotations']]
    other = json.dumps({'annotations': anns, 'info': {'year': 2024}, 'categories': data['categories'],
                        'images': data['images']}, indent=1)
    same(_scan_coco(other), full)
    # panoptic layout (segments per image): the scan declines, the full parse counts every segment
    segments = [{'id': 5, 'category_id': 2}, {'id': 6, 'category_id': 3}]
    pan = {'images': data['images'], 'categories': data['categories'],
           'annotations': [{'image_id': 1, 'file_name': 'x.png', 'segments_info': segments}]}
    assert _scan_coco(json.dumps(pan)) is None
    assert _parse_coco(json.dumps(pan)).ann_category.tolist() == [2, 3]


# ------------------------------------------------------------------------------------ segmentation layout

def seg_options(root, **extra):
    opts = {f'{s}_dataloader.dataset.data_root': str(root) for s in SPLITS}
    opts.update(extra)
    return opts


def test_seg_matching_passes_silently(ade):
    assert check(config(SEG, seg_options(ade))) == []


def test_out_of_range_label_values_are_named(ade):
    label = ade / 'annotations' / 'training' / '000003.png'
    arr = np.array(Image.open(label))
    arr[:4, :4] = 9  # stored 9 = class 8 after reduce_zero_label; the head has 7
    arr[4:8, :4] = 200
    Image.fromarray(arr).save(label)
    with pytest.raises(ClassCheckError) as e:
        check(config(SEG, seg_options(ade)))
    msg = str(e.value)
    assert msg.startswith('train_dataloader.dataset: label values [9, 200] are outside the 7 classes '
                          '(reduce_zero_label=True: a stored value v is class v-1')
    assert "in 1 of 12 sampled label files, e.g. ('000003.png',)" in msg
    assert '\n' not in msg


def test_reduce_zero_label_is_taken_into_account(ade):
    # the stored labels are 0 (unlabelled) and 1..7: valid with reduce_zero_label=True (the dataset's default),
    # while without it 7 is out of range for 7 classes
    assert check(config(SEG, seg_options(ade))) == []
    with pytest.raises(ClassCheckError, match=r'label values \[7\] are outside the 7 classes \(reduce_zero_label='
                                              r'False: the valid values are 0..6 and the ignore index 255\)'):
        check(config(SEG, seg_options(ade, **{'train_dataloader.dataset.reduce_zero_label': False})))
    # a pipeline's LoadAnnotations(reduce_zero_label=...) must agree with the dataset's (mmseg asserts it)
    cfg = config(SEG, seg_options(ade, **{'train_dataloader.dataset.reduce_zero_label': False}))
    cfg.train_dataloader.dataset.pipeline[1]['reduce_zero_label'] = True
    with pytest.raises(ClassCheckError, match=r'train_dataloader.dataset.pipeline\[1\] is LoadAnnotations\('
                                              r'reduce_zero_label=True\) but the dataset has reduce_zero_label=False'):
        check(cfg)
    cfg.train_dataloader.dataset.reduce_zero_label = True
    assert check(cfg) == []


def test_binary_0_255_masks_warn(ade):
    """0/255 masks with classes (background, object): 255 is the ignore index, the objects would be ignored."""
    for png in (ade / 'annotations' / 'training').glob('*.png'):
        arr = np.array(Image.open(png))
        Image.fromarray(np.where(arr > 1, 255, 0).astype(np.uint8)).save(png)
    opts = seg_options(ade, **{'train_dataloader.dataset.type': 'BaseSegDataset',
                               'train_dataloader.dataset.metainfo': dict(classes=['background', 'object']),
                               'model.decode_head.num_classes': 2,
                               'model.decode_head.loss_cls.class_weight': [1.0, 1.0, 0.1]})
    cfg = config(SEG, opts)
    warnings = []
    check_classes(cfg, ('train_dataloader',), warn=warnings.append)
    assert warnings == ["train_dataloader.dataset: the 12 sampled label files hold one class ('background') besides "
                        "the ignore index 255: if 255 marks your objects (a 0/255 mask), store them as class indices "
                        "(1 for 'object'); the ignored pixels are not learned"]


def test_seg_label_files(ade):
    Image.open(ade / 'annotations' / 'training' / '000002.png').convert('RGB').save(
        ade / 'annotations' / 'training' / '000002.png')
    with pytest.raises(ClassCheckError, match=r"label '.*000002.png' is a RGB image: mmseg needs one channel"):
        check(config(SEG, seg_options(ade)))
    (ade / 'annotations' / 'training' / '000002.png').unlink()
    with pytest.raises(ClassCheckError, match=r"1 of 12 images have no label file, e.g. '000002.jpg' expects "
                                              r"'.*annotations/training/000002.png'"):
        check(config(SEG, seg_options(ade)))


def test_seg_empty_and_metainfo(ade):
    with pytest.raises(ClassCheckError, match=r"the dataset is empty: no images match train_dataloader.dataset."
                                              r"img_suffix='.png' in .* \(it holds 12 '.jpg'\)"):
        check(config(SEG, seg_options(ade, **{'train_dataloader.dataset.img_suffix': '.png'})))
    with pytest.raises(ClassCheckError, match=r"are not all classes of SyntheticSceneSegDataset .* set "
                                              r"train_dataloader.dataset.type='BaseSegDataset'"):
        check(config(SEG, seg_options(ade, **{'train_dataloader.dataset.metainfo.classes': ['screw', 'nut']})))
    with pytest.raises(ClassCheckError, match=r'model.decode_head.num_classes=5 but train_dataloader.dataset has 7 '
                                              r'classes'):
        check(config(SEG, seg_options(ade, **{'model.decode_head.num_classes': 5})))
    opts = seg_options(ade, **{'train_dataloader.dataset.type': 'BaseSegDataset'})
    with pytest.raises(ClassCheckError, match=r'train_dataloader.dataset: BaseSegDataset has no classes: set '
                                              r'train_dataloader.dataset.metainfo=dict\(classes='):
        check(config(SEG, opts))
    opts['train_dataloader.dataset.metainfo'] = dict(classes=list('abcdefg'), palette=[[0, 0, 0]] * 6)
    with pytest.raises(ClassCheckError, match=r'metainfo.palette has 6 colours for 7 classes'):
        check(config(SEG, opts))
