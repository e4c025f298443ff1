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
    """

    def __init__(self, out_channels: int = 65536, student_temp: float = 0.1, teacher_temp: float = 0.04,
                 center_momentum: float = 0.9, num_groups: int = 1, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.out_channels = out_channels
        self.student_temp = _check_temperature('DINOHead student_temp', student_temp)
        self._teacher_temp = _check_temperature('DINOHead teacher_temp', teacher_temp)
        if not 0.0 <= center_momentum < 1.0:
            raise ValueError(f'DINOHead center_momentum must be in [0, 1), got {center_momentum}')
        self.center_momentum = center_momentum
        self.num_groups = num_groups
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
