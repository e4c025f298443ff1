"""Naming the parts of a new image with the dictionary (paper Appendix C.2 "Inference", Fig. 4, Fig. 6 right).

One forward pass gives every register's feature and attention map; each
register takes the part of its nearest entry (entries dropped at labelling
name nothing), and the attention maps of all registers that name the same part
are merged into that part's heatmap. Each map is first scaled to ``[0, 1]``
(min-max over the patch grid) and the merge is the pixel-wise maximum, so the
heatmap covers the union of the registers' regions **[ours]** (the paper says
"merge").
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def normalise_maps(maps: Tensor) -> Tensor:
    """Min-max scale each map of ``(..., h, w)`` to ``[0, 1]`` (a constant map becomes 0)."""
    flat = maps.flatten(-2)
    lo, hi = flat.amin(-1, keepdim=True), flat.amax(-1, keepdim=True)
    return ((flat - lo) / (hi - lo).clamp_min(1e-12)).view_as(maps)


@dataclass
class PartHeatmaps:
    """The named parts of one image.

    Attributes:
        parts: label ids of the parts found, in increasing order.
        maps: ``(len(parts), h, w)`` merged heatmaps in ``[0, 1]``.
        registers: for each part, the registers whose entry names it.
    """

    parts: list[int]
    maps: Tensor
    registers: list[list[int]]


def part_heatmaps(entry: Tensor, attn: Tensor, entry_label: Tensor, skip: tuple[int, ...] = ()) -> PartHeatmaps:
    """Per-part heatmaps of one image.

    Args:
        entry: ``(N,)`` nearest entry of each register.
        attn: ``(N, h, w)`` each register's attention map.
        entry_label: ``(K,)`` part id of each entry (``-1``: dropped, names nothing).
        skip: part ids not to draw (e.g. the background).
    """
    label = entry_label[entry]
    norm = normalise_maps(attn.float())
    parts = [int(p) for p in torch.unique(label) if p >= 0 and int(p) not in skip]
    maps, regs = [], []
    for p in parts:
        sel = torch.nonzero(label == p).flatten()
        maps.append(norm[sel].amax(0))
        regs.append(sel.tolist())
    h, w = attn.shape[-2:]
    return PartHeatmaps(parts, torch.stack(maps) if maps else torch.zeros(0, h, w), regs)
