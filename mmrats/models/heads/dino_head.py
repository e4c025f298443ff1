"""The DINO loss with its center (paper §3.1: DINO, unmodified; Caron et al. 2021, Eq. 1-4).

For teacher logits ``t`` of the global crops and student logits ``s`` of all
crops (global and local), with the center ``c``:

    P_t = softmax((t - c) / tau_t)         P_s = log_softmax(s / tau_s)
    L   = 1 / |pairs| * sum over (teacher crop a, student crop b != a) of
          mean over the batch of  - sum_k P_t[a, k] * P_s[b, k]

and after every step the center moves towards the batch mean of the teacher
logits, averaged over all ranks: ``c <- m c + (1 - m) mean(t)``.

With ``num_groups = G > 1`` (the paper's Table 6 ablation: one DINO loss per
attention head over that head's registers) the logits are ``(B, G, K)``; each
group has its own center and the loss is the mean of the G group losses.

With ``centering='sinkhorn_knopp'`` (DINOv2, Oquab et al. 2023, §4: an
option of ours, not of the RATS paper) the teacher targets are not
``softmax((t - c) / tau_t)`` but the Sinkhorn-Knopp normalisation of
``exp(t / tau_t)`` over the batch of global crops (of all ranks): a few
alternating normalisations make every sample's row a distribution and every
prototype receive the same total mass ``1 / K`` of the batch. That rules out
both collapses by construction (one prototype for every image; a uniform
teacher), which the EMA center only discourages: at lab scale, with small
batches, the center lags and DINO collapses (docs/lab_scale.md). The center is
still updated and logged, but not used.

Collapse monitors (logged, not optimised): ``teacher_entropy``, the mean
entropy of ``P_t`` per sample (-> 0 when every image picks one prototype
with certainty), and ``teacher_kl_uniform = log K - H(mean P_t)``, the KL
divergence from the batch-averaged teacher distribution to the uniform one
(-> log K when all images pick the same prototype, -> 0 when the teacher
output is uniform). Healthy training keeps the entropy well below ``log K``
and the KL well above 0.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmengine.model import BaseModule
from torch import Tensor

from mmrats.registry import MODELS


def _check_temperature(name: str, value: float) -> float:
    value = float(value)
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f'{name} must be a positive finite temperature, got {value}')
    return value


@MODELS.register_module()
class DINOHead(BaseModule):
    """DINO cross-entropy between teacher and student crops, with centering and sharpening.

    Args:
        out_channels: number of prototypes K (the neck's ``out_channels``).
        student_temp: student temperature tau_s (DINO: 0.1).
        teacher_temp: teacher temperature tau_t after its warm-up (DINO: 0.04 -> 0.07);
            :class:`~mmrats.engine.hooks.DINOTeacherHook` sets it every epoch.
        center_momentum: momentum m of the center (DINO: 0.9).
        num_groups: G independent losses (1; or the number of heads for Table 6).
        centering: ``'center'`` (DINO's EMA center) or ``'sinkhorn_knopp'`` (DINOv2's batch
            normalisation of the teacher; see the module doc).
        sinkhorn_iters: alternating normalisations of Sinkhorn-Knopp (DINOv2: 3).
    """

    CENTERINGS = ('center', 'sinkhorn_knopp')

    def __init__(self, out_channels: int = 65536, student_temp: float = 0.1, teacher_temp: float = 0.04,
                 center_momentum: float = 0.9, num_groups: int = 1, centering: str = 'center',
                 sinkhorn_iters: int = 3, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.out_channels = out_channels
        self.student_temp = _check_temperature('DINOHead student_temp', student_temp)
        self._teacher_temp = _check_temperature('DINOHead teacher_temp', teacher_temp)
        if not 0.0 <= center_momentum < 1.0:
            raise ValueError(f'DINOHead center_momentum must be in [0, 1), got {center_momentum}')
        self.center_momentum = center_momentum
        self.num_groups = num_groups
        if centering not in self.CENTERINGS:
            raise ValueError(f'DINOHead centering must be one of {self.CENTERINGS}, got {centering!r} '
                             "(model.head.centering in the config)")
        if int(sinkhorn_iters) < 1:
            raise ValueError(f'DINOHead sinkhorn_iters must be >= 1, got {sinkhorn_iters}')
        self.centering = centering
        self.sinkhorn_iters = int(sinkhorn_iters)
        # the center is state (saved in checkpoints, restored on resume)
        self.register_buffer('center', torch.zeros(num_groups, out_channels))

    @property
    def teacher_temp(self) -> float:
        return self._teacher_temp

    @teacher_temp.setter
    def teacher_temp(self, value: float) -> None:
        self._teacher_temp = _check_temperature('DINOHead teacher_temp', value)

    def _grouped(self, x: Tensor) -> Tensor:
        """``(B, K)`` or ``(B, G, K)`` -> float32 ``(B, G, K)``."""
        x = x.float()
        if x.dim() == 2:
            x = x[:, None]
        if x.shape[1:] != (self.num_groups, self.out_channels):
            raise ValueError(f'DINOHead expects logits of shape (B, {self.num_groups}, {self.out_channels}) '
                             f'(num_groups, out_channels), got {tuple(x.shape)}')
        return x

    def loss(self, student_logits: list[Tensor], teacher_logits: list[Tensor]) -> dict[str, Tensor]:
        """The DINO loss over all (teacher crop, other student crop) pairs; updates the center.

        Args:
            student_logits: per crop, ``(B, K)`` or ``(B, G, K)``; the first
                ``len(teacher_logits)`` crops are the global crops, in the teacher's order.
            teacher_logits: per global crop, the teacher's logits (no gradient).

        Returns:
            ``loss`` and the collapse monitors ``teacher_entropy``, ``teacher_kl_uniform``.
        """
        if len(teacher_logits) < 1 or len(student_logits) < 2:
            raise ValueError('DINOHead needs at least 1 teacher crop and 2 student crops, got '
                             f'{len(teacher_logits)} and {len(student_logits)}')
        teacher = [self._grouped(t).detach() for t in teacher_logits]
        if self.centering == 'sinkhorn_knopp':
            probs = list(sinkhorn_knopp(torch.cat(teacher), self.teacher_temp, self.sinkhorn_iters)
                         .split([len(t) for t in teacher]))
        else:
            probs = [F.softmax((t - self.center) / self.teacher_temp, dim=-1) for t in teacher]
        total, pairs = 0.0, 0
        for b, s in enumerate(student_logits):
            log_p = F.log_softmax(self._grouped(s) / self.student_temp, dim=-1)
            for a, q in enumerate(probs):
                if a == b:  # a crop does not predict itself
                    continue
                total = total + (-(q * log_p).sum(-1)).mean()  # mean over batch and groups
                pairs += 1
        loss = total / pairs
        monitors = self._collapse_monitors(torch.cat(probs))
        self.update_center(torch.cat(teacher))
        return dict(loss=loss, **monitors)

    @staticmethod
    def _collapse_monitors(probs: Tensor) -> dict[str, Tensor]:
        """Mean per-sample entropy of P_t, and KL(mean P_t || uniform) (see module doc)."""
        with torch.no_grad():
            k = probs.shape[-1]
            entropy = -(probs * probs.clamp_min(1e-12).log()).sum(-1).mean()
            mean = probs.mean(0)  # (G, K)
            kl = (math.log(k) + (mean * mean.clamp_min(1e-12).log()).sum(-1)).mean()
        return dict(teacher_entropy=entropy, teacher_kl_uniform=kl)

    @torch.no_grad()
    def update_center(self, teacher: Tensor) -> None:
        """EMA of the teacher's batch mean logits, averaged over all ranks."""
        batch_center = teacher.mean(0)  # (G, K)
        all_reduce(batch_center, op='mean')  # no-op without a process group
        self.center.mul_(self.center_momentum).add_(batch_center, alpha=1 - self.center_momentum)


@torch.no_grad()
def sinkhorn_knopp(logits: Tensor, temperature: float, iters: int = 3) -> Tensor:
    """Teacher targets balanced over the batch by Sinkhorn-Knopp (DINOv2 §4; SwAV, Caron et al. 2020).

    ``Q = exp(logits / temperature)`` as a ``K x B`` matrix per group (``B``
    samples of all ranks) is scaled alternately so that every prototype row
    sums to ``1 / K`` and every sample column to ``1 / B``; the result is
    returned per sample, scaled to sum to 1.

    Args:
        logits: ``(B, G, K)`` teacher logits of this rank.
        temperature: the teacher temperature.
        iters: number of (row, column) normalisation pairs.

    Returns:
        ``(B, G, K)`` float32 probabilities; each ``[b, g]`` sums to 1.
    """
    x = logits.float() / temperature
    top = x.amax(dim=(0, 2), keepdim=True)  # (1, G, 1): the same constant on every rank
    all_reduce(top, op='max')
    q = (x - top).exp().permute(1, 2, 0)  # (G, K, B)
    num_samples = torch.tensor(float(q.shape[-1]), device=q.device)
    all_reduce(num_samples, op='sum')
    k = q.shape[1]
    # (SwAV's first division by the total is left out: the row normalisation below absorbs any constant)
    for _ in range(iters):
        rows = q.sum(dim=2, keepdim=True)  # (G, K, 1), over the samples of all ranks
        all_reduce(rows, op='sum')
        q = q / rows.clamp_min(torch.finfo(q.dtype).tiny) / k
        q = q / q.sum(dim=1, keepdim=True) / num_samples  # columns: local to each sample
    return (q * num_samples).permute(2, 0, 1).contiguous()
