"""Hard assignment of register features to dictionary entries (paper Appendix C.2, step (i)).

``k*(r) = argmin_k ||r - e_k||^2``: the matching used to build the learned
codebook, to label the entries and at inference. Squared Euclidean distances
are expanded as ``||r||^2 - 2 r.e + ||e||^2`` and computed in row chunks, so
memory stays bounded for any number of registers (linear in their number).
With the models because the learned codebook (``mmrats.models.selfsup.register_codebook``)
trains with it; :mod:`mmrats.evaluation.dictionary` re-exports it.
"""
from __future__ import annotations

import torch
from torch import Tensor

_CHUNK_ELEMENTS = 1 << 24  # elements of one (rows, K) distance block


def squared_distances(x: Tensor, entries: Tensor) -> Tensor:
    """``(M, K)`` squared Euclidean distances between rows of ``x`` ``(M, C)`` and ``entries`` ``(K, C)``."""
    if x.dim() != 2 or entries.dim() != 2 or x.shape[1] != entries.shape[1]:
        raise ValueError(f'features (M, C) and entries (K, C) must share C, got {tuple(x.shape)} and '
                         f'{tuple(entries.shape)}')
    d = (x * x).sum(1, keepdim=True) - 2.0 * x @ entries.T + (entries * entries).sum(1)[None]
    return d.clamp_min(0.0)


@torch.no_grad()
def nearest_entry(x: Tensor, entries: Tensor) -> Tensor:
    """Index ``(M,)`` of the nearest entry (squared Euclidean; ties to the lowest index) of every row of ``x``.

    Args:
        x: ``(M, C)`` features (any leading shape is flattened: ``(..., C)``).
        entries: ``(K, C)`` dictionary entries.
    """
    lead = x.shape[:-1]
    x = x.reshape(-1, x.shape[-1]).to(entries.dtype)
    step = max(1, _CHUNK_ELEMENTS // max(1, entries.shape[0]))
    idx = [squared_distances(x[i:i + step], entries).argmin(1) for i in range(0, x.shape[0], step)]
    out = torch.cat(idx) if idx else torch.zeros(0, dtype=torch.long, device=x.device)
    return out.reshape(lead)
