"""Per-tensor gradient clipping (``clip_grad=dict(type='per_tensor', max_norm=...)``) against DINO's
``clip_gradients``, and its order with the last-layer freeze (DINO: clip, then cancel the last layer).

The reference below is DINO's definition written out: for every parameter with a gradient,
``norm = ||grad||_2``, ``clip_coef = clip / (norm + 1e-6)``, and if ``clip_coef < 1`` the gradient
is multiplied by it; then, during the frozen epochs, the last layer's gradients are dropped.
"""
import copy
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from mmrats.engine.hooks import FreezeLastLayerHook
from mmrats.engine.optimizers import TeacherFreeOptimWrapperConstructor, clip_grad_per_tensor_
from tests.conftest import REPO

CLIP = 0.3
LR = 0.5


class Tiny(nn.Module):
    """A student (backbone + neck with a last layer) and an EMA-style teacher without gradients."""

    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.GELU(), nn.Linear(16, 8))
        self.neck = nn.Module()
        self.neck.mlp = nn.Linear(8, 8)
        self.neck.last_layer = nn.Linear(8, 32, bias=False)
        self.neck.small = nn.Linear(8, 2)  # gradients far below CLIP
        self.teacher = copy.deepcopy(self.backbone).requires_grad_(False)

    def loss(self, x):
        h = self.backbone(x)
        out = self.neck.last_layer(self.neck.mlp(h))
        # most tensors get gradients far above CLIP, neck.small's stay below it
        return (out ** 2).sum() * 3.0 + 0.002 * self.neck.small(h.detach()).sum() + self.teacher(x).sum().detach()


def dino_clip_gradients(model, clip):
    """DINO's ``utils.clip_gradients``, from its definition."""
    norms = []
    for _, p in model.named_parameters():
        if p.grad is not None:
            param_norm = p.grad.detach().norm(2)
            norms.append(float(param_norm))
            clip_coef = clip / (param_norm + 1e-6)
            if clip_coef < 1:
                p.grad.detach().mul_(clip_coef)
    return norms


def dino_cancel_last_layer(model, epoch, freeze_last_layer):
    """DINO's ``utils.cancel_gradients_last_layer``."""
    if epoch >= freeze_last_layer:
        return
    for n, p in model.named_parameters():
        if 'last_layer' in n:
            p.grad = None


def reference_step(model, x, freeze):
    """DINO's order in ``train_one_epoch``: backward, clip_gradients, cancel last layer, step."""
    model.loss(x).backward()
    norms = dino_clip_gradients(model, CLIP)
    dino_cancel_last_layer(model, epoch=0, freeze_last_layer=1 if freeze else 0)
    grads = {n: (None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()}
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:
                p -= LR * p.grad
    return grads, norms


def build(model, wrapper_type='OptimWrapper', clip_grad=None):
    cfg = dict(type=wrapper_type, optimizer=dict(type='SGD', lr=LR),
               clip_grad=dict(type='per_tensor', max_norm=CLIP) if clip_grad is None else clip_grad)
    with torch.no_grad():
        return TeacherFreeOptimWrapperConstructor(cfg)(model)


def freeze_hook(model, optim_wrapper, freeze):
    hook = FreezeLastLayerHook(freeze_epochs=1 if freeze else 0, prefix='neck.last_layer')
    runner = SimpleNamespace(model=model, train_dataloader=[0] * 4, optim_wrapper=optim_wrapper, iter=0)
    hook.before_train(runner)
    return hook, runner


def grads_of(model):
    return {n: (None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()}


def check_against_reference(model, ref, ref_grads, grads):
    assert grads.keys() == ref_grads.keys()
    for n in grads:
        if ref_grads[n] is None:
            assert grads[n] is None or not grads[n].any(), n
        else:
            torch.testing.assert_close(grads[n], ref_grads[n], rtol=1e-6, atol=1e-7, msg=n)
    for (n, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7, msg=n)


@pytest.mark.parametrize('freeze', [True, False])
def test_per_tensor_clip_equals_dino_and_composes_with_the_freeze(freeze):
    torch.manual_seed(0)
    model = Tiny()
    ref = copy.deepcopy(model)
    x = torch.randn(5, 6)
    ref_grads, norms = reference_step(ref, x, freeze)
    # the case is a real test: some tensors are clipped, some are not
    assert max(norms) > 10 * CLIP and min(norms) < CLIP

    ow = build(model)
    hook, _ = freeze_hook(model, ow, freeze)
    ow.backward(model.loss(x))
    ow.step()
    grads = grads_of(model)
    check_against_reference(model, ref, ref_grads, grads)
    last = grads['neck.last_layer.weight']
    assert (last is None or not last.any()) if freeze else (last is not None and last.norm() <= CLIP * 1.0001)
    assert all(g is None for n, g in grads.items() if n.startswith('teacher.'))
    hook.after_train(None)


def test_per_tensor_is_not_the_global_norm():
    torch.manual_seed(0)
    model = Tiny()
    glob = copy.deepcopy(model)
    x = torch.randn(5, 6)
    ow, ow_glob = build(model), build(glob, clip_grad=dict(max_norm=CLIP))
    for m, w in ((model, ow), (glob, ow_glob)):
        w.backward(m.loss(x))
        w.step()
    # a small gradient: untouched per tensor, shrunk by the global norm
    small, small_glob = model.neck.small.weight.grad, glob.neck.small.weight.grad
    assert small.norm() < CLIP and small.norm() > 10 * small_glob.norm()


def test_clip_function_and_logged_norm():
    torch.manual_seed(0)
    ps = [nn.Parameter(torch.zeros(3)), nn.Parameter(torch.zeros(2, 2)), nn.Parameter(torch.zeros(1))]
    ps[0].grad = torch.tensor([3.0, 4.0, 0.0])  # norm 5: clipped to 1
    ps[1].grad = torch.full((2, 2), 0.25)  # norm 0.5: kept
    total = clip_grad_per_tensor_(ps, max_norm=1.0)  # ps[2] has no gradient
    assert float(total) == pytest.approx((25 + 0.25) ** 0.5)
    torch.testing.assert_close(ps[0].grad, torch.tensor([3.0, 4.0, 0.0]) * (1.0 / (5 + 1e-6)))
    assert torch.equal(ps[1].grad, torch.full((2, 2), 0.25)) and ps[2].grad is None
    with pytest.raises(ValueError, match='max_norm > 0'):
        clip_grad_per_tensor_(ps, max_norm=0.0)
    with pytest.raises(ValueError, match='takes max_norm'):
        TeacherFreeOptimWrapperConstructor(dict(optimizer=dict(type='SGD', lr=0.1),
                                                clip_grad=dict(type='per_tensor', norm_type=1)))


def test_logged_grad_norm_in_message_hub():
    from mmengine.logging import MessageHub
    torch.manual_seed(0)
    model = Tiny()
    ow = build(model)
    ow.backward(model.loss(torch.randn(5, 6)))
    expected = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()
                                                     if p.grad is not None]))
    ow.step()
    logged = MessageHub.get_current_instance().get_scalar('train/grad_norm').current()
    assert logged == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.filterwarnings('ignore:torch.cuda.amp.GradScaler is enabled, but CUDA is not available')
def test_amp_wrapper_unscales_before_clipping(monkeypatch):
    """AmpOptimWrapper (fp16 loss scaling): the gradients are unscaled, then clipped, then the
    last layer is dropped. On CPU the wrapper's GradScaler is replaced by torch's CPU one with a
    large scale: clipping the scaled gradients would give gradients 2**12 times too small."""
    import mmengine.optim.optimizer.amp_optimizer_wrapper as amp
    monkeypatch.setattr(amp, 'is_cuda_available', lambda: True)
    torch.manual_seed(0)
    model = Tiny()
    ref = copy.deepcopy(model)
    x = torch.randn(5, 6)
    ref_grads, _ = reference_step(ref, x, freeze=True)
    ow = build(model, wrapper_type='AmpOptimWrapper')
    ow.loss_scaler = torch.amp.GradScaler('cpu', init_scale=2.0 ** 12)
    freeze_hook(model, ow, freeze=True)
    ow.backward(model.loss(x))
    assert model.backbone[0].weight.grad.norm() > 2 ** 10 * ref_grads['backbone.0.weight'].norm()  # scaled
    ow.step()
    check_against_reference(model, ref, ref_grads, grads_of(model))


def test_configs_build_per_tensor_clipping():
    """RATS-B and the vanilla DINO ViT-S/16 configs clip per tensor (0.3 and 3.0), RATS-S not at all."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    cases = {'dino_rats-b16_8xb128-400e_in1k-224.py': 0.3,
             'dino_vit-s16-vanilla_8xb64-100e_in1k-224.py': 3.0,
             'dino_rats-s16_8xb96-300e_in1k-224.py': None}
    for name, clip in cases.items():
        cfg = Config.fromfile(str(REPO / 'configs' / 'dino' / name)).optim_wrapper
        cfg.type = 'OptimWrapper'  # AmpOptimWrapper needs a GPU; the clipping is the same
        cfg.pop('dtype', None)
        ow = build_optim_wrapper(Tiny(), cfg)
        if clip is None:
            assert not ow.clip_grad_kwargs, name
        else:
            assert ow.clip_func is clip_grad_per_tensor_, name
            assert ow.clip_grad_kwargs == dict(max_norm=clip, eps=1e-6), name
