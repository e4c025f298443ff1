"""mmengine resume on torch >= 2.6 (``torch.load(weights_only=True)`` by default)."""
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmrats  # noqa: F401  (allow-lists mmengine checkpoint classes)
from mmrats.models import RATSViT


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


def make_runner(work_dir, max_iters, resume=False):
    torch.manual_seed(0)
    return Runner(model=TinyRegression(), work_dir=str(work_dir),
                  train_dataloader=dict(dataset=RandomData(), batch_size=2, num_workers=0,
                                        sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
                                        collate_fn=dict(type='default_collate')),
                  train_cfg=dict(by_epoch=False, max_iters=max_iters),
                  optim_wrapper=dict(optimizer=dict(type='AdamW', lr=1e-3)),
                  default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                                     logger=dict(type='LoggerHook', interval=1)),
                  resume=resume, randomness=dict(seed=0), default_scope='mmengine')


def test_resume_continues_from_saved_iteration(tmp_path):
    full = make_runner(tmp_path / 'full', 4)
    full.train()
    part = make_runner(tmp_path / 'part', 2)
    part.train()
    assert (tmp_path / 'part' / 'iter_2.pth').exists()
    # torch's default (weights_only=True) must accept the checkpoint mmengine wrote
    ckpt = torch.load(tmp_path / 'part' / 'iter_2.pth', map_location='cpu')
    assert ckpt['meta']['iter'] == 2
    resumed = make_runner(tmp_path / 'part', 4, resume=True)
    resumed.train()
    assert resumed.iter == 4
    a, b = full.model.state_dict(), resumed.model.state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)
    sa = full.optim_wrapper.optimizer.state_dict()['state']
    sb = resumed.optim_wrapper.optimizer.state_dict()['state']
    for i in sa:
        torch.testing.assert_close(sa[i]['exp_avg'], sb[i]['exp_avg'])
        assert sa[i]['step'] == sb[i]['step']
