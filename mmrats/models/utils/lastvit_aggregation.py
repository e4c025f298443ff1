"""LaSt-ViT's stability-guided top-K aggregation of patch tokens into a global representation.

LaSt-ViT ("Vision Transformers Need More Than Registers", CVPR 2026, §3 "Method")
replaces the global token by a per-channel selection of the patches whose
channel is *stable* under a low-pass filter along the channels:

1. Frequency-domain stability score ("Frequency-Domain Stability Scoring"):
   for every patch ``i``, a 1-D FFT of its ``D`` channels, multiplied by a
   Gaussian low-pass weight ``g`` and transformed back gives the smooth
   version ``x_hat[i]``; the stability of channel ``j`` of patch ``i`` is

       S[i, j] = x_hat[i, j] / (|x_hat[i, j] - x[i, j]| + eps).

2. Channel-wise top-K aggregation ("Channel-wise Top-K Aggregation"): with
   ``I_K(j)`` the ``K`` patches of highest ``S[:, j]``,

       Q[j] = (1 / K) * sum_{i in I_K(j)} x[i, j].

3. Vote counts ("Vote Count Visualization"): ``v_i = sum_j 1{i in I_K(j)}``,
   how many channels picked patch ``i`` (they sum to ``K * D``).

Choices the paper's text leaves open, marked **[ours]**:

* The Gaussian ``g(f) = exp(-f^2 / (2 sigma^2))`` is over the signed integer
  frequency ``f`` of the length-``D`` DFT (``0, 1, ..., -1``), so ``g`` is
  symmetric, ``g(0) = 1`` and ``x_hat`` is real; ``sigma`` (frequency bins)
  defaults to ``sqrt(D)``. Implemented with ``rfft``/``irfft``, which is the
  same filter for real input.
* The selection is made without gradient (top-K indices are not
  differentiable); the gradient of ``Q`` flows to the selected entries of
  ``x`` only, ``1 / K`` each, exactly as the formula of step 2 reads with the
  indices held fixed.
* ``top_k`` is an int (that many patches) or a float in ``(0, 1]`` (that
  share of the patches, rounded, at least 1), so that crops of different
  sizes (DINO's multi-crop) keep the same selectivity.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from mmrats.registry import MODELS


def gaussian_lowpass(x: Tensor, sigma: float | None = None) -> Tensor:
    """``x_hat``: every row of ``x`` (``(..., D)``) low-passed along its last axis (LaSt-ViT step 1).

    Args:
        x: ``(..., D)`` real tensor.
        sigma: Gaussian width in frequency bins (default ``sqrt(D)``).
    """
    d = x.shape[-1]
    sigma = math.sqrt(d) if sigma is None else float(sigma)
    work = x if x.dtype in (torch.float32, torch.float64) else x.float()  # half precision: FFT in float32
    freq = torch.arange(d // 2 + 1, device=x.device, dtype=work.dtype)
    g = torch.exp(-0.5 * (freq / sigma) ** 2)
    spec = torch.fft.rfft(work, dim=-1) * g
    return torch.fft.irfft(spec, n=d, dim=-1).to(x.dtype)


def stability_scores(x: Tensor, sigma: float | None = None, eps: float = 1e-6) -> Tensor:
    """``S = x_hat / (|x_hat - x| + eps)``, same shape as ``x`` (LaSt-ViT step 1)."""
    x_hat = gaussian_lowpass(x, sigma)
    return x_hat / ((x_hat - x).abs() + eps)


def resolve_top_k(top_k: int | float, num_patches: int) -> int:
    """The number of patches ``K`` selected per channel among ``num_patches``.

    Raises:
        ValueError: ``top_k`` is not a positive int <= ``num_patches`` or a share in ``(0, 1]``.
    """
    if isinstance(top_k, bool) or not isinstance(top_k, (int, float)):
        raise ValueError(f'LaSt-ViT top_k must be an int or a float share in (0, 1], got {top_k!r}')
    if isinstance(top_k, float):
        if not 0.0 < top_k <= 1.0:
            raise ValueError(f'LaSt-ViT top_k={top_k} as a share of the patches must be in (0, 1]; '
                             'give an int for a patch count')
        return max(1, int(round(top_k * num_patches)))
    if not 1 <= top_k <= num_patches:
        raise ValueError(f'LaSt-ViT top_k={top_k} must be in [1, {num_patches}] (the patches of this input); '
                         f'use a share such as top_k={min(1.0, top_k / max(num_patches, 1)):.2f} for crops '
                         'of several sizes')
    return int(top_k)


@torch.no_grad()
def select_stable(x: Tensor, top_k: int | float, sigma: float | None = None, eps: float = 1e-6) -> Tensor:
    """Indices ``I_K(j)`` of the ``K`` most stable patches of every channel: ``(B, K, D)`` (LaSt-ViT step 2)."""
    if x.dim() != 3:
        raise ValueError(f'LaSt-ViT aggregation takes patch tokens (B, L, D), got shape {tuple(x.shape)}')
    k = resolve_top_k(top_k, x.shape[1])
    return stability_scores(x, sigma, eps).topk(k, dim=1).indices


def lastvit_aggregate(x: Tensor, top_k: int | float, sigma: float | None = None, eps: float = 1e-6,
                      return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """``Q[b, j] = mean_{i in I_K(j)} x[b, i, j]``: the ``(B, D)`` global representation (LaSt-ViT step 2).

    Args:
        x: patch tokens ``(B, L, D)``.
        top_k: ``K`` (int) or a share of ``L`` (float in ``(0, 1]``).
        sigma: low-pass width in frequency bins (default ``sqrt(D)``).
        eps: the stability score's ``eps``.
        return_indices: also return ``I_K`` ``(B, K, D)``.
    """
    idx = select_stable(x.detach(), top_k, sigma, eps)
    q = x.gather(1, idx).mean(1)
    return (q, idx) if return_indices else q


def vote_counts(indices: Tensor, num_patches: int) -> Tensor:
    """``v_i = sum_j 1{i in I_K(j)}`` from the indices ``(B, K, D)``: ``(B, L)`` integers (LaSt-ViT step 3)."""
    b = indices.shape[0]
    flat = indices.reshape(b, -1)
    return torch.zeros(b, num_patches, dtype=torch.long, device=indices.device).scatter_add_(
        1, flat, torch.ones_like(flat))


@MODELS.register_module()
class LaStViTAggregation(nn.Module):
    """Parameter-free module: patch tokens ``(B, L, D)`` -> LaSt-ViT global representation ``(B, D)``.

    Args:
        top_k: ``K`` per channel, an int or a share of the patches in ``(0, 1]``.
        sigma: Gaussian low-pass width in frequency bins; None: ``sqrt(D)``.
        eps: ``eps`` of the stability score.
    """

    def __init__(self, top_k: int | float = 0.25, sigma: float | None = None, eps: float = 1e-6) -> None:
        super().__init__()
        resolve_top_k(top_k, 1 if isinstance(top_k, float) else max(int(top_k), 1))  # type / range check
        if sigma is not None and not sigma > 0:
            raise ValueError(f'LaSt-ViT sigma (low-pass width in frequency bins) must be > 0 or None, got {sigma}')
        if not eps > 0:
            raise ValueError(f'LaSt-ViT eps must be > 0, got {eps}')
        self.top_k, self.sigma, self.eps = top_k, sigma, float(eps)

    def forward(self, patches: Tensor) -> Tensor:
        return lastvit_aggregate(patches, self.top_k, self.sigma, self.eps)

    @torch.no_grad()
    def votes(self, patches: Tensor) -> Tensor:
        """Vote count of every patch, ``(B, L)``."""
        return vote_counts(select_stable(patches, self.top_k, self.sigma, self.eps), patches.shape[1])

    def extra_repr(self) -> str:
        return f'top_k={self.top_k}, sigma={self.sigma}, eps={self.eps}'
