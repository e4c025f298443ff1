"""LayerScale (Touvron et al. 2021, CaiT): a learned per-channel residual gain."""
import torch
from torch import Tensor, nn


class LayerScale(nn.Module):
    """Multiply the last dimension by a learned vector ``gamma``.

    The parameter is named ``gamma`` as in timm, so that checkpoints with layer
    scale load without renaming.

    Args:
        dim: channel count.
        init_value: initial value of every entry of ``gamma``.
    """

    def __init__(self, dim: int, init_value: float = 1e-5) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), float(init_value)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma
