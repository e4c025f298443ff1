"""What a benchmark step runs: a backbone's final token groups, a scalar loss of them, forward (+ backward).

:func:`tokens` reads a ``RATSViT``'s patches and its global representation
(:mod:`mmrats.models.utils.global_repr`, ``'auto'``: [CLS] for a ViT, the
registers' mean for RATS, as DINO trains them); any other backbone is read
as a timm ViT: ``forward_features`` returns ``(B, 1 + L, C)`` with [CLS] first.
"""
from __future__ import annotations

import torch
from torch import nn

from mmrats.models.utils.global_repr import global_vector, resolve_global_repr

__all__ = ['Step', 'loss_of', 'tokens']


def _is_rats_vit(model: nn.Module) -> bool:
    return hasattr(model, 'set_fused_attention') and hasattr(model, 'with_cls_token')


def tokens(model: nn.Module, x: torch.Tensor) -> dict:
    """Final-layer token groups: ``patches`` ``(B, L, C)`` and ``glob`` ``(B, C)``, the global representation."""
    f = model.forward_features(x)
    if _is_rats_vit(model):
        return dict(patches=f['patch_tokens'], glob=global_vector(f, resolve_global_repr(model, 'auto')))
    return dict(patches=f[:, 1:], glob=f[:, 0])  # timm: [CLS] first


def loss_of(t: dict) -> torch.Tensor:
    """A scalar that depends on every token of :func:`tokens` (what the backward pass differentiates)."""
    return t['patches'].float().mean() + t['glob'].float().mean()


class Step:
    """One timed unit of work: forward only, or forward + backward (+ a teacher's forward).

    Args:
        models: the model (``models[0]``, run on every input) and any others whose gradients are cleared.
        inputs: the batches, each a forward pass of ``models[0]`` (their losses summed).
        backward: run the backward pass of the summed loss (then clear the gradients).
        teacher: ``(model, inputs)`` run without gradients afterwards (DINO's teacher on the global crops).
        amp: bf16 autocast.
        device: ``'cpu'`` or ``'cuda'`` (the autocast device).
    """

    def __init__(self, models: list, inputs: list, backward: bool, teacher: tuple | None = None,
                 amp: bool = False, device: str = 'cpu') -> None:
        self.models, self.inputs, self.backward, self.teacher = models, inputs, backward, teacher
        self.amp, self.device = amp, device

    def __call__(self) -> None:
        with torch.autocast(self.device, dtype=torch.bfloat16, enabled=self.amp):
            loss = 0
            with torch.enable_grad() if self.backward else torch.no_grad():
                for x in self.inputs:
                    loss = loss + loss_of(tokens(self.models[0], x))
            if self.backward:
                loss.backward()
                for m in self.models:
                    m.zero_grad(set_to_none=True)
            if self.teacher is not None:
                with torch.no_grad():
                    for x in self.teacher[1]:
                        tokens(self.teacher[0], x)
