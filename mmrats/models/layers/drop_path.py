"""Stochastic depth (Huang et al. 2016), per sample."""
from torch import Tensor, nn


class DropPath(nn.Module):
    """Drop the residual branch of a whole sample with probability ``p``.

    Given several tensors (the token groups of one batch, e.g. registers and
    patches kept apart), one draw per sample applies to all of them, so a
    sample's branch is dropped for all its tokens, as with one token tensor.

    Args:
        p: drop probability; kept samples are scaled by ``1 / (1 - p)``.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f'drop_path_rate must be in [0, 1), got {p}')
        self.p = p

    def forward(self, x: Tensor, *more: Tensor) -> Tensor | tuple[Tensor, ...]:
        """Drop ``x`` (``(B, ...)``), and ``more`` tensors of the same batch with the same draw.

        Returns:
            ``x`` dropped, or the tuple ``(x, *more)`` dropped when ``more`` is given.
        """
        if self.p == 0.0 or not self.training:
            return (x, *more) if more else x
        keep = 1.0 - self.p
        mask = x.new_empty(x.shape[0]).bernoulli_(keep) / keep
        out = tuple(t * mask.view((-1,) + (1,) * (t.ndim - 1)) for t in (x, *more))
        return out if more else out[0]

    def extra_repr(self) -> str:
        return f'p={self.p}'
