"""A learned dictionary of register entries, trained with the backbone (paper §4.4, Appendix C.2).

"Learned dictionary": ``K`` randomly initialised entries ``e_k`` are optimised
jointly with the RATS backbone under the self-supervised objective. Every
last-block (post-norm) register ``r`` is hard-assigned to its nearest entry,
``k*(r) = argmin_k ||r - e_k||^2``, and the entries are pulled towards their
registers by the VQ-VAE losses (van den Oord et al. 2017), with ``sg`` the
stop-gradient and ``q = e_{k*(r)}``:

    L_codebook   = w_cb   * mean ||sg[r] - q||^2      (moves the entries only)
    L_commitment = w_com  * mean ||r - sg[q]||^2      (moves the registers only)
    L_diversity  = w_div  * (log K - H(p_bar))        (against codebook collapse)

The means run over registers and feature channels. ``p_bar`` is the batch's
soft entry usage, the mean over its registers of
``softmax_k(-||r - e_k||^2 / (C * tau))`` (``C`` the width: the distance per
channel, so ``tau`` does not depend on the model size), and ``H`` its entropy;
the term is 0 when the batch uses every entry equally and ``log K`` when every
register picks the same one. The paper names an "entropy-based diversity term"
without its form: the soft usage, ``tau`` and the ``log K`` offset are
**[ours]**.

Logged (not optimised): ``codebook_usage``, the share of entries hit by at
least one register of the batch (counts summed over all processes);
``codebook_perplexity``, ``exp`` of the entropy of the batch's hard usage
(1: one entry, ``K``: all equally); ``codebook_dead``, the number of entries no
register has picked in the last ``dead_after`` training steps. The steps since
each entry was last picked are a buffer, so they are saved in checkpoints and
a resumed run continues them exactly.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmrats.models.utils.entry_assignment import squared_distances
from mmrats.registry import MODELS


@MODELS.register_module()
class RegisterCodebook(BaseModule):
    """``K`` dictionary entries learned from the registers with VQ losses and an entropy diversity term.

    Args:
        embed_dims: register width ``C``.
        num_entries: ``K``.
        commitment_weight: weight of ``||r - sg[q]||^2`` (VQ-VAE's beta: 0.25).
        codebook_weight: weight of ``||sg[r] - q||^2``.
        diversity_weight: weight of ``log K - H(p_bar)``.
        diversity_temp: ``tau`` of the soft usage, per channel of squared distance **[ours]**.
        dead_after: an entry no register picked in this many training steps counts as dead.
        init_std: the entries start as ``N(0, init_std^2)`` (post-norm registers have about unit
            variance per channel).
    """

    def __init__(self, embed_dims: int, num_entries: int = 1024, commitment_weight: float = 0.25,
                 codebook_weight: float = 1.0, diversity_weight: float = 0.1, diversity_temp: float = 0.1,
                 dead_after: int = 100, init_std: float = 1.0, init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if int(num_entries) < 2:
            raise ValueError(f'RegisterCodebook num_entries must be >= 2, got {num_entries}')
        if int(embed_dims) < 1:
            raise ValueError(f'RegisterCodebook embed_dims must be >= 1, got {embed_dims}')
        for name, value in (('commitment_weight', commitment_weight), ('codebook_weight', codebook_weight),
                            ('diversity_weight', diversity_weight)):
            if not value >= 0 or not math.isfinite(value):
                raise ValueError(f'RegisterCodebook {name} must be a finite number >= 0, got {value}')
        if not diversity_temp > 0:
            raise ValueError(f'RegisterCodebook diversity_temp must be > 0, got {diversity_temp}')
        if int(dead_after) < 1:
            raise ValueError(f'RegisterCodebook dead_after must be >= 1 (training steps), got {dead_after}')
        self.embed_dims, self.num_entries = int(embed_dims), int(num_entries)
        self.commitment_weight, self.codebook_weight = float(commitment_weight), float(codebook_weight)
        self.diversity_weight, self.diversity_temp = float(diversity_weight), float(diversity_temp)
        self.dead_after = int(dead_after)
        self.entries = nn.Parameter(torch.randn(self.num_entries, self.embed_dims) * init_std)
        # training steps since each entry was last picked (state: saved and resumed)
        self.register_buffer('idle_steps', torch.zeros(self.num_entries, dtype=torch.long))

    def extra_repr(self) -> str:
        return (f'num_entries={self.num_entries}, embed_dims={self.embed_dims}, '
                f'commitment_weight={self.commitment_weight}, diversity_weight={self.diversity_weight}')

    def forward(self, registers: Tensor) -> tuple[Tensor, Tensor]:
        """Hard assignment: the nearest entry's index ``(...)`` and vector ``(..., C)`` of every register."""
        x = registers.reshape(-1, self.embed_dims)
        idx = squared_distances(x.detach().float(), self.entries.detach().float()).argmin(1)
        return idx.reshape(registers.shape[:-1]), self.entries[idx].reshape(registers.shape)

    def loss(self, registers: Tensor) -> dict[str, Tensor]:
        """The codebook, commitment and diversity losses of a batch of registers, and the usage monitors.

        Args:
            registers: ``(B, N, C)`` last-block (post-norm) registers (any ``(..., C)``).

        Returns:
            ``loss_codebook``, ``loss_commitment``, ``loss_diversity`` (summed into the total by
            mmengine: their names contain ``loss``) and ``codebook_usage``, ``codebook_perplexity``,
            ``codebook_dead``.
        """
        if registers.shape[-1] != self.embed_dims:
            raise ValueError(f'RegisterCodebook(embed_dims={self.embed_dims}) got registers of width '
                             f'{registers.shape[-1]}; set codebook embed_dims to the backbone width')
        x = registers.reshape(-1, self.embed_dims).float()
        e = self.entries.float()
        d = squared_distances(x, e)  # (M, K), differentiable in both
        idx = d.detach().argmin(1)
        q = e[idx]
        out = dict(loss_codebook=self.codebook_weight * F.mse_loss(q, x.detach()),
                   loss_commitment=self.commitment_weight * F.mse_loss(x, q.detach()))
        soft = F.softmax(-d / (self.embed_dims * self.diversity_temp), dim=1).mean(0)
        entropy = -(soft * soft.clamp_min(1e-12).log()).sum()
        out['loss_diversity'] = self.diversity_weight * (math.log(self.num_entries) - entropy)
        out.update(self._monitor(idx))
        return out

    @torch.no_grad()
    def _monitor(self, idx: Tensor) -> dict[str, Tensor]:
        """Usage, perplexity and dead entries of the batch (hard counts summed over processes)."""
        counts = torch.bincount(idx, minlength=self.num_entries).float()
        all_reduce(counts, op='sum')  # no-op without a process group
        probs = counts / counts.sum().clamp_min(1.0)
        perplexity = torch.exp(-(probs * probs.clamp_min(1e-12).log()).sum())
        if self.training:
            self.idle_steps.add_(1)
            self.idle_steps[counts > 0] = 0
        return dict(codebook_usage=(counts > 0).float().mean(), codebook_perplexity=perplexity,
                    codebook_dead=(self.idle_steps >= self.dead_after).sum().float())
