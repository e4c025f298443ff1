"""tools/dataset_converters/sam_masks.py: SAM 2.1 proxy masks (layout, overlap rule, resume, shards, reader round trip).

The generator test builds SAM 2.1 Hiera-T from the sam2 package's own config with random weights (no download) on
two 48x64 images; resume and shards replace the generator by a fixed one (what they test is which images run).
"""
import json
import sys

import numpy as np
import pytest
from PIL import Image

import mmrats.apis.sam_masks as api
from mmrats.datasets.part_benchmarks import BENCHMARKS, SAM_MASK_DIR, open_benchmark
from mmrats.datasets.part_datasets import FolderParts
from mmrats.datasets.sam_label_maps import masks_to_label_map
from tests.conftest import REPO, load_tool

tool = load_tool('tools/dataset_converters/sam_masks.py')
FAST = ['--model-size', 'tiny', '--random-init', '--device', 'cpu', '--points-per-side', '4',
        '--pred-iou-thresh', '0', '--stability-score-thresh', '0', '--points-per-batch', '16']


def write_images(folder, n=3):
    rng = np.random.default_rng(0)
    for i in range(n):
        sub = folder / ('n01' if i % 2 else '')
        sub.mkdir(parents=True, exist_ok=True)
        img = np.zeros((48, 64, 3), np.uint8)
        img[:, : 20 + 10 * i] = rng.integers(0, 255, 3)
        Image.fromarray(img).save(sub / f'img{i}.jpg')


def test_overlap_rule_smaller_masks_win():
    big = np.ones((4, 6), bool)
    mid = np.zeros((4, 6), bool)
    mid[:, :3] = True
    small = np.zeros((4, 6), bool)
    small[1:3, 1:3] = True
    hole = big.copy()
    hole[0, 5] = False  # the largest mask leaves one pixel uncovered
    label = masks_to_label_map([small, hole, mid], (4, 6))
    assert label.dtype == np.uint16
    expected = np.where(mid, 2, 1)
    expected[small] = 3
    expected[0, 5] = 0
    np.testing.assert_array_equal(label, expected)
    assert not masks_to_label_map([], (2, 3)).any()
    with pytest.raises(ValueError, match='shape'):
        masks_to_label_map([np.ones((2, 2), bool)], (2, 3))


def test_generator_layout_and_reader_round_trip(tmp_path, capsys, monkeypatch):
    pytest.importorskip('sam2', reason='the sam2 package: bash tools/setup/install_sam2.sh <python>')
    images = tmp_path / 'data' / 'coco' / 'val2017'
    write_images(images, n=2)
    produced = []  # what SAM returned for each image, to check the maps against the overlap rule
    real = api.build_generator

    def recording(*args, **kwargs):
        gen = real(*args, **kwargs)
        generate = gen.generate
        gen.generate = lambda rgb: produced.append(generate(rgb)) or produced[-1]
        return gen

    monkeypatch.setattr(api, 'build_generator', recording)
    assert tool.main(['--benchmark', 'coco', '--data-dir', str(tmp_path / 'data'), *FAST]) == 0
    assert '2 label maps written, 0 done before' in capsys.readouterr().out
    masks = tmp_path / 'data' / 'coco' / SAM_MASK_DIR / 'val2017'
    settings = json.loads((masks / 'sam_settings.json').read_text())
    assert settings['model'] == 'sam2.1_hiera_tiny' and settings['generator']['points_per_side'] == 4
    assert settings['generator']['box_nms_thresh'] == 0.7 and 'points_per_batch' not in settings['generator']
    assert sorted(str(p.relative_to(masks)) for p in masks.rglob('*.png')) == ['img0.png', 'n01/img1.png']
    reader = open_benchmark(BENCHMARKS['coco'], tmp_path / 'data' / 'coco', full=False)
    assert len(reader) == 2
    for i in range(2):
        sample = reader[i]
        stored = np.asarray(Image.open(sample.image_path.replace('val2017', f'{SAM_MASK_DIR}/val2017')
                                       .replace('.jpg', '.png')))
        assert stored.dtype == np.uint16 and stored.shape == (48, 64) and stored.max() >= 1  # SAM found a mask
        np.testing.assert_array_equal(sample.label, np.where(stored == 0, -1, stored.astype(np.int64)))
        masks = [m['segmentation'] for m in produced[i]]  # images in sorted order: img0, n01/img1
        assert masks and masks[0].shape == (48, 64)
        np.testing.assert_array_equal(stored, masks_to_label_map(masks, (48, 64)))


class FixedGenerator:
    """Two overlapping masks per image; counts the images it was given."""

    calls: list = []

    def generate(self, rgb):
        FixedGenerator.calls.append(rgb.shape)
        a = np.zeros(rgb.shape[:2], bool)
        a[:, :32] = True
        b = np.zeros_like(a)
        b[:10, :10] = True
        return [dict(segmentation=b), dict(segmentation=a)]


@pytest.fixture
def fixed(monkeypatch):
    FixedGenerator.calls = []
    monkeypatch.setattr(api, 'build_generator', lambda *a, **k: FixedGenerator())
    monkeypatch.setattr(api, '_sam2_version', lambda: 'test')
    return FixedGenerator.calls


def test_resume_keeps_finished_images_and_other_settings_stop(tmp_path, fixed, capsys):
    write_images(tmp_path / 'images')
    argv = ['--images', str(tmp_path / 'images'), *FAST]
    assert tool.main(argv) == 0 and len(fixed) == 3
    assert '    SAM 2.1 masks [########################] 3/3' in capsys.readouterr().err  # the progress bar
    masks = tmp_path / SAM_MASK_DIR / 'images'
    label = np.asarray(Image.open(masks / 'img0.png'))
    assert label[0, 0] == 2 and label[20, 20] == 1 and label[20, 40] == 0  # the small mask over the large one
    (masks / 'n01' / 'img1.png').unlink()  # as if killed before its turn
    kept = {p: p.stat().st_mtime_ns for p in masks.glob('*.png')}
    assert tool.main(argv) == 0 and len(fixed) == 4  # only the missing one
    assert '1 label maps written, 2 done before' in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in masks.glob('*.png')} == kept
    assert tool.main(argv) == 0 and len(fixed) == 4  # nothing left: the model is not even built
    assert tool.main(argv + ['--points-per-side', '8']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'other settings (differs in: generator)' in err
    assert len(fixed) == 4


def test_shards_split_the_images(tmp_path, fixed):
    write_images(tmp_path / 'images', n=5)
    out = tmp_path / 'masks'
    for shard, done in ((1, ['img1.png', 'img2.png']), (0, ['img0.png', 'img1.png', 'img2.png', 'img3.png',
                                                             'img4.png'])):
        assert tool.main(['--images', str(tmp_path / 'images'), '--out', str(out), '--shard', str(shard),
                          '--num-shards', '2', *FAST]) == 0
        assert sorted(p.name for p in out.rglob('*.png')) == done  # every 2nd of the sorted paths from the shard's
    assert len(fixed) == 5  # no image twice
    assert len(FolderParts(str(tmp_path), img_dir='images', mask_dir='masks', ignore_value=0)) == 5


@pytest.mark.parametrize('argv, message', [
    (['--images', '{t}/none'], "image folder '{t}/none' does not exist"),
    (['--images', '{t}/images', '--model-size', 'tiny'], 'download sam2.1_hiera_tiny.pt from https://'),
    (['--images', '{t}/images', '--random-init', '--shard', '2', '--num-shards', '2'], '--shard 2 is not in 0..1'),
    (['--benchmark', 'imagenet', '--data-dir', '{t}', '--random-init'], 'IN (imagenet): no image folder'),
    (['--images', '{t}/images', '--random-init', '--min-mask-region-area', '25'], "sam2's CUDA extension"),
    (['--images', '{t}/images', '--random-init', '--out', '{t}/images/m'], "is inside the image folder"),
    (['--images', '{t}/images', '--random-init', '--out', '{t}/mine'], "{t}/mine holds PNGs but no sam_settings"),
])
def test_bad_input_is_one_line(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.setattr(api, '_sam2_version', lambda: 'test')
    write_images(tmp_path / 'images', n=1)
    (tmp_path / 'mine').mkdir()
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(tmp_path / 'mine' / 'img0.png')  # the user's own label map
    assert tool.main([a.format(t=tmp_path) for a in argv]) == 2
    assert (tmp_path / 'mine' / 'img0.png').is_file() and not (tmp_path / 'mine' / 'sam_settings.json').exists()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message.format(t=tmp_path) in err, err


def test_only_the_mask_module_imports_sam2():
    from tests.test_layering import imported_modules, python_files
    users = {str(p.relative_to(REPO)) for folder in ('mmrats', 'tools') for p in python_files(folder)
             if any(m == 'sam2' or m.startswith('sam2.') for m in imported_modules(p))}
    assert users == {'mmrats/apis/sam_masks.py'}


def test_without_sam2_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'sam2', None)  # import sam2 -> ImportError
    write_images(tmp_path / 'images', n=1)
    assert tool.main(['--images', str(tmp_path / 'images'), '--random-init']) == 2
    assert 'sam2 package is not installed' in capsys.readouterr().err
