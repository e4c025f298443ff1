"""The transformer feed-forward block (ViT, Dosovitskiy et al. 2020)."""
from torch import Tensor, nn


class Mlp(nn.Module):
    """``fc2(GELU(fc1(x)))``; names match timm/DINO checkpoints.

    Args:
        dim: input and output width ``C``.
        hidden_dim: inner width (``4C`` in ViT).
    """

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))
