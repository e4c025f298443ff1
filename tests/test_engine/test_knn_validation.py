"""The k-NN validation during DINO pretraining (mmrats.KNNValidationHook, DINO's eval_knn protocol on a subset):
its numbers are mmrats.apis.knn_evaluate's, it logs at its epochs inside a real DINO run and leaves the model
training, the ranks' shares gather back into one order, a missing folder stops the run before it trains, and
the ImageNet DINO configs (only they) carry it, switchable off from the command line."""
import copy
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.logging import MessageHub, MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmengine.visualization import Visualizer
from PIL import Image
from torch import nn

from mmrats.apis import knn_evaluate
from mmrats.engine.hooks import KNNValidationHook
from mmrats.engine.hooks.knn_validation_hook import train_data_root
from mmrats.evaluation import knn_features
from mmrats.models import RATSViT
from mmrats.utils.run_config import unique_visualizer
from tests.conftest import REPO

LAB = REPO / 'configs/lab/dino_rats-lab_1xb32-2e_part-objects-64.py'
RATS_S = REPO / 'configs/dino/dino_rats-s16_8xb96-300e_in1k-224.py'
DINO_CONFIGS = sorted((REPO / 'configs/dino').glob('dino_*.py'))
CLASSES = ('red', 'green', 'blue')


def write_folder(root, per_split=(('train', 4), ('val', 3))):
    """3 classes of noisy 32 x 40 PNGs, DATA_ROOT/<split>/<class>/<i>.png: a random colour per image, its class's
    channel raised by 30 (hard enough that a random backbone is neither always right nor always wrong)."""
    rng = np.random.default_rng(0)
    for split, n in per_split:
        for c, name in enumerate(CLASSES):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                colour = rng.uniform(60, 190, 3)
                colour[c] += 30
                img = np.clip(colour + rng.normal(0, 30, (32, 40, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(root / split / name / f'{i}.png')
    return root


class TinyDINO(nn.Module):
    """What the hook reads of mmrats.DINO: the teacher's backbone and the global representation."""

    def __init__(self):
        super().__init__()
        self.backbone = RATSViT(arch='tiny', img_size=32)
        self.teacher = nn.ModuleDict(dict(backbone=RATSViT(arch='tiny', img_size=32)))
        self.global_repr = 'registers'


def stand_in_runner(model, cfg=None):
    return SimpleNamespace(model=model, cfg=Config(cfg or {}), epoch=1, max_epochs=4, optim_wrapper=None,
                           logger=MMLogger.get_instance('knn_test'), message_hub=MessageHub.get_instance('knn_test'),
                           visualizer=Visualizer.get_instance('knn_test'))


@pytest.fixture
def data(tmp_path):
    return write_folder(tmp_path / 'data')


def test_the_hooks_numbers_are_knn_evaluate_on_the_teachers_subset(data):
    model = TinyDINO().train()
    hook = KNNValidationHook(interval=2, data_root=str(data), max_per_class=3, val_max_per_class=2, k=4,
                             img_size=32, batch_size=4, num_workers=1)
    runner = stand_in_runner(model)
    seen = []
    model.teacher.backbone.patch_embed.register_forward_pre_hook(
        lambda m, x: seen.append((m.training, torch.is_grad_enabled())))
    hook.before_train(runner)
    hook.after_train_epoch(runner)  # epoch 2 of 4: interval 2
    assert seen and set(seen) == {(False, False)}  # eval mode, no autograd
    assert model.training and model.teacher.backbone.training  # train mode given back
    logged = {key: runner.message_hub.get_scalar(key).current() for key in ('knn/top1', 'knn/top5')}
    want = knn_evaluate(copy.deepcopy(model.teacher.backbone), data, k=4, img_size=32, max_per_class=3,
                        val_max_per_class=2)
    assert (want['num_train'], want['num_test']) == (9, 6)  # the subset, not the 12 / 9 images written
    assert logged == pytest.approx({'knn/top1': want['top1'], 'knn/top5': want['top5']})
    assert 0 < want['top1'] < 100  # the teacher is not trivially right or wrong here
    student = knn_evaluate(copy.deepcopy(model.backbone), data, k=4, img_size=32, max_per_class=3,
                           val_max_per_class=2)
    assert student['top1'] != want['top1']  # the teacher is what is measured


def test_the_ranks_shares_gather_in_the_order_of_one_process(data, monkeypatch):
    torch.manual_seed(0)
    backbone = RATSViT(arch='tiny', img_size=32).eval()
    paths = knn_features.knn_splits(data, max_per_class=3)['train_paths'][:7]  # 7: unequal shares (4 + 3)
    one = knn_features.sharded_features(backbone, paths, img_size=32, batch_size=3)
    shares = {}

    def as_rank(rank):
        def gather(padded):  # mmengine's all_gather on 2 ranks: every rank's padded rows, in rank order
            shares[rank] = padded.clone()
            return [shares.get(0, padded), shares.get(1, padded)]
        monkeypatch.setattr(knn_features.dist, 'get_dist_info', lambda: (rank, 2))
        monkeypatch.setattr(knn_features.dist, 'all_gather', gather)
        return knn_features.sharded_features(backbone, paths, img_size=32, batch_size=3)

    as_rank(1)  # rank 1 computes its share (items 1, 3, 5) first: what rank 0 gathers
    two = as_rank(0)
    assert [p.name for p in knn_features.shard(paths, 1, 2)] == [p.name for p in paths[1::2]]
    assert shares[0].shape == shares[1].shape == (4, backbone.embed_dims)  # both padded to ceil(7 / 2)
    assert torch.allclose(two, one, atol=1e-5)


class ModeProbe(Hook):
    """After each epoch's hooks: is the model training (the k-NN ran in eval mode and gave it back)?"""
    priority = 'LOWEST'

    def __init__(self):
        self.modes, self.iters = [], 0

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iters += 1

    def after_train_epoch(self, runner):
        m = runner.model
        self.modes.append((m.training, m.backbone.training, m.teacher.training))


def tiny_run(work_dir, data_root, max_epochs=3, interval=2):
    """The lab's tiny DINO on 8 in-memory images (32 px, no part validation) with the ImageNet configs' k-NN
    hook pointed at ``data_root``."""
    cfg, real = Config.fromfile(str(LAB)), Config.fromfile(str(RATS_S))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.update(batch_size=4, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.num_images = 8
    views = cfg.train_dataloader.dataset.pipeline[0]
    views.num_views = [1, 1, 1]
    for pipeline, size in zip(views.transforms, (32, 32, 16)):
        pipeline[0].scale = size
    cfg.model.backbone.img_size = 32
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
    cfg.default_hooks.checkpoint.interval = 100
    cfg.param_scheduler[1].T_max = cfg.param_scheduler[1].end = cfg.param_scheduler[2].end = max_epochs
    cfg.custom_hooks.append(real.custom_hooks[2])  # at index 2, as in the ImageNet configs
    cfg.custom_hooks[2].update(interval=interval, data_root=str(data_root), max_per_class=3, val_max_per_class=2,
                               k=4, img_size=32, batch_size=4, num_workers=1)
    unique_visualizer(cfg)
    return cfg


@pytest.fixture
def scopes():
    saved = copy.copy(DefaultScope._instance_dict)  # a Runner makes its config's scope current for the process
    yield
    DefaultScope._instance_dict = saved


def test_inside_a_dino_run_it_logs_at_its_epochs_and_the_model_goes_on_training(data, tmp_path, scopes):
    runner = Runner.from_cfg(tiny_run(tmp_path / 'run', data))
    runner.register_hook(probe := ModeProbe())
    runner.train()
    rows = [json.loads(line) for p in (tmp_path / 'run').glob('*/vis_data/scalars.json')
            for line in p.read_text().splitlines()]
    knn = {r['step']: r for r in rows if 'knn/top1' in r}
    assert sorted(knn) == [2, 3]  # every 2 epochs, and the last (at_end)
    assert probe.modes == [(True, True, False)] * 3  # the student trains on, the teacher stays in eval
    end = knn_evaluate(copy.deepcopy(runner.model.teacher.backbone), data, k=4, img_size=32, max_per_class=3,
                       val_max_per_class=2)
    assert (knn[3]['knn/top1'], knn[3]['knn/top5']) == pytest.approx((end['top1'], end['top5']))
    log = next((tmp_path / 'run').glob('*/*.log')).read_text()
    assert log.count('Epoch(knn)') == 2 and 'knn/top1' in log and '9 train / 6 val images' in log


def test_a_missing_folder_stops_the_run_before_it_trains(tmp_path, scopes):
    write_folder(tmp_path / 'data', per_split=(('train', 2),))  # no val split
    runner = Runner.from_cfg(tiny_run(tmp_path / 'run', tmp_path / 'data'))
    runner.register_hook(probe := ModeProbe())
    with pytest.raises(FileNotFoundError) as e:
        runner.train()
    msg = str(e.value)
    assert probe.iters == 0
    assert str(tmp_path / 'data' / 'val') in msg and 'custom_hooks.2.data_root' in msg
    assert '--cfg-options custom_hooks.2.interval=0' in msg
    # switched off: no check, no k-NN
    off = KNNValidationHook(interval=0, data_root=str(tmp_path / 'nowhere'))
    off.before_train(stand_in_runner(TinyDINO()))
    assert off.split is None


def test_the_imagenet_dino_configs_carry_it_and_the_lab_and_demo_do_not():
    for path in DINO_CONFIGS:
        cfg = Config.fromfile(str(path))
        hook = cfg.custom_hooks[2]
        assert hook.type == 'mmrats.KNNValidationHook', path.name
        assert (hook.interval, hook.max_per_class, hook.val_max_per_class, hook.k, hook.temperature,
                hook.img_size, hook.data_root) == (10, 20, 10, 20, 0.07, 224, None), path.name
        assert KNNValidationHook(**{k: v for k, v in hook.items() if k != 'type'}).backbone == 'teacher'
        off = DictAction(option_strings=['--cfg-options'], dest='cfg_options', nargs='+')
        ns = SimpleNamespace()
        off(None, ns, ['custom_hooks.2.interval=0'])
        cfg.merge_from_dict(ns.cfg_options)
        assert cfg.custom_hooks[2].interval == 0 and cfg.custom_hooks[0].type == 'mmrats.DINOTeacherHook'
    for path in sorted((REPO / 'configs/lab').glob('dino_*.py')) + sorted((REPO / 'configs/demo').glob('dino_*.py')):
        types = [h.type for h in Config.fromfile(str(path)).custom_hooks]
        assert 'mmrats.KNNValidationHook' not in types, path.name


def test_the_data_root_defaults_to_the_training_sets():
    cfg = Config.fromfile(str(RATS_S))
    assert train_data_root(cfg) == 'data/imagenet/'
    cfg.train_dataloader.dataset = dict(type='RepeatDataset', times=2, dataset=dict(data_root='/ds/in1k'))
    assert train_data_root(cfg) == '/ds/in1k'
