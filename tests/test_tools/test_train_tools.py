"""tools/train.py, tools/test.py and 2-process training on the demo data (tiny runs)."""
import json
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO, free_port, load_tool

test_tool = load_tool('tools/test.py')
train_tool = load_tool('tools/train.py')

SEG = str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-ade-128x128.py')
DET = str(REPO / 'configs/demo/mask2former_rats-demo-regq_1xb4-300it_synthetic-coco-128x128.py')


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    from mmrats.datasets.synthetic_scenes import write_dataset
    root = tmp_path_factory.mktemp('synthetic')
    write_dataset(str(root), num_train=8, num_val=4, size=128, seed=0)
    return root


def short_run(root, config, work_dir, iters, extra=()):
    data = 'ade' if config == SEG else 'coco/'
    ann = [] if config == SEG else [f'{s}_evaluator.ann_file={root}/coco/annotations/instances_val2017.json'
                                    for s in ('val', 'test')]
    return ['--work-dir', str(work_dir), *extra, '--cfg-options', *ann,
            f'train_dataloader.dataset.data_root={root}/{data}', f'val_dataloader.dataset.data_root={root}/{data}',
            f'test_dataloader.dataset.data_root={root}/{data}', f'train_cfg.max_iters={iters}',
            f'train_cfg.val_interval={iters}', 'default_hooks.checkpoint.interval=2',
            'default_hooks.logger.interval=1', 'train_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
            'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
            'test_dataloader.persistent_workers=False', 'train_dataloader.batch_size=2']


def logged_iters(work_dir):
    iters = []
    for path in work_dir.glob('*/vis_data/scalars.json'):
        iters += [json.loads(line)['iter'] for line in path.read_text().splitlines() if '"loss"' in line]
    return sorted(iters)


def test_seg_train_resume_and_test(scenes, tmp_path):
    wd = tmp_path / 'seg'
    assert train_tool.main([SEG, *short_run(scenes, SEG, wd, 2)]) == 0
    assert (wd / 'iter_2.pth').exists()
    first = logged_iters(wd)
    assert first == [1, 2]
    # --resume continues from iteration 2 with the saved optimizer state
    assert train_tool.main([SEG, *short_run(scenes, SEG, wd, 4, ['--resume'])]) == 0
    assert logged_iters(wd) == [1, 2, 3, 4]
    ckpt = torch.load(wd / 'iter_4.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 4
    steps = {int(s['step']) for s in ckpt['optimizer']['state'].values()}
    assert steps == {4}  # 2 steps before the stop + 2 after: the AdamW state was carried over
    # tools/test.py evaluates and renders predictions
    show = tmp_path / 'show'
    assert test_tool.main([SEG, str(wd / 'iter_4.pth'), *short_run(scenes, SEG, tmp_path / 't', 4,
                                                                   ['--show-dir', str(show)])]) == 0
    assert len(list(show.rglob('*.png'))) == 4  # one picture per validation image


def test_demo_driver_untrained_vs_trained(scenes, tmp_path):
    mask2former_demo = load_tool('tools/demo/mask2former_demo.py')
    wd = tmp_path / 'demo'
    assert mask2former_demo.main(['--task', 'seg', '--iters', '2', '--data-root', str(scenes),
                                  '--work-dir', str(wd)]) == 0
    res = json.loads((wd / 'demo_results.json').read_text())['seg']
    assert res['iters'] == 2 and set(res['trained']) == set(res['untrained']) == {'mIoU', 'mAcc', 'aAcc'}
    # the trained column is the model after training: 2 iterations already move it off the random start
    # (untrained mIoU 0.17 / aAcc 0.74, trained 15.81 / 94.83: background everywhere)
    assert res['trained']['mIoU'] > res['untrained']['mIoU'] and res['trained']['aAcc'] > res['untrained']['aAcc']
    assert torch.load(wd / 'seg' / 'iter_2.pth', map_location='cpu')['meta']['iter'] == 2


def test_det_train_and_evaluate(scenes, tmp_path):
    wd = tmp_path / 'det'
    assert train_tool.main([DET, *short_run(scenes, DET, wd, 2)]) == 0
    assert (wd / 'iter_2.pth').exists()
    scalars = [json.loads(line) for p in wd.glob('*/vis_data/scalars.json') for line in p.read_text().splitlines()]
    (row,) = [s for s in scalars if 'coco/segm_mAP' in s]  # one evaluation, after the 2 iterations
    steps = {int(s['step']) for s in torch.load(wd / 'iter_2.pth', map_location='cpu')['optimizer']['state'].values()}
    assert steps == {2}
    # the metric was computed against this dataset's annotations: COCO reports -1 for an area range
    # without ground truth (the synthetic val objects are all small, < 32^2 pixels)
    ann = json.loads((scenes / 'coco/annotations/instances_val2017.json').read_text())['annotations']
    ranges = dict(s=(0, 32 ** 2), m=(32 ** 2, 96 ** 2), l=(96 ** 2, 1e10))
    for kind in ('bbox', 'segm'):
        assert 0 <= row[f'coco/{kind}_mAP'] <= 1
        for size, (lo, hi) in ranges.items():
            present = any(lo <= a['area'] < hi for a in ann)
            assert (row[f'coco/{kind}_mAP_{size}'] >= 0) == present, (kind, size)


def test_missing_data_root_is_a_clear_error(tmp_path, capsys):
    assert train_tool.main([SEG, '--work-dir', str(tmp_path), '--cfg-options',
                            f'train_dataloader.dataset.data_root={tmp_path}/nowhere']) == 2
    err = capsys.readouterr().err
    assert f"train_dataloader.dataset.data_root = '{tmp_path}/nowhere' does not exist" in err
    assert 'images/training' in err and 'make_synthetic_scenes.py' in err
    (tmp_path / 'coco').mkdir()
    assert train_tool.main([DET, '--work-dir', str(tmp_path), '--cfg-options',
                            f'train_dataloader.dataset.data_root={tmp_path}/coco/']) == 2
    assert 'annotations/instances_train2017.json' in capsys.readouterr().err


def test_missing_evaluator_annotations_are_a_clear_error(scenes, tmp_path, capsys):
    args = short_run(scenes, DET, tmp_path, 1)
    args = [a for a in args if not a.startswith('val_evaluator.ann_file')] + \
        [f'val_evaluator.ann_file={tmp_path}/none.json']
    assert train_tool.main([DET, *args]) == 2
    assert f"val_evaluator.ann_file = '{tmp_path}/none.json' does not exist" in capsys.readouterr().err


def test_two_process_distributed_training(scenes, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2', f'--master_port={free_port()}',
           str(REPO / 'tools/train.py'), SEG, '--launcher', 'pytorch',
           *short_run(scenes, SEG, tmp_path / 'dist', 2)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=str(REPO))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert (tmp_path / 'dist' / 'iter_2.pth').exists()
    log = next((tmp_path / 'dist').glob('*/*.log')).read_text()
    # the gloo group only forms when both ranks join; rank 0 logs the distributed run
    assert 'Distributed launcher: pytorch' in log and 'Distributed training: True' in log
    assert 'terminate called' not in out.stderr  # a rank that aborted at exit (open gloo group)


def test_a_distributed_run_closes_its_process_group(scenes, tmp_path, monkeypatch):
    """A gloo group left open aborts ranks at interpreter exit (SIGABRT after a good run); close it."""
    dist = torch.distributed
    for key, value in dict(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()), RANK='0', WORLD_SIZE='1',
                           LOCAL_RANK='0', OMP_NUM_THREADS='1', MKL_NUM_THREADS='1').items():
        monkeypatch.setenv(key, value)  # (mmengine would set the thread counts itself, warn, and keep them)
    args = [*short_run(scenes, SEG, tmp_path, 2), '--launcher', 'pytorch']
    try:
        assert train_tool.main([SEG, *args]) == 0
        assert not dist.is_initialized(), 'tools/train.py left the process group open'
        assert test_tool.main([SEG, str(tmp_path / 'iter_2.pth'), *args]) == 0
        assert not dist.is_initialized(), 'tools/test.py left the process group open'
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
