"""Part discovery during DINO pretraining (paper §4.5, Fig. 8): the ImageNet configs' PartImageNet validation,
the best checkpoint by M2O beside the last ones, resume, and the optional validation without its data."""
import json

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmrats.datasets import PartBenchmarkDataset, PartImageNetParts, spread_indices, write_part_objects
from mmrats.datasets.part_objects import PartObjectsConfig
from mmrats.evaluation.part_benchmark import ResizedParts
from mmrats.utils.preflight import drop_unprepared_validation
from mmrats.utils.run_config import unique_visualizer
from tests.conftest import REPO, load_tool

train_tool = load_tool('tools/train.py')
RATS_S = REPO / 'configs/dino/dino_rats-s16_8xb96-300e_in1k-224.py'
LAB = REPO / 'configs/lab/dino_rats-lab_1xb32-2e_part-objects-64.py'
DINO_CONFIGS = sorted((REPO / 'configs/dino').glob('dino_*.py'))


@pytest.fixture(scope='module')
def partimagenet(tmp_path_factory):
    """The part objects in PartImageNet's layout (COCO json + images), a val split of 6 images."""
    root = tmp_path_factory.mktemp('partimagenet')
    write_part_objects(root, dict(val=6), seed=3, cfg=PartObjectsConfig(img_size=48))
    return root


def test_every_imagenet_dino_config_validates_parts_and_keeps_the_best():
    for path in DINO_CONFIGS:
        cfg = Config.fromfile(str(path))
        ds = cfg.val_dataloader.dataset
        assert (ds.type, ds.kind, ds.split, ds.img_size) == ('mmrats.PartBenchmarkDataset', 'partimagenet', 'val',
                                                             512), path.name
        assert cfg.val_evaluator.type == 'mmrats.PartDiscoveryMetric' and cfg.val_evaluator.top_k == [50]
        assert cfg.train_cfg.val_interval == 10 and cfg.optional_val is True
        ckpt = cfg.default_hooks.checkpoint
        assert (ckpt.save_best, ckpt.rule, ckpt.interval, ckpt.max_keep_ckpts) == ('parts/m2o', 'greater', 10, 3)


def test_lab_and_demo_configs_keep_their_own_validation():
    lab = Config.fromfile(str(LAB))
    assert lab.val_dataloader.dataset.type == 'mmrats.PartObjectsDataset'
    assert set(lab.val_dataloader.dataset) == {'type', 'num_images', 'split', 'seed', 'img_size', 'pipeline'}
    assert lab.default_hooks.checkpoint.save_best is None
    demo = Config.fromfile(str(REPO / 'configs/demo/dino_rats-demo_1xb16-12e_sample-photos-96.py'))
    assert demo.val_dataloader is None and demo.val_cfg is None and demo.default_hooks.checkpoint.save_best is None


def test_dataset_gives_what_the_part_segmentation_tool_reads(partimagenet):
    reader = PartImageNetParts(str(partimagenet), split='val')
    tool = ResizedParts(reader, 32)
    ds = PartBenchmarkDataset('partimagenet', str(partimagenet), split='val', img_size=32)
    assert len(ds) == len(tool) == 6
    for i in range(6):
        item = ds.get_data_info(i)
        _, rgb, label = tool[i]
        assert item['img'].shape == (32, 32, 3) and item['ori_shape'] == (48, 48)
        assert np.array_equal(item['img'][..., ::-1], rgb.numpy())  # BGR, as LoadImageFromFile gives
        assert np.array_equal(item['gt_part_label'], label.numpy())
        assert item['img_path'] == reader.items[i][0]
    packed = PartBenchmarkDataset('partimagenet', str(partimagenet), split='val', img_size=32,
                                  pipeline=[dict(type='PackInputs', algorithm_keys=['gt_part_label'])])[0]
    assert packed['inputs'].shape == (3, 32, 32) and packed['data_samples'].gt_part_label.shape == (32, 32)


def test_subset_spreads_over_the_benchmark(partimagenet):
    assert spread_indices(10, 4) == [0, 3, 6, 9]
    assert spread_indices(5, None) == spread_indices(5, 9) == [0, 1, 2, 3, 4]
    ds = PartBenchmarkDataset('partimagenet', str(partimagenet), split='val', img_size=16, num_images=3)
    assert [d['reader_idx'] for d in ds.data_list] == [0, 2, 5]
    with pytest.raises(ValueError, match='kind=.*choose one of'):
        PartBenchmarkDataset('pascal', str(partimagenet))


def run_cfg(partimagenet, work_dir, max_epochs: int) -> Config:
    """The lab's tiny DINO on in-memory part objects, validated as the ImageNet configs are (their val loop and
    checkpoint hook), every epoch, on the written PartImageNet layout at 32 px."""
    cfg, real = Config.fromfile(str(LAB)), Config.fromfile(str(RATS_S))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.update(batch_size=4, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.num_images = 8
    views = cfg.train_dataloader.dataset.pipeline[0]
    views.num_views = [1, 1, 1]
    for pipeline, size in zip(views.transforms, (32, 32, 16)):
        pipeline[0].scale = size
    cfg.model.backbone.img_size = 32
    cfg.val_dataloader, cfg.val_evaluator, cfg.optional_val = real.val_dataloader, real.val_evaluator, True
    cfg.val_dataloader.update(batch_size=3, num_workers=0)
    cfg.val_dataloader.dataset.update(data_root=str(partimagenet), img_size=32)
    cfg.default_hooks.checkpoint = real.default_hooks.checkpoint
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=2)
    cfg.train_cfg.update(max_epochs=max_epochs, val_interval=1)
    cfg.param_scheduler[1].T_max = cfg.param_scheduler[1].end = cfg.param_scheduler[2].end = 6
    unique_visualizer(cfg)
    path = work_dir.parent / f'{work_dir.name}_{max_epochs}.py'
    cfg.dump(str(path))
    return path


def m2o_by_epoch(work_dir) -> dict[int, float]:
    out = {}
    for path in sorted(work_dir.glob('*/vis_data/scalars.json')):
        for line in path.read_text().splitlines():
            row = json.loads(line)
            if 'parts/m2o' in row:
                out[row['step']] = row['parts/m2o']
    return out


def test_best_checkpoint_by_m2o_survives_resume(partimagenet, tmp_path):
    wd = tmp_path / 'run'
    assert train_tool.main([str(run_cfg(partimagenet, wd, 3))]) == 0
    assert train_tool.main([str(run_cfg(partimagenet, wd, 5)), '--resume']) == 0
    scores = m2o_by_epoch(wd)
    assert sorted(scores) == [1, 2, 3, 4, 5]  # every epoch validated, the resumed run went on from epoch 3
    best = max(scores, key=lambda e: (scores[e], -e))  # the first epoch of the highest score
    # one best checkpoint, the best of all 5 epochs: the resumed run compared with the score saved before it
    assert [p.name for p in wd.glob('best_*.pth')] == [f'best_parts_m2o_epoch_{best}.pth']
    assert sorted(p.name for p in wd.glob('epoch_*.pth')) == ['epoch_4.pth', 'epoch_5.pth']  # the last 2
    ckpt = torch.load(wd / f'best_parts_m2o_epoch_{best}.pth', map_location='cpu')
    assert ckpt['meta']['epoch'] == best
    assert ckpt['message_hub']['runtime_info']['best_score'] == pytest.approx(scores[best])


def test_without_its_data_the_optional_validation_is_dropped_with_a_warning(partimagenet, tmp_path, capsys):
    cfg = Config.fromfile(str(RATS_S))
    cfg.val_dataloader.dataset.data_root = str(tmp_path / 'nowhere')
    lines = []
    assert drop_unprepared_validation(cfg, lines.append) == ['part validation']
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.val_evaluator is None
    assert cfg.default_hooks.checkpoint.save_best is None
    assert 'nowhere' in lines[0] and 'the last 3 checkpoint' in lines[0] and 'optional_val=False' in lines[0]
    # present data: nothing changes
    ok = Config.fromfile(str(RATS_S))
    ok.val_dataloader.dataset.update(data_root=str(partimagenet))
    assert drop_unprepared_validation(ok, lines.append) == [] and ok.val_cfg is not None
    # a whole run: trains, warns once, keeps no best checkpoint
    wd = tmp_path / 'run'
    path = run_cfg(tmp_path / 'nowhere', wd, 1)
    assert train_tool.main([str(path)]) == 0
    err = capsys.readouterr().err
    assert err.count('warning: training without the validation') == 1
    assert (wd / 'epoch_1.pth').exists() and not list(wd.glob('best_*.pth'))
    # not optional: the missing data is one error line before anything is built
    assert train_tool.main([str(path), '--cfg-options', 'optional_val=False']) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: val_dataloader.dataset (partimagenet') and 'Traceback' not in err


def test_an_incomplete_benchmark_is_named(partimagenet, tmp_path):
    import shutil
    broken = tmp_path / 'broken'
    shutil.copytree(partimagenet, broken)
    next((broken / 'images' / 'val').rglob('*.png')).unlink()
    cfg = Config.fromfile(str(RATS_S))
    cfg.val_dataloader.dataset.data_root = str(broken)
    cfg.optional_val = False
    from mmrats.utils.preflight import DataRootError, check_data_roots
    with pytest.raises(DataRootError, match=r"image '.*' of .*val.json"):
        check_data_roots(cfg, ('val_dataloader',))


def imagenet_folders(root, val_flat=False, val_classes=('a', 'b')):
    for split, classes in (('train', ('a', 'b')), ('val', val_classes)):
        for c in classes:
            d = root / split / ('' if split == 'val' and val_flat else c)
            d.mkdir(parents=True, exist_ok=True)
            (d / f'{c}.png').write_bytes(b'')


@pytest.mark.parametrize('case', ['missing val', 'flat val', 'other classes'])
def test_unusable_knn_folders_switch_the_knn_validation_off_or_are_one_error(case, tmp_path):
    root = tmp_path / 'imagenet'
    if case == 'missing val':
        imagenet_folders(root)
        import shutil
        shutil.rmtree(root / 'val')
    else:
        imagenet_folders(root, val_flat=case == 'flat val', val_classes=('a', 'c') if case == 'other classes'
                         else ('a', 'b'))
    cfg = Config.fromfile(str(RATS_S))
    cfg.train_dataloader.dataset.data_root = str(root)  # the hook's data_root=None follows it
    i = next(j for j, h in enumerate(cfg.custom_hooks) if h.type == 'mmrats.KNNValidationHook')
    lines = []
    assert 'k-NN validation' in drop_unprepared_validation(cfg, lines.append)
    assert cfg.custom_hooks[i].interval == 0
    why = {'missing val': 'does not exist', 'flat val': 'has no class folders',
           'other classes': 'class folders of the train and val splits'}[case]
    knn_lines = [line for line in lines if 'k-NN' in line]
    assert len(knn_lines) == 1 and why in knn_lines[0] and f'custom_hooks.{i}.interval=0' in knn_lines[0]
    strict = Config.fromfile(str(RATS_S))
    strict.train_dataloader.dataset.data_root = str(root)
    strict.optional_val = False
    from mmrats.utils.preflight import DataRootError
    with pytest.raises(DataRootError, match=why):
        drop_unprepared_validation(strict, lines.append)


def test_usable_knn_folders_keep_the_knn_validation(tmp_path):
    root = tmp_path / 'imagenet'
    imagenet_folders(root)
    cfg = Config.fromfile(str(RATS_S))
    cfg.train_dataloader.dataset.data_root = str(root)
    from mmrats.utils.preflight import knn_hook_problem
    assert knn_hook_problem(cfg) is None
    cfg.train_dataloader.dataset.data_root = str(tmp_path / 'nowhere')  # the training data's own error
    assert knn_hook_problem(cfg) is None
