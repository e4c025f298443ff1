"""Every attention path of the backbone on a device against float32 on the CPU (issue #25; docs/benchmarks.md).

The same weights and the same images run once on the CPU in float32 (the reference) and once on the device
(float32 with TF32 off, or bf16 autocast with ``amp``); the row gives the largest difference of the outputs
(patch tokens and the global representation), relative to the reference's largest magnitude, and of the
gradients of every parameter (``|g - g_ref| / |g_ref|``, the worst parameter), and whether both are within
the dtype's tolerance. The paths: RATS' compress / communicate / broadcast (Eqs. 3-5) with and without the
parallel full-rank branch, shared registers and the learned communication, the ViT's multi-head attention
with and without registers, each fused (``scaled_dot_product_attention``) and manual (softmax(q k^T) v, as
the DINO code computes it).
"""
from __future__ import annotations

import torch

from mmrats.models.backbones import RATSViT

from .steps import tokens

__all__ = ['PARITY_MODELS', 'TOLERANCE', 'parity_rows']

# name -> RATSViT keyword arguments; every one in its fused and its manual form
PARITY_MODELS = {
    'RATS': dict(),
    'RATS + parallel': dict(parallel_branch=True),
    'RATS shared registers': dict(shared_registers=True),
    'RATS learned communicate': dict(learned_communicate=True),
    'ViT (mhsa)': dict(mode='mhsa'),
    'ViT + registers (mhsa)': dict(mode='mhsa', num_registers=4),
}
# largest relative difference accepted, by the device run's dtype: float32 differs by summation order alone;
# bf16 keeps 8 bits of mantissa (2^-8 = 0.4 %), and its errors add up over the blocks and the backward pass
TOLERANCE = {'float32': 1e-4, 'bfloat16': 5e-2}


def _run(model: torch.nn.Module, x: torch.Tensor, weights: dict, amp: bool,
         g: torch.Generator | None = None) -> tuple[dict, dict]:
    """Outputs and parameter gradients of one forward + backward (a fixed random weighting of every token;
    an empty ``weights`` is filled from ``g`` by the first, reference, run and reused by the next)."""
    model.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        t = tokens(model, x)
    out = {k: v.float() for k, v in t.items()}
    for k, v in out.items():
        weights.setdefault(k, torch.randn(v.shape, generator=g))
    loss = sum((out[k] * weights[k].to(x.device)).sum() for k in out)
    loss.backward()
    grads = {n: p.grad.detach().float().cpu() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach().cpu() for k, v in out.items()}, grads


def _max_rel(a: torch.Tensor, ref: torch.Tensor) -> float:
    return float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-12))


def parity_rows(device: str, amp: bool, arch: str | dict = 'small', img_sizes: tuple[int, ...] = (224, 96),
                batch: int = 2, seed: int = 0, models: dict | None = None) -> list[dict]:
    """One row per model, attention form (fused / manual) and input size: the device against the CPU.

    Args:
        device: where the compared run goes (``'cuda'``; ``'cpu'`` compares bf16 with float32 on the CPU).
        amp: bf16 autocast for the device run (the reference is always float32 on the CPU).
        arch: the backbone size (``'small'``: RATS-S/16, ViT-S/16; a dict for tiny tests).
        img_sizes: the input sizes (DINO's global and local crops by default).
        batch: images per input.
        seed: the weights' and the images' seed.
        models: :data:`PARITY_MODELS` or a subset.

    Returns:
        ``dict(model, attention, size, dtype, out_rel_err, grad_rel_err, params_with_grad, tolerance, ok)``.
    """
    rows = []
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # float32 means float32
    try:
        for name, kwargs in (models or PARITY_MODELS).items():
            torch.manual_seed(seed)
            ref_model = RATSViT(arch=arch, img_size=max(img_sizes), **kwargs).train()
            dev_model = RATSViT(arch=arch, img_size=max(img_sizes), **kwargs).train()
            dev_model.load_state_dict(ref_model.state_dict())
            dev_model.to(device)
            for fused in (True, False):
                ref_model.set_fused_attention(fused)
                dev_model.set_fused_attention(fused)
                for size in img_sizes:
                    g = torch.Generator().manual_seed(seed + size)
                    x = torch.randn(batch, 3, size, size, generator=g)
                    weights: dict = {}
                    ref_out, ref_grads = _run(ref_model, x, weights, amp=False, g=g)
                    out, grads = _run(dev_model, x.to(device), weights, amp=amp)
                    dtype = 'bfloat16' if amp else 'float32'
                    out_err = max(_max_rel(out[k], ref_out[k]) for k in ref_out)
                    grad_err = max(float((grads[n] - g_ref).norm() / g_ref.norm().clamp_min(1e-12))
                                   for n, g_ref in ref_grads.items())
                    if set(grads) != set(ref_grads):
                        grad_err = float('inf')  # a parameter lost (or gained) its gradient on the device
                    rows.append(dict(model=name, attention='fused' if fused else 'manual', size=size, dtype=dtype,
                                     out_rel_err=out_err, grad_rel_err=grad_err, params_with_grad=len(ref_grads),
                                     tolerance=TOLERANCE[dtype],
                                     ok=out_err <= TOLERANCE[dtype] and grad_err <= TOLERANCE[dtype]))
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    return rows
