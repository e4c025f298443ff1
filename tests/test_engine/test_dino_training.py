"""DINO training through the mmengine Runner on the embedded photos (tiny, CPU): schedules,
the frozen last layer, exact resume, and the pretrain -> extract -> fine-tune chain."""
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmrats.datasets.sample_photos import write_sample_photos
from mmrats.utils.run_config import unique_visualizer
from mmrats.engine.hooks import momentum_at, teacher_temp_at
from tests.conftest import REPO

DEMO = str(REPO / 'configs/demo/dino_rats-demo_1xb16-12e_sample-photos-96.py')
ITERS_PER_EPOCH = 4  # 17 photos, batch 4, drop_last


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp('photos')
    write_sample_photos(str(root), max_side=128)
    return root


def tiny_cfg(photos, work_dir, max_epochs=2, freeze_epochs=1, warmup_epochs=2) -> Config:
    cfg = Config.fromfile(DEMO)
    cfg.work_dir = str(work_dir)
    loader = cfg.train_dataloader
    loader.batch_size = 4
    loader.num_workers = 1  # per-epoch worker seeds: the augmentations of a resumed epoch are the same
    loader.dataset.times = 1
    loader.dataset.dataset.data_root = str(photos)
    views = loader.dataset.dataset.pipeline[1]
    views.num_views = [1, 1, 2]
    for pipeline, size in zip(views.transforms, (32, 32, 16)):
        pipeline[0].scale = size
    cfg.model.backbone.img_size = 32
    cfg.model.neck.out_channels = cfg.model.head.out_channels = 32
    cfg.train_cfg.max_epochs = max_epochs
    # the schedules as the ImageNet configs (scaled down): lr 1e-3 warmed up over 3 of 25 epochs, weight
    # decay cosine over 25 epochs, teacher temperature 0.04 -> 0.07
    cfg.optim_wrapper.optimizer.lr = 1e-3
    cfg.param_scheduler[0].update(start_factor=1e-3, end=3)
    cfg.param_scheduler[1].update(begin=3, end=25, T_max=22)
    cfg.param_scheduler[2].end = 25
    cfg.custom_hooks[0].update(teacher_temp=0.07, warmup_teacher_temp=0.04, warmup_epochs=warmup_epochs)
    cfg.custom_hooks[1].freeze_epochs = freeze_epochs
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.checkpoint.max_keep_ckpts = 3
    cfg.log_processor.window_size = 1
    unique_visualizer(cfg)
    return cfg


class Recorder(Hook):
    """The last projection layer and one backbone tensor after init and after every iteration."""
    priority = 'LOWEST'

    def __init__(self):
        self.last, self.backbone = [], []

    def _grab(self, runner):
        model = runner.model
        self.last.append(model.neck.last_layer.parametrizations.weight.original1.detach().clone())
        self.backbone.append(model.backbone.registers.detach().clone())

    def before_train(self, runner):
        self._grab(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self._grab(runner)


class StopAfterEpoch(Hook):
    """Interrupt the run after epoch ``n`` (its checkpoint is saved first: lower priority)."""
    priority = 'LOWEST'

    def __init__(self, n):
        self.n = n

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.n:
            raise KeyboardInterrupt


class ResumeProbe(Hook):
    """(epoch, iter) when training starts (after any resume), and the iterations and losses of this run."""
    priority = 'LOWEST'

    def __init__(self):
        self.start, self.iters, self.losses = None, [], []

    def before_train(self, runner):
        self.start = (runner.epoch, runner.iter)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iters.append(runner.iter + 1)  # 1-based, as the logger numbers them
        self.losses.append(float(outputs['loss'].detach()))


def scalars(work_dir):
    rows = []
    for path in work_dir.glob('*/vis_data/scalars.json'):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return sorted((r for r in rows if 'loss' in r), key=lambda r: r['iter'])


def test_schedules_and_frozen_last_layer(photos, tmp_path):
    cfg = tiny_cfg(photos, tmp_path, max_epochs=3, freeze_epochs=1, warmup_epochs=2)
    runner = Runner.from_cfg(cfg)
    rec = Recorder()
    runner.register_hook(rec)
    runner.train()
    n = ITERS_PER_EPOCH
    # last layer: no update during the first epoch, updates afterwards; the backbone trains throughout
    for i in range(1, n + 1):
        assert torch.equal(rec.last[i], rec.last[0]), f'last layer changed at iteration {i} (frozen)'
    assert not torch.equal(rec.last[n + 1], rec.last[n])
    assert not torch.equal(rec.backbone[1], rec.backbone[0])
    rows = scalars(tmp_path)
    assert [r['iter'] for r in rows] == list(range(1, 3 * n + 1))
    # teacher temperature per epoch: 0.04 (epoch 0), 0.07 from the warm-up end (epoch 1) on
    temps = [r['teacher_temp'] for r in rows]
    assert temps[:n] == pytest.approx([0.04] * n) and temps[n:] == pytest.approx([0.07] * 2 * n)
    # EMA momentum: 0.99 at the first iteration, 1.0 at the last (cosine)
    assert rows[0]['momentum'] == pytest.approx(0.99) and rows[-1]['momentum'] == pytest.approx(1.0)
    assert rows[len(rows) // 2]['momentum'] == pytest.approx(momentum_at(len(rows) // 2, 3 * n, 0.99), abs=1e-4)
    # lr: linear warm-up over 3 epochs of the config's 25 (logged lr is the value used in that iteration)
    assert rows[0]['lr'] == pytest.approx(1e-3 * 1e-3, rel=0.05)
    assert rows[0]['lr'] < rows[n]['lr'] < rows[-1]['lr'] == pytest.approx(1e-3)  # the warm-up end (epoch 3)
    # weight decay: cosine from 0.04 upwards; the groups without decay stay 0
    assert rows[0]['weight_decay'] == pytest.approx(0.04, rel=1e-3) and rows[-1]['weight_decay'] > 0.04
    groups = runner.optim_wrapper.optimizer.param_groups
    assert any(g['weight_decay'] == 0 for g in groups)
    # the EMA teacher is left out of the optimizer (TeacherFreeOptimWrapperConstructor)
    in_optimizer = {id(p) for g in groups for p in g['params']}
    assert not in_optimizer & {id(p) for p in runner.model.teacher.parameters()}
    assert {id(p) for p in runner.model.backbone.parameters()} <= in_optimizer
    for r in rows:
        assert 0 < r['teacher_entropy'] and 0 <= r['teacher_kl_uniform']


def test_schedule_functions_start_warmup_end_and_last():
    assert teacher_temp_at(0, 0.04, 0.07, 30) == pytest.approx(0.04)
    assert teacher_temp_at(29, 0.04, 0.07, 30) == pytest.approx(0.07)  # warm-up end
    assert teacher_temp_at(299, 0.04, 0.07, 30) == pytest.approx(0.07)  # last epoch
    assert teacher_temp_at(0, 0.04, 0.07, 0) == pytest.approx(0.07)  # no warm-up
    total = 300 * 1251
    assert momentum_at(0, total, 0.996) == pytest.approx(0.996)
    assert momentum_at((total - 1) / 2, total, 0.996) == pytest.approx(0.998)
    assert momentum_at(total - 1, total, 0.996) == pytest.approx(1.0)


def test_lr_and_weight_decay_schedules_of_the_rats_s_config():
    """The real RATS-S/16 schedule at the start, the warm-up end and the last iteration."""
    from mmengine.optim import OptimWrapper
    from mmengine.registry import PARAM_SCHEDULERS

    cfg = Config.fromfile(str(REPO / 'configs/dino/dino_rats-s16_8xb96-300e_in1k-224.py'))
    base = cfg.optim_wrapper.optimizer.lr
    assert base == pytest.approx(5e-4 * 768 / 256)
    decayed, plain = torch.nn.Parameter(torch.zeros(2, 2)), torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.AdamW([dict(params=[decayed], weight_decay=0.04), dict(params=[plain], weight_decay=0.0)],
                            lr=base)
    wrapper, epoch_length = OptimWrapper(opt), 10
    scheds = [PARAM_SCHEDULERS.build(dict(s), default_args=dict(optimizer=wrapper, epoch_length=epoch_length))
              for s in cfg.param_scheduler]
    lrs, wds, plain_wds = [], [], []
    for _ in range(cfg.train_cfg.max_epochs * epoch_length):
        lrs.append(opt.param_groups[0]['lr'])
        wds.append(opt.param_groups[0]['weight_decay'])
        plain_wds.append(opt.param_groups[1]['weight_decay'])
        opt.step()  # no gradients, so nothing moves; the schedulers expect a step before theirs
        for s in scheds:
            s.step()
    assert lrs[0] == pytest.approx(base * 1e-4)
    assert lrs[10 * epoch_length] == pytest.approx(base)  # warm-up end (epoch 10)
    assert lrs[-1] == pytest.approx(1e-5, rel=0.05)  # last iteration: the cosine floor
    assert wds[0] == pytest.approx(0.04) and wds[-1] == pytest.approx(0.4, rel=1e-3)
    assert set(plain_wds) == {0.0}  # norms, biases, registers, [CLS], position embeddings


def test_resume_is_exact(photos, tmp_path):
    """A run stopped after epoch 1 and resumed ends bit-identical to an uninterrupted one; the resumed run
    starts at the saved iteration (a run that did not resume would start at 0 and retrain iterations 1..4)."""
    n = ITERS_PER_EPOCH
    straight = Runner.from_cfg(tiny_cfg(photos, tmp_path / 'straight'))
    straight.register_hook(straight_probe := ResumeProbe())
    straight.train()
    assert straight_probe.start == (0, 0) and straight_probe.iters == list(range(1, 2 * n + 1))
    cfg = tiny_cfg(photos, tmp_path / 'stopped')
    first = Runner.from_cfg(cfg)
    first.register_hook(StopAfterEpoch(1))
    with pytest.raises(KeyboardInterrupt):
        first.train()
    saved = torch.load(tmp_path / 'stopped' / 'epoch_1.pth', map_location='cpu', weights_only=True)['meta']
    assert (saved['epoch'], saved['iter']) == (1, n)
    cfg = tiny_cfg(photos, tmp_path / 'stopped')
    cfg.resume = True  # latest checkpoint of the work dir, as `tools/train.py --resume`
    resumed = Runner.from_cfg(cfg)
    resumed.register_hook(probe := ResumeProbe())
    resumed.train()
    assert probe.start == (saved['epoch'], saved['iter']), f'training started at (epoch, iter) {probe.start}'
    assert probe.iters == list(range(n + 1, 2 * n + 1))  # only epoch 2: 5..8
    assert probe.losses == straight_probe.losses[n:]
    assert resumed.iter == straight.iter == 2 * n
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:  # student, teacher, center
        assert torch.equal(b[k], a[k]), k
    sa, sb = straight.optim_wrapper.state_dict()['state'], resumed.optim_wrapper.state_dict()['state']
    assert sa.keys() == sb.keys()
    for i in sa:
        for k in ('exp_avg', 'exp_avg_sq', 'step'):
            assert torch.equal(sb[i][k], sa[i][k]), (i, k)
    ga, gb = straight.optim_wrapper.param_groups, resumed.optim_wrapper.param_groups
    assert [(g['lr'], g['weight_decay']) for g in ga] == [(g['lr'], g['weight_decay']) for g in gb]
