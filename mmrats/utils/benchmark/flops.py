"""FLOP counts of backbones on the manual attention path (``torch.utils.flop_counter``: every matmul counted).

The fused ``scaled_dot_product_attention`` is switched off while counting so
that the attention's matmuls are counted as the explicit ``softmax(q k^T) v``.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .steps import loss_of, tokens

__all__ = ['count_flops', 'dino_step_tflop', 'gflops', 'is_fused', 'set_fused']


def set_fused(model: nn.Module, fused: bool) -> None:
    """Fused SDPA attention on or off: a ``RATSViT`` (``set_fused_attention``) or a timm ViT (``fused_attn``)."""
    if hasattr(model, 'set_fused_attention'):
        model.set_fused_attention(fused)
    else:  # timm
        for m in model.modules():
            if hasattr(m, 'fused_attn'):
                m.fused_attn = fused


def is_fused(model: nn.Module) -> bool:
    """Whether the model's attention runs fused SDPA now."""
    if hasattr(model, 'set_fused_attention'):
        return model.blocks[0].attn.fused
    return any(getattr(m, 'fused_attn', False) for m in model.modules())


def count_flops(model: nn.Module, fn: Callable[[], None]) -> float:
    """FLOPs of ``fn`` on the manual attention path (backward included if ``fn`` runs it)."""
    was_fused = is_fused(model)
    set_fused(model, False)
    try:
        with FlopCounterMode(display=False) as counter:
            fn()
    finally:
        set_fused(model, was_fused)
    return counter.get_total_flops()


def gflops(model: nn.Module, shapes: list) -> float:
    """Forward GFLOPs of :func:`~.steps.tokens` for the given input shapes (random inputs on the CPU)."""
    def fwd():
        with torch.no_grad():
            for s in shapes:
                tokens(model, torch.randn(*s))
    return count_flops(model, fwd) / 1e9


def dino_step_tflop(model: nn.Module) -> float:
    """TFLOP of one DINO step per image: student fwd + bwd on 2 x 224 + 10 x 96, teacher fwd on 2 x 224."""
    crops = [torch.randn(2, 3, 224, 224), torch.randn(10, 3, 96, 96)]

    def step():
        loss = sum(loss_of(tokens(model, x)) for x in crops)
        loss.backward()
        with torch.no_grad():
            tokens(model, crops[0])
    flops = count_flops(model, step)
    model.zero_grad(set_to_none=True)
    return flops / 1e12
