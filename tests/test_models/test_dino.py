"""DINO: the loss against a direct transcription of DINO's formula, the projection neck,
the global representation, the EMA teacher and the errors."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmrats.models import DINO, DINOHead, DINONeck
from mmrats.registry import MODELS

K = 64


def reference_dino_loss(student: list, teacher: list, center: torch.Tensor, tau_s: float, tau_t: float,
                        m: float, skip_same_crop: bool = True):
    """DINO (Caron et al. 2021, Eq. 1-4 and Alg. 1), written out term by term with Python loops."""
    t_probs = [F.softmax((t - center) / tau_t, dim=-1) for t in teacher]
    terms = []
    for a, pt in enumerate(t_probs):
        for b, s in enumerate(student):
            if a == b and skip_same_crop:
                continue
            ps = F.softmax(s / tau_s, dim=-1)
            per_sample = [-sum(pt[i, k] * torch.log(ps[i, k]) for k in range(s.shape[1]))
                          for i in range(s.shape[0])]
            terms.append(sum(per_sample) / len(per_sample))
    loss = sum(terms) / len(terms)
    all_t = torch.cat(teacher)
    new_center = m * center + (1 - m) * all_t.sum(0, keepdim=True) / all_t.shape[0]
    return loss, new_center


def tiny_neck(**kw):
    return dict(type='mmrats.DINONeck', in_channels=64, out_channels=K, hidden_channels=32, bottleneck_channels=16,
                **kw)


def tiny_dino(mode='rats', **kw):
    bb = dict(type='mmrats.RATSViT', arch='tiny', mode=mode, img_size=32)
    head = dict(type='mmrats.DINOHead', out_channels=K, num_groups=kw.pop('num_groups', 1))
    model = MODELS.build(dict(type='mmrats.DINO', backbone=bb, neck=tiny_neck(), head=head, **kw))
    model.init_weights()
    return model


def crops(b=2, n_local=3):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(b, 3, 32, 32, generator=g) for _ in range(2)] + \
        [torch.randn(b, 3, 16, 16, generator=g) for _ in range(n_local)]


def test_loss_matches_the_formula_and_center_update():
    torch.manual_seed(0)
    head = DINOHead(out_channels=8, student_temp=0.1, teacher_temp=0.05, center_momentum=0.9)
    head.center.copy_(torch.randn(1, 8) * 0.1)
    center = head.center.clone()
    student = [torch.randn(3, 8) for _ in range(5)]
    teacher = [torch.randn(3, 8) for _ in range(2)]
    out = head.loss(student, teacher)
    ref, ref_center = reference_dino_loss(student, teacher, center, 0.1, 0.05, 0.9)
    torch.testing.assert_close(out['loss'], ref.float(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(head.center, ref_center, rtol=1e-6, atol=1e-6)


def test_loss_groups_average_independent_losses():
    torch.manual_seed(1)
    grouped = DINOHead(out_channels=8, num_groups=3)
    student = [torch.randn(2, 3, 8) for _ in range(4)]
    teacher = [torch.randn(2, 3, 8) for _ in range(2)]
    per_group = []
    for g in range(3):
        single = DINOHead(out_channels=8)
        per_group.append(single.loss([s[:, g] for s in student], [t[:, g] for t in teacher])['loss'])
    torch.testing.assert_close(grouped.loss(student, teacher)['loss'], torch.stack(per_group).mean())


def test_collapse_monitors_extremes():
    head = DINOHead(out_channels=16, teacher_temp=0.04)
    one_hot = torch.full((4, 16), -1e4)
    one_hot[:, 3] = 0  # every sample certain of prototype 3: collapse to one prototype
    out = head.loss([one_hot, one_hot.clone()], [one_hot])
    assert out['teacher_entropy'] < 1e-3 and out['teacher_kl_uniform'] == pytest.approx(math.log(16), abs=1e-3)
    head = DINOHead(out_channels=16)
    flat = torch.zeros(4, 16)  # uniform teacher output
    out = head.loss([flat, flat], [flat])
    assert out['teacher_entropy'] == pytest.approx(math.log(16), abs=1e-4)
    assert out['teacher_kl_uniform'] == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize('bad', [0.0, -0.1, float('nan')])
def test_no_temperature_can_be_zero(bad):
    with pytest.raises(ValueError, match='temperature'):
        DINOHead(out_channels=8, student_temp=bad)
    head = DINOHead(out_channels=8)
    with pytest.raises(ValueError, match='temperature'):
        head.teacher_temp = bad


def test_neck_shapes_and_norm_last_layer():
    neck = DINONeck(in_channels=64, out_channels=K, hidden_channels=32, bottleneck_channels=16)
    neck.init_weights()
    g = neck.last_layer.parametrizations.weight.original0
    assert not g.requires_grad and torch.all(g == 1)
    w = neck.last_layer.weight
    torch.testing.assert_close(w.norm(dim=1), torch.ones(K))  # unit-norm prototypes
    assert neck(torch.randn(5, 64)).shape == (5, K)
    assert neck(torch.randn(5, 3, 64)).shape == (5, 3, K)
    free = DINONeck(in_channels=64, out_channels=K, hidden_channels=32, bottleneck_channels=16,
                    norm_last_layer=False)
    assert free.last_layer.parametrizations.weight.original0.requires_grad
    assert len([m for m in neck.mlp if isinstance(m, torch.nn.Linear)]) == 3


def test_dino_projection_head_has_the_papers_shape():
    neck = DINONeck(in_channels=384)  # DINO: 384 -> 2048 -> 2048 -> 256 -> 65536
    shapes = [tuple(m.weight.shape) for m in neck.mlp if isinstance(m, torch.nn.Linear)]
    assert shapes == [(2048, 384), (2048, 2048), (256, 2048)]
    assert neck.last_layer.parametrizations.weight.original1.shape == (65536, 256)


def test_global_representation_registers_mean_cls_and_per_head():
    rats = tiny_dino()
    assert rats.global_repr == 'registers'
    x = torch.randn(2, 3, 32, 32)
    f = rats.backbone.forward_features(x)
    torch.testing.assert_close(rats.global_features(rats.backbone, x), f['registers'].mean(1))
    vit = tiny_dino(mode='mhsa')
    assert vit.global_repr == 'cls'
    torch.testing.assert_close(vit.global_features(vit.backbone, x), vit.backbone.forward_features(x)['cls_token'])
    per_head = tiny_dino(per_head_loss=True, num_groups=4)  # tiny: 4 heads, 8 registers -> 2 per head
    g = per_head.global_features(per_head.backbone, x)
    regs = per_head.backbone.forward_features(x)['registers']
    assert g.shape == (2, 4, 64)
    torch.testing.assert_close(g[:, 1], regs[:, 2:4].mean(1))  # head 1 owns registers 2 and 3
    out = per_head.loss(crops())
    assert per_head.head.center.shape == (4, K) and torch.isfinite(out['loss'])


def test_multicrop_batches_equal_sizes_and_gradients_reach_the_student_only():
    model = tiny_dino()
    calls, inner = [], model.backbone.forward_features

    def counting(x):
        calls.append(tuple(x.shape))
        return inner(x)

    model.backbone.forward_features = counting
    out = model.loss(crops(b=2, n_local=3))
    assert calls == [(4, 3, 32, 32), (6, 3, 16, 16)]  # one pass per crop size
    out['loss'].backward()
    assert model.backbone.registers.grad is not None
    assert all(p.grad is None for p in model.teacher.parameters())


def test_crop_pairing_of_the_model_loss():
    """DINO.loss is the formula over per-crop logits: the teacher sees the global crops only, in order, and
    teacher crop a is never scored against student crop a. The crops differ so that any other pairing
    changes the loss (checked against the same formula with the wrong pairings)."""
    model = tiny_dino().train()
    with torch.no_grad():  # a student away from the teacher, as after some training
        for p in model.backbone.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    views = crops(b=2, n_local=3)
    head = model.head
    args = (head.center.clone(), head.student_temp, head.teacher_temp, head.center_momentum)
    with torch.no_grad():  # one crop at a time
        student = [model.neck(model.global_features(model.backbone, v)) for v in views]
        teacher = [model.teacher.neck(model.global_features(model.teacher.backbone, v)) for v in views]
    loss = model.loss(views)['loss']
    ref, _ = reference_dino_loss(student, teacher[:2], *args)
    torch.testing.assert_close(loss, ref.float(), rtol=1e-5, atol=1e-6)
    wrong = {
        'teacher crops swapped': reference_dino_loss(student, teacher[1::-1], *args)[0],
        'a crop scored against itself': reference_dino_loss(student, teacher[:2], *args, skip_same_crop=False)[0],
        'teacher on all crops': reference_dino_loss(student, teacher, *args)[0],
        'teacher on a local crop': reference_dino_loss(student, [teacher[0], teacher[2]], *args)[0],
        'student crops reversed': reference_dino_loss(student[::-1], teacher[:2], *args)[0],
    }
    for name, value in wrong.items():
        assert (value - ref).abs() > 1e-2, f'the crops do not tell the right pairing from: {name}'


def test_teacher_starts_as_the_student_and_follows_the_ema():
    model = tiny_dino()
    for (n, s), t in zip(model.backbone.state_dict().items(), model.teacher.backbone.state_dict().values()):
        assert torch.equal(s, t), n
    model.train()
    assert not model.teacher.training and model.backbone.training
    before = model.teacher.backbone.registers.clone()
    with torch.no_grad():
        model.backbone.registers.add_(1.0)
    model.update_teacher(1.0)
    assert torch.equal(model.teacher.backbone.registers, before)
    model.update_teacher(0.75)
    torch.testing.assert_close(model.teacher.backbone.registers, before + 0.25)
    model.update_teacher(0.0)
    assert torch.equal(model.teacher.backbone.registers, model.backbone.registers)


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match='num_groups=4'):
        tiny_dino(per_head_loss=True, num_groups=2)
    with pytest.raises(ValueError, match="global_repr='cls'"):
        tiny_dino(global_repr='cls')
    with pytest.raises(ValueError, match='per_head_loss'):
        tiny_dino(mode='mhsa', per_head_loss=True, num_groups=4)
    with pytest.raises(ValueError, match='MultiView'):
        tiny_dino().loss(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match=r'\(B, 1, 64\)'):
        DINOHead(out_channels=K).loss([torch.randn(2, 8)] * 2, [torch.randn(2, 8)])
    assert isinstance(tiny_dino(), DINO)
