"""mmengine resume on torch >= 2.6 (``torch.load(weights_only=True)`` by default): a resumed run starts at
the saved iteration and ends bit-identical to an uninterrupted one."""
import itertools

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmrats  # noqa: F401  (allow-lists mmengine checkpoint classes)
from mmrats.models import RATSViT

_RUNS = itertools.count()  # a visualizer name per runner (a shared one logs into the first work dir)


class TinyRegression(BaseModel):
    def __init__(self):
        super().__init__()
        self.backbone = RATSViT(arch='tiny', drop_path_rate=0.0)

    def forward(self, inputs, targets=None, mode='loss'):
        out = self.backbone(inputs)
        pred = out.registers.mean((1, 2))
        if mode == 'loss':
            return dict(loss=((pred - targets) ** 2).mean())
        return pred


class RandomData(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return dict(inputs=torch.randn(3, 32, 32, generator=g), targets=torch.randn((), generator=g))


class Probe(Hook):
    """``runner.iter`` when training starts (after any resume) and the iterations this run trained."""
    priority = 'LOWEST'

    def __init__(self):
        self.start, self.iters = None, []

    def before_train(self, runner):
        self.start = runner.iter

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.iters.append(runner.iter + 1)  # 1-based, as the logger numbers them


def make_runner(work_dir, max_iters, resume=False):
    torch.manual_seed(0)
    run = next(_RUNS)  # runners made within one second would share mmengine's timestamp name (and warn)
    runner = Runner(model=TinyRegression(), work_dir=str(work_dir), experiment_name=f'resume-test-{run}',
                    train_dataloader=dict(dataset=RandomData(), batch_size=2, num_workers=0,
                                          sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
                                          collate_fn=dict(type='default_collate')),
                    train_cfg=dict(by_epoch=False, max_iters=max_iters),
                    optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
                    default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                                       logger=dict(type='LoggerHook', interval=1)),
                    visualizer=dict(type='Visualizer', name=f'resume-test:{run}'),
                    resume=resume, randomness=dict(seed=0), default_scope='mmengine')
    runner.probe = Probe()
    runner.register_hook(runner.probe)
    return runner


def assert_resumed_from_2_and_equal(full, resumed):
    """The claims of a resume at iteration 2 of 4 (raises AssertionError for a run that did not resume)."""
    assert resumed.probe.start == 2, f'training started at iteration {resumed.probe.start}, not at the saved 2'
    assert resumed.probe.iters == [3, 4]
    assert resumed.iter == full.iter == 4
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    sa = full.optim_wrapper.optimizer.state_dict()['state']
    sb = resumed.optim_wrapper.optimizer.state_dict()['state']
    assert sa.keys() == sb.keys()
    for i in sa:
        for k in ('exp_avg', 'exp_avg_sq', 'step'):
            assert torch.equal(sa[i][k], sb[i][k]), (i, k)


def test_resume_continues_from_saved_iteration(tmp_path):
    full = make_runner(tmp_path / 'full', 4)
    full.train()
    assert full.probe.start == 0 and full.probe.iters == [1, 2, 3, 4]
    part = make_runner(tmp_path / 'part', 2)
    part.train()
    assert (tmp_path / 'part' / 'iter_2.pth').exists()
    # torch's default (weights_only=True) must accept the checkpoint mmengine wrote
    ckpt = torch.load(tmp_path / 'part' / 'iter_2.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 2
    resumed = make_runner(tmp_path / 'part', 4, resume=True)
    resumed.train()
    assert_resumed_from_2_and_equal(full, resumed)
    # control: with nothing to resume mmengine trains from scratch (bit-identical to `full`), and the
    # assertions above must tell that apart from a resume
    scratch = make_runner(tmp_path / 'empty', 4, resume=True)
    scratch.train()
    with pytest.raises(AssertionError, match='training started at iteration 0'):
        assert_resumed_from_2_and_equal(full, scratch)
