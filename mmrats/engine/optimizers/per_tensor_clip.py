"""DINO's gradient clipping: each parameter tensor's gradient clipped to its own norm.

DINO (``utils.clip_gradients`` in the official code) does not clip one norm over
the whole model, as ``torch.nn.utils.clip_grad_norm_`` (mmengine's
``clip_grad=dict(max_norm=...)``) does. For every parameter with a gradient it
takes that tensor's L2 norm ``n`` and, when ``max_norm / (n + 1e-6) < 1``,
multiplies the tensor's gradient by that factor. A tensor whose norm is at most
``max_norm`` is left as it is, whatever the other tensors' norms are: far gentler
than a global norm of the same threshold.

In a config (any mmengine ``OptimWrapper`` subclass, AMP included), through the
DINO configs' constructor ``mmrats.TeacherFreeOptimWrapperConstructor``::

    optim_wrapper = dict(type='AmpOptimWrapper', dtype='float16',
                         constructor='mmrats.TeacherFreeOptimWrapperConstructor',
                         clip_grad=dict(type='per_tensor', max_norm=3.0), ...)

The constructor builds the wrapper as mmengine would with
``clip_grad=dict(max_norm=...)`` and then swaps its clip function for
:func:`clip_grad_per_tensor_`. Everything else is the stock wrapper: the
``AmpOptimWrapper`` unscales the gradients before it clips them (fp16 and
bf16 alike), clipping happens once per optimizer step (after gradient
accumulation), and ``train/grad_norm`` is logged: the norm of all gradients
together before clipping, the quantity mmengine logs for its global clip. The
last-layer freeze (``mmrats.FreezeLastLayerHook``) drops its gradients inside
``optimizer.step``, after the clipping, in DINO's order (``clip_gradients``,
then ``cancel_gradients_last_layer``); with per-tensor clipping the order does
not change any other tensor's gradient.
"""
from __future__ import annotations

from typing import Iterable, Union

import torch

PER_TENSOR = 'per_tensor'


def clip_grad_per_tensor_(parameters: Union[torch.Tensor, Iterable[torch.Tensor]], max_norm: float,
                          eps: float = 1e-6) -> torch.Tensor:
    """Clip the gradient of each tensor in ``parameters`` to norm ``max_norm``, in place.

    Per tensor ``p`` with a gradient: ``n = ||p.grad||_2``, ``c = max_norm / (n + eps)``;
    if ``c < 1`` the gradient is multiplied by ``c`` (DINO's ``clip_gradients``).
    No host synchronisation: the factors stay on the device.

    Args:
        parameters: tensors (or one tensor) whose ``.grad`` is clipped.
        max_norm: the threshold of each tensor's gradient norm (DINO's ``--clip_grad``).
        eps: added to the norm before dividing (DINO: 1e-6).

    Returns:
        the L2 norm of all the gradients together, before clipping (0 if none).
    """
    if max_norm <= 0:
        raise ValueError(f'per-tensor gradient clipping needs max_norm > 0, got {max_norm}')
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    total = []
    # one fused call per (device, dtype); the result is the same as a loop over the tensors
    groups: dict = {}
    for g in grads:
        groups.setdefault((g.device, g.dtype), []).append(g)
    for group in groups.values():
        norms = torch._foreach_norm(group, 2.0)
        coefs = [torch.clamp(max_norm / (n + eps), max=1.0) for n in norms]  # x * 1.0 == x exactly
        torch._foreach_mul_(group, coefs)
        total.append(torch.linalg.vector_norm(torch.stack([n.float() for n in norms])).to(grads[0].device))
    return torch.linalg.vector_norm(torch.stack(total))


def split_per_tensor_clip(clip_grad):
    """``(clip_grad for mmengine, kwargs of clip_grad_per_tensor_ or None)`` from a config's ``clip_grad``.

    ``dict(type='per_tensor', max_norm=M[, eps=E])`` becomes ``dict(max_norm=M)`` for the
    stock wrapper (which checks that clipping is on and unscales AMP gradients before it) and
    ``dict(max_norm=M, eps=E)`` for :func:`clip_grad_per_tensor_`; anything else is returned
    unchanged with ``None``.
    """
    if not isinstance(clip_grad, dict) or clip_grad.get('type') != PER_TENSOR:
        return clip_grad, None
    kwargs = {k: v for k, v in clip_grad.items() if k != 'type'}
    unknown = set(kwargs) - {'max_norm', 'eps'}
    if 'max_norm' not in kwargs or unknown:
        raise ValueError("clip_grad=dict(type='per_tensor', ...) takes max_norm (required) and eps, "
                         f'got {sorted(kwargs)}')
    if not kwargs['max_norm'] > 0:
        raise ValueError(f"clip_grad=dict(type='per_tensor') needs max_norm > 0, got {kwargs['max_norm']}")
    return dict(max_norm=kwargs['max_norm']), kwargs


def enable_per_tensor_clip(optim_wrapper, max_norm: float, eps: float = 1e-6):
    """Make a built mmengine ``OptimWrapper`` (or subclass) clip per tensor; returns it.

    The wrapper calls ``self.clip_func(params, **self.clip_grad_kwargs)`` from its
    ``_clip_grad`` (after ``loss_scaler.unscale_`` in ``AmpOptimWrapper.step``).
    """
    optim_wrapper.clip_func = clip_grad_per_tensor_
    optim_wrapper.clip_grad_kwargs = dict(max_norm=max_norm, eps=eps)
    optim_wrapper.grad_name = 'grad_norm'
    return optim_wrapper
