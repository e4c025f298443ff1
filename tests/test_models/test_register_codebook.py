"""The learned register codebook (paper §4.4, App. C.2): VQ losses and their stop-gradients, the diversity
term, the usage monitors, the DINO option (teacher EMA copy, checkpoint) and exact resume."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.runner import Runner

from mmrats.models.selfsup import RegisterCodebook
from mmrats.registry import MODELS
from tests.test_engine.test_dino_training import ResumeProbe, StopAfterEpoch, tiny_cfg
from mmrats.datasets.sample_photos import write_sample_photos


def test_vq_losses_and_their_stop_gradients():
    torch.manual_seed(0)
    cb = RegisterCodebook(embed_dims=4, num_entries=3, commitment_weight=0.25, codebook_weight=1.0,
                          diversity_weight=0.0)
    with torch.no_grad():
        cb.entries.copy_(torch.tensor([[0.0, 0, 0, 0], [1.0, 1, 1, 1], [-2.0, 0, 0, 0]]))
    r = torch.tensor([[[0.1, 0.2, 0.0, 0.0], [0.9, 1.0, 1.2, 0.8], [-1.5, 0.1, 0.0, 0.0]]], requires_grad=True)
    out = cb.loss(r)
    q = cb.entries.detach()[[0, 1, 2]]
    mse = ((r.detach()[0] - q) ** 2).mean()
    assert out['loss_codebook'].item() == pytest.approx(mse.item(), rel=1e-6)
    assert out['loss_commitment'].item() == pytest.approx(0.25 * mse.item(), rel=1e-6)
    assert cb(r)[0].tolist() == [[0, 1, 2]]
    # codebook loss moves the entries only, commitment the registers only
    g_r, g_e = torch.autograd.grad(out['loss_codebook'], [r, cb.entries], allow_unused=True)
    assert (g_r is None or not g_r.any()) and g_e.abs().sum() > 0
    g_r, g_e = torch.autograd.grad(out['loss_commitment'], [r, cb.entries], allow_unused=True)
    assert g_r.abs().sum() > 0 and (g_e is None or not g_e.any())
    torch.testing.assert_close(g_r[0], 0.25 * 2 * (r.detach()[0] - q) / r[0].numel())


def test_diversity_term_is_log_k_minus_the_soft_usage_entropy():
    torch.manual_seed(1)
    cb = RegisterCodebook(embed_dims=8, num_entries=5, diversity_weight=0.5, diversity_temp=0.3)
    r = torch.randn(2, 6, 8, requires_grad=True)
    d = torch.cdist(r.reshape(-1, 8), cb.entries) ** 2
    p = F.softmax(-d / (8 * 0.3), dim=1).mean(0)
    ref = 0.5 * (math.log(5) + (p * p.log()).sum())
    out = cb.loss(r)
    assert out['loss_diversity'].item() == pytest.approx(ref.item(), rel=1e-4)
    g_r, g_e = torch.autograd.grad(out['loss_diversity'], [r, cb.entries])
    assert g_r.abs().sum() > 0 and g_e.abs().sum() > 0
    # all registers on one entry, far from the rest: the term approaches w log K
    with torch.no_grad():
        cb.entries.copy_(torch.eye(5, 8) * 100)
    assert cb.loss(torch.zeros(1, 4, 8) + cb.entries[0])['loss_diversity'].item() == pytest.approx(
        0.5 * math.log(5), rel=1e-4)


def test_usage_perplexity_and_dead_entries():
    cb = RegisterCodebook(embed_dims=2, num_entries=4, dead_after=2)
    with torch.no_grad():
        cb.entries.copy_(torch.tensor([[0.0, 0], [10.0, 0], [0, 10.0], [10.0, 10.0]]))
    two = torch.tensor([[[0.0, 0], [0.1, 0], [10.0, 0.2], [9.9, 0]]])  # entries 0, 0, 1, 1
    out = cb.loss(two)
    assert out['codebook_usage'].item() == 0.5
    assert out['codebook_perplexity'].item() == pytest.approx(2.0)
    assert out['codebook_dead'].item() == 0 and cb.idle_steps.tolist() == [0, 0, 1, 1]
    out = cb.loss(two)
    assert out['codebook_dead'].item() == 2  # entries 2 and 3 idle for 2 steps
    out = cb.loss(torch.tensor([[[0.0, 10.0]]]))  # entry 2 used again
    assert cb.idle_steps.tolist() == [1, 1, 0, 3] and out['codebook_dead'].item() == 1
    cb.eval()
    cb.loss(two)  # not training: the counters do not move
    assert cb.idle_steps.tolist() == [1, 1, 0, 3]


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match='num_entries must be >= 2'):
        RegisterCodebook(8, num_entries=1)
    with pytest.raises(ValueError, match='diversity_weight must be a finite number >= 0'):
        RegisterCodebook(8, diversity_weight=-1)
    with pytest.raises(ValueError, match='set codebook embed_dims to the backbone width'):
        RegisterCodebook(8, 4).loss(torch.zeros(1, 2, 6))
    with pytest.raises(ValueError, match='codebook needs a backbone with registers'):
        tiny_dino(mode='mhsa')


def tiny_dino(mode='rats', **codebook):
    bb = dict(type='mmrats.RATSViT', arch='tiny', mode=mode, img_size=32)
    neck = dict(type='mmrats.DINONeck', in_channels=64, out_channels=16, hidden_channels=32, bottleneck_channels=16)
    model = MODELS.build(dict(type='mmrats.DINO', backbone=bb, neck=neck,
                              head=dict(type='mmrats.DINOHead', out_channels=16),
                              codebook=dict(num_entries=6, **codebook)))
    model.init_weights()
    return model


def test_dino_option_losses_teacher_copy_and_checkpoint_keys():
    torch.manual_seed(0)
    model = tiny_dino(commitment_weight=0.5)
    assert torch.equal(model.teacher.codebook.entries, model.codebook.entries)
    assert not model.teacher.codebook.entries.requires_grad and model.codebook.entries.requires_grad
    g = torch.Generator().manual_seed(0)
    views = [torch.randn(2, 3, 32, 32, generator=g) for _ in range(2)] + [torch.randn(2, 3, 16, 16, generator=g)]
    out = model.loss(views)
    assert {'loss_dino', 'loss_codebook', 'loss_commitment', 'loss_diversity', 'codebook_usage',
            'codebook_perplexity', 'codebook_dead'} <= set(out) and 'loss' not in out
    # the codebook sees the student's registers of the two global crops (4 images x 8 registers)
    regs = torch.cat([model.backbone.forward_features(v)['registers'] for v in views[:2]])
    torch.testing.assert_close(out['loss_commitment'], model.codebook.loss(regs)['loss_commitment'])
    out['loss_codebook'].backward()
    assert model.codebook.entries.grad.abs().sum() > 0
    # the teacher's entries follow the EMA like the rest of the teacher
    student = model.codebook.entries.detach().clone()
    with torch.no_grad():
        model.codebook.entries.add_(1.0)
    model.update_teacher(0.75)
    torch.testing.assert_close(model.teacher.codebook.entries, 0.75 * student + 0.25 * (student + 1.0))
    keys = model.state_dict().keys()
    assert {'codebook.entries', 'codebook.idle_steps', 'teacher.codebook.entries',
            'teacher.codebook.idle_steps'} <= set(keys)


@pytest.fixture(scope='module')
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp('photos')
    write_sample_photos(str(root), max_side=128)
    return root


def codebook_cfg(photos, work_dir):
    cfg = tiny_cfg(photos, work_dir)
    cfg.train_dataloader.batch_size = 16  # 17 photos, drop_last: 1 iteration per epoch
    cfg.model.codebook = dict(num_entries=32, commitment_weight=0.25, diversity_weight=0.1, dead_after=1)
    return cfg


def test_resume_with_a_codebook_is_exact(photos, tmp_path):
    """Stopped after epoch 1 of 2 and resumed: the codebook (teacher entries, idle counters), the rest of the
    model and the optimizer state end bit-identical to an uninterrupted run; the student's entries and their
    Adam moments to floating-point noise (1e-6: their last gradient differed by ~1e-8 between Runner runs)."""
    straight = Runner.from_cfg(codebook_cfg(photos, tmp_path / 'straight'))
    straight.register_hook(straight_probe := ResumeProbe())
    straight.train()
    first = Runner.from_cfg(codebook_cfg(photos, tmp_path / 'stopped'))
    first.register_hook(StopAfterEpoch(1))
    with pytest.raises(KeyboardInterrupt):
        first.train()
    cfg = codebook_cfg(photos, tmp_path / 'stopped')
    cfg.resume = True
    resumed = Runner.from_cfg(cfg)
    resumed.register_hook(probe := ResumeProbe())
    resumed.train()
    assert probe.start == (1, 1) and probe.iters == [2]
    assert probe.losses == straight_probe.losses[1:]
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys() and 'teacher.codebook.entries' in a
    for k in a:
        if k == 'codebook.entries':  # see below
            torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6)
        else:
            assert torch.equal(b[k], a[k]), k
    assert a['codebook.idle_steps'].max() > 0  # the counters did move (and were restored)
    sa, sb = straight.optim_wrapper.state_dict()['state'], resumed.optim_wrapper.state_dict()['state']
    assert sa.keys() == sb.keys()
    entries_shape = a['codebook.entries'].shape
    for i in sa:
        for k in ('exp_avg', 'exp_avg_sq', 'step'):
            if sa[i][k].shape == entries_shape:
                # the entries' last gradient was seen to differ by ~1e-8 between two Runner runs of the same
                # iteration (in-process runs are bit-identical): floating-point noise, tolerated on them only
                torch.testing.assert_close(sb[i][k], sa[i][k], rtol=1e-5, atol=1e-9)
            else:
                assert torch.equal(sb[i][k], sa[i][k]), (i, k)
    # a run that lost the entries on resume would be far off: the entries moved this much in training
    assert (a['codebook.entries'] - a['teacher.codebook.entries']).abs().max() > 1e-4


@pytest.mark.parametrize('name, k, build', [
    ('lab/dino_rats-lab-codebook_1xb32-2e_part-objects-64.py', 128, True),
    ('lab/dino_rats-lab-codebook-large_1xb32-2e_part-objects-64.py', 512, True),
    ('dino/dino_rats-s16-codebook_8xb96-300e_in1k-224.py', 1024, False),
    ('dino/dino_rats-s16-codebook-large_8xb96-300e_in1k-224.py', 4096, False)])
def test_codebook_configs(name, k, build):
    """The codebook configs keep their base recipe, set K, and exempt the entries from weight decay."""
    from mmengine.config import Config

    from tests.conftest import REPO
    cfg = Config.fromfile(str(REPO / 'configs' / name))
    base_name = ('lab/dino_rats-lab_1xb32-2e_part-objects-64.py' if name.startswith('lab')
                 else 'dino/dino_rats-s16_8xb96-300e_in1k-224.py')
    base = Config.fromfile(str(REPO / 'configs' / base_name))
    assert cfg.model.codebook == dict(num_entries=k, commitment_weight=0.25, diversity_weight=0.1)
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['codebook.entries'] == dict(decay_mult=0.0)
    for key in ('backbone', 'neck', 'head'):
        assert cfg.model[key] == base.model[key]
    assert cfg.custom_hooks == base.custom_hooks and cfg.train_dataloader == base.train_dataloader
    if build:
        model = MODELS.build(cfg.model)
        assert model.codebook.entries.shape == (k, model.backbone.embed_dims)
        assert model.teacher.codebook.entries.shape == (k, model.backbone.embed_dims)
