"""tools/analysis/part_table.py on tiny benchmark folders in each reader's layout (tiny backbones, 64x64).

COCO (SAM-mask folder layout), ADE20K and ImageNet-S919 are written from the synthetic scenes, PartImageNet by the
part-objects writer; ImageNet is left unprepared. Each table cell must equal what
tools/analysis/part_segmentation.py gives on that folder alone.
"""
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from mmrats.datasets.part_benchmarks import BENCHMARKS, SAM_MASK_DIR, SAM_SETTINGS, open_benchmark
from mmrats.datasets.part_datasets import PartDatasetError
from mmrats.evaluation.part_table import COLUMNS, table_markdown, table_row
from mmrats.models import RATSViT
from tests.conftest import load_tool

table = load_tool('tools/analysis/part_table.py')
single = load_tool('tools/analysis/part_segmentation.py')

COMMON = ['--img-size', '64', '--top-k', '4', '--batch-size', '4', '--device', 'cpu']


def write_benchmarks(data) -> None:
    """COCO (SAM masks), ADE20K, ImageNet-S919 and PartImageNet, 3-4 images each, under ``data``."""
    from mmrats.datasets.part_objects import PartObjectsConfig
    from mmrats.datasets.part_objects_writer import write_part_objects
    from mmrats.datasets.synthetic_scenes import write_dataset
    write_dataset(str(data / 'scenes'), num_train=1, num_val=4, size=64)
    ade = data / 'ade' / 'ADEChallengeData2016'
    shutil.copytree(data / 'scenes' / 'ade', ade)
    images = sorted((ade / 'images' / 'validation').glob('*.jpg'))
    for i, img in enumerate(images[:3]):  # ImageNet-S919: <wnid>/ folders, RGB ids R + 256 G, 1000 ignored
        label = np.asarray(Image.open(ade / 'annotations' / 'validation' / f'{img.stem}.png')).astype(np.int64)
        ids = np.where(label == 0, 1000, label + 300 * (i % 2))
        rgb = np.stack([ids % 256, ids // 256, np.zeros_like(ids)], -1).astype(np.uint8)
        for sub, suffix, pic in (('validation', '.JPEG', Image.open(img)), ('validation-segmentation', '.png',
                                                                              Image.fromarray(rgb))):
            (data / 'ImageNetS919' / sub / 'n0000').mkdir(parents=True, exist_ok=True)
            pic.save(data / 'ImageNetS919' / sub / 'n0000' / f'{img.stem}{suffix}')
    masks = data / 'coco' / SAM_MASK_DIR / 'val2017'  # as the SAM mask tool writes them: uint16, 0 = no mask
    masks.mkdir(parents=True)
    (data / 'coco' / 'val2017').mkdir()
    for img in images:
        shutil.copy(img, data / 'coco' / 'val2017' / img.name)
        label = np.asarray(Image.open(ade / 'annotations' / 'validation' / f'{img.stem}.png')).astype(np.uint16)
        Image.fromarray(label * 7).save(masks / f'{img.stem}.png')
    (masks / SAM_SETTINGS).write_text(json.dumps(dict(model='test')))
    write_part_objects(data / 'PartImageNet', dict(test=3), seed=1, cfg=PartObjectsConfig(img_size=64), ade=False)


@pytest.fixture(scope='module')
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp('bench')
    write_benchmarks(root / 'data')
    torch.manual_seed(1)
    torch.save(RATSViT(arch='tiny', img_size=64).state_dict(), root / 'rats.pth')
    torch.save(RATSViT(arch='tiny', mode='mhsa', img_size=64).state_dict(), root / 'vit.pth')
    out = root / 'table'
    argv = ['--checkpoint', str(root / 'rats.pth'), str(root / 'vit.pth'), '--name', 'RATS', 'ViT',
            '--data-dir', str(root / 'data'), '--any-size', '--out-dir', str(out), *COMMON]
    assert table.main(argv) == 0
    return root, argv, json.loads((out / 'table.json').read_text())


SINGLE = {'COCO': ['--dataset-type', 'folder', '--data-root', '{d}/coco', '--image-dir', 'val2017', '--mask-dir',
                   f'{SAM_MASK_DIR}/val2017', '--ignore-value', '0'],
          'ADE20K': ['--dataset-type', 'ade20k', '--data-root', '{d}/ade/ADEChallengeData2016'],
          'IN-S919': ['--dataset-type', 'imagenet-s', '--data-root', '{d}/ImageNetS919'],
          'PartIN': ['--dataset-type', 'partimagenet', '--data-root', '{d}/PartImageNet']}


def test_table_equals_the_single_dataset_tool(bench, tmp_path, capsys):
    root, _, res = bench
    assert [r['model']['name'] for r in res['rows']] == ['RATS', 'ViT']
    assert set(res['skipped']) == {'imagenet'} and 'IN (imagenet) is not prepared' in res['skipped']['imagenet']
    assert res['sam_settings'] == {'coco': {'model': 'test'}}
    for row, ckpt in zip(res['rows'], ('rats.pth', 'vit.pth')):
        assert row['columns'] == ['COCO', 'ADE20K', 'IN-S919', 'PartIN'] and not row['complete']
        for column, args in SINGLE.items():
            out = tmp_path / f'{ckpt}_{column}'
            assert single.main([a.format(d=root / 'data') for a in args]
                               + ['--checkpoint', str(root / ckpt), '--out-dir', str(out), *COMMON]) == 0
            one = next(iter(json.loads((out / 'results.json').read_text())['datasets'].values()))
            assert (row['m2o'][column], row['o2o'][column], row['ari'][column], row['num_images'][column]) == \
                (one['m2o'], one['o2o'], one['ari'], one['num_images']), (ckpt, column)
        assert row['avg_m2o'] == pytest.approx(np.mean(list(row['m2o'].values())))
        assert row['avg_ari'] == pytest.approx(np.mean(list(row['ari'].values())))
    assert res['rows'][0]['num_images'] == {'COCO': 4, 'ADE20K': 4, 'IN-S919': 3, 'PartIN': 3}
    assert res['rows'][1]['model']['method'] == 'cls-attn'
    md = (root / 'table' / 'table.md').read_text()
    r = res['rows'][0]
    assert (f"| RATS | RATS-custom/16 | 8 | {r['m2o']['COCO']:.2f} | {r['m2o']['ADE20K']:.2f} | - | "
            f"{r['m2o']['IN-S919']:.2f} | {r['m2o']['PartIN']:.2f} | {r['avg_m2o']:.2f}* |") in md
    assert '| DINOv1 | RATS-S/16 | 96 | 17.31 | 26.98 | 21.87 | 73.18 | 46.43 | 37.15 | 21.7 |' in md


def test_rerun_reads_the_finished_benchmarks(bench, monkeypatch, capsys):
    root, argv, res = bench
    (root / 'table' / 'ViT' / 'coco.json').unlink()  # as if killed during ViT's COCO
    import mmrats.apis.part_table as api
    calls = []
    real = api.evaluate_parts
    monkeypatch.setattr(api, 'evaluate_parts', lambda m, readers, *a, **k: calls.append(readers[0].name)
                        or real(m, readers, *a, **k))
    assert table.main(argv) == 0
    assert calls == ['COCO']
    cap = capsys.readouterr()
    assert '    parts  [########################] 1/1' in cap.err  # the progress bar, of COCO only
    assert cap.out.count('done before') == 7 and cap.out.count('ViT: ') == 1  # the model's line once
    again = json.loads((root / 'table' / 'table.json').read_text())
    assert [r['m2o'] for r in again['rows']] == [r['m2o'] for r in res['rows']]


def test_other_settings_are_refused_not_mixed(bench, capsys):
    root, argv, _ = bench
    before = (root / 'table' / 'RATS' / 'ade20k.json').read_text()
    assert table.main(argv + ['--top-k', '2']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'other settings (differs in: top_k)' in err
    assert (root / 'table' / 'RATS' / 'ade20k.json').read_text() == before


def test_unprepared_and_incomplete_benchmarks_are_one_line_each(bench, tmp_path, capsys):
    root, _, _ = bench
    ckpt = str(root / 'rats.pth')
    assert table.main(['--checkpoint', ckpt, '--data-dir', str(root / 'data'), '--out-dir', str(tmp_path), *COMMON]) == 2
    cap = capsys.readouterr()
    lines = [ln for ln in cap.out.splitlines() if ln.startswith('skip ')]
    assert len(lines) == 5 and 'Traceback' not in cap.err and len(cap.err.strip().splitlines()) == 1
    assert 'COCO (coco) is incomplete: 4 images' in lines[0] and 'split has 5,000' in lines[0]
    assert 'split has 12,419' in lines[3]  # ImageNet-S919 as distributed (the paper counts 10,767)
    assert f"IN (imagenet) is not prepared: {root / 'data' / 'imagenet'} does not exist" in lines[2]
    assert 'sam_masks.py --images' in lines[2]
    shutil.copytree(root / 'data' / 'coco', tmp_path / 'coco')
    (tmp_path / 'coco' / SAM_MASK_DIR / 'val2017' / SAM_SETTINGS).unlink()
    with pytest.raises(PartDatasetError, match='has no sam_settings.json'):
        open_benchmark(BENCHMARKS['coco'], tmp_path / 'coco', full=False)
    next((tmp_path / 'coco' / SAM_MASK_DIR / 'val2017').glob('*.png')).unlink()
    assert table.main(['--checkpoint', ckpt, '--root', f'coco={tmp_path / "coco"}', '--benchmarks', 'coco',
                       '--any-size', '--out-dir', str(tmp_path / 'o'), *COMMON]) == 2
    cap = capsys.readouterr()
    assert '1 of 4 images have no label map' in cap.out and 'none of the benchmarks coco is ready' in cap.err


@pytest.mark.parametrize('argv, message', [
    (['--checkpoint', '{r}/missing.pth'], "cannot load checkpoint '{r}/missing.pth'"),
    (['--checkpoint', '{r}/rats.pth', '--root', 'cocoa=x'], "--root 'cocoa=x': expected KEY=PATH"),
    (['--checkpoint', '{r}/rats.pth', '--name', 'a', 'b'], '2 names for 1 checkpoints'),
    (['--checkpoint', '{r}/rats.pth', '--img-size', '72'], 'img_size=72 is not a multiple of patch_size=16'),
])
def test_bad_input_is_one_line(bench, tmp_path, capsys, argv, message):
    root, _, _ = bench
    argv = [a.format(r=root) for a in argv]
    assert table.main(COMMON + argv + ['--data-dir', str(root / 'data'), '--any-size', '--out-dir', str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message.format(r=root) in err, err


def test_row_averages_cover_the_evaluated_columns_and_say_so():
    model = dict(name='m', backbone='RATS-S/16', num_registers=96)
    five = {c: dict(m2o=10.0 * (i + 1), o2o=5.0, ari=float(i), num_images=3) for i, c in enumerate(COLUMNS)}
    full = table_row(model, five)
    assert full['complete'] and full['avg_m2o'] == pytest.approx(30.0) and full['avg_ari'] == pytest.approx(2.0)
    assert '| m | RATS-S/16 | 96 | 10.00 | 20.00 | 30.00 | 40.00 | 50.00 | 30.00 | 2.0 |' in table_markdown([full])
    part = table_row(model, {c: five[c] for c in ('COCO', 'PartIN')})
    assert not part['complete'] and part['avg_m2o'] == pytest.approx(30.0) and part['avg_ari'] == pytest.approx(2.0)
    md = table_markdown([part], paper=False)
    assert '| m | RATS-S/16 | 96 | 10.00 | - | - | - | 50.00 | 30.00* | 2.0* |' in md and "paper's Table 1" not in md
