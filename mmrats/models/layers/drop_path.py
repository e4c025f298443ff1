"""Stochastic depth (Huang et al. 2016), per sample."""
import torch
from torch import Tensor, nn


class DropPath(nn.Module):
    """Drop the residual branch of a whole sample with probability ``p``.

    Args:
        p: drop probability; kept samples are scaled by ``1 / (1 - p)``.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f'drop_path_rate must be in [0, 1), got {p}')
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f'p={self.p}'
