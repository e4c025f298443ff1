"""Per-register records of a part-labelled split: features, attention, ground-truth part (paper App. C.2).

For every image, one backbone pass gives each register's last-block
(post-norm) feature ``r`` and its last-block attention map over the patch grid
(RATS: the compress attention of the register in its own head, the
``L -> N`` stage of the bottleneck; shared registers: the mean over heads; a
ViT with registers: the register's attention to the patches, mean over heads).
With the image's part label map, each register gets:

* ``part``: step (ii) of the labelling, the label with the highest **mean
  attention inside its mask** among the labels present in the image. The
  background (label 0) is one of the candidates **[ours]**: a register that
  looks at the background is labelled background instead of being forced onto
  a part.
* ``fg_peak``: whether the attention **peaks** inside a foreground part (the
  filter of the post-hoc K-means dictionary): the patch cell of the maximum
  has more than half of its pixels on part labels (not background, not
  ignored) **[ours]**.

The attention is constant over each patch cell (nearest upsampling) **[ours]**,
so both need only the per-cell label histogram: ``O(H W + N L + L P)`` per
image (``L`` patches, ``P`` labels), linear in the number of images.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor, nn

BACKGROUND = 0  # label id of "no part" in every reader used here


@torch.no_grad()
def register_features_and_attention(backbone: nn.Module, images: Tensor) -> tuple[Tensor, Tensor, tuple[int, int]]:
    """One pass: last-block post-norm registers ``(B, N, C)`` and their attention ``(B, N, L)``.

    The attention rows are those of
    :func:`~mmrats.evaluation.part_segmentation.register_attention_maps`
    (the same choices), taken from the same pass as the features.
    """
    if not getattr(backbone, 'num_registers', 0):
        raise ValueError(f'the part dictionary needs a backbone with registers, got mode={backbone.mode!r} '
                         'without registers (set num_registers, or use a RATS checkpoint)')
    out = backbone.forward_attention_maps(images, layers=(-1,))
    maps = out['maps'][backbone.num_layers - 1]
    if backbone.mode == 'mhsa':
        first = int(backbone.with_cls_token)
        attn = maps['attn'][:, :, first:backbone.num_prefix, backbone.num_prefix:].mean(1)
    else:
        comp = maps['compress']  # (B, H, n, L); (B, H, N, L) with shared registers
        attn = comp.mean(1) if comp.shape[2] == backbone.num_registers else comp.flatten(1, 2)
    return out['registers'].float(), attn.float(), tuple(out['patch_hw'])


def cell_label_area(labels: Tensor, patch_hw: tuple[int, int], num_labels: int) -> Tensor:
    """Pixels of each label in each patch cell, ``(B, L, P)`` (ignored pixels, ``-1``, are not counted).

    Args:
        labels: ``(B, H, W)`` int64 label ids in ``[0, num_labels)`` or ``-1``; ``H, W`` multiples of the grid.
        patch_hw: the patch grid ``(h, w)``.
        num_labels: ``P``.
    """
    b, hh, ww = labels.shape
    h, w = patch_hw
    if hh % h or ww % w:
        raise ValueError(f'label map {hh}x{ww} is not a whole number of patch cells of the {h}x{w} grid')
    lo, hi = int(labels.min()), int(labels.max())
    if lo < -1 or hi >= num_labels:
        raise ValueError(f'part labels must lie in [0, {num_labels}) or be -1 (ignored), got [{lo}, {hi}]; '
                         'pass the dataset\'s number of labels')
    rows = torch.arange(hh, device=labels.device) // (hh // h)
    cols = torch.arange(ww, device=labels.device) // (ww // w)
    cell = (rows[:, None] * w + cols[None]).expand(b, hh, ww)
    img = torch.arange(b, device=labels.device)[:, None, None].expand(b, hh, ww)
    keep = labels >= 0
    flat = (img[keep] * (h * w) + cell[keep]) * num_labels + labels[keep]
    return torch.bincount(flat, minlength=b * h * w * num_labels).view(b, h * w, num_labels).float()


def register_parts(attn: Tensor, area: Tensor, cell_pixels: int, background: int = BACKGROUND
                   ) -> tuple[Tensor, Tensor]:
    """Each register's part (highest mean attention inside the label's mask) and whether it peaks on a part.

    Args:
        attn: ``(B, N, L)`` attention of every register over the patch cells.
        area: ``(B, L, P)`` pixels of each label per cell (:func:`cell_label_area`).
        cell_pixels: pixels of one patch cell.
        background: the label id that is not a part.

    Returns:
        ``part`` ``(B, N)`` label ids (``-1`` if the image has no labelled pixel; ties to the lowest id)
        and ``fg_peak`` ``(B, N)`` bool.
    """
    size = area.sum(1)  # (B, P) pixels of each label in the image
    mean_in_mask = (attn @ area) / size.clamp_min(1.0)[:, None]  # (B, N, P)
    mean_in_mask = mean_in_mask.masked_fill(size[:, None] == 0, float('-inf'))
    part = mean_in_mask.argmax(-1)
    part = part.masked_fill((size == 0).all(1)[:, None], -1)
    peak = attn.argmax(-1)  # (B, N) cell of the maximum (ties: the first)
    cell = torch.gather(area, 1, peak[..., None].expand(-1, -1, area.shape[2]))  # (B, N, P)
    fg = cell.sum(-1) - cell[..., background]
    return part, fg * 2 > cell_pixels


@dataclass
class RegisterRecords:
    """Everything the dictionary needs about the registers of a split (one row per register).

    Attributes:
        features: ``(R, C)`` float32 last-block post-norm registers.
        image: ``(R,)`` index of the register's image in the split.
        register: ``(R,)`` register index in its image.
        part: ``(R,)`` ground-truth part (label id, ``-1``: no labelled pixel), see the module doc.
        fg_peak: ``(R,)`` bool, the attention peaks inside a foreground part.
    """

    features: Tensor
    image: Tensor
    register: Tensor
    part: Tensor
    fg_peak: Tensor

    @staticmethod
    def cat(chunks: list['RegisterRecords']) -> 'RegisterRecords':
        return RegisterRecords(*(torch.cat([getattr(c, f.name) for c in chunks]) for f in fields(RegisterRecords)))

    def state(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@torch.no_grad()
def batch_records(backbone: nn.Module, images: Tensor, labels: Tensor, num_labels: int, first_image: int = 0,
                  background: int = BACKGROUND) -> tuple[RegisterRecords, Tensor, tuple[int, int]]:
    """Records of one batch (images ``first_image, ...``) and the attention ``(B, N, L)`` they came from."""
    feats, attn, hw = register_features_and_attention(backbone, images)
    cell_pixels = (labels.shape[-2] // hw[0]) * (labels.shape[-1] // hw[1])
    part, fg = register_parts(attn, cell_label_area(labels.to(attn.device), hw, num_labels), cell_pixels,
                              background)
    b, n = part.shape
    rec = RegisterRecords(features=feats.reshape(b * n, -1).cpu(),
                          image=(first_image + torch.arange(b)).repeat_interleave(n),
                          register=torch.arange(n).repeat(b), part=part.reshape(-1).cpu(),
                          fg_peak=fg.reshape(-1).cpu())
    return rec, attn, hw
