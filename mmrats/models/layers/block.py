"""The pre-norm transformer block shared by every RATSViT mode (paper §3.2)."""
from torch import Tensor, nn

from .drop_path import DropPath
from .layer_scale import LayerScale
from .mlp import Mlp


class Block(nn.Module):
    """``X = X + DropPath(LS1(Attn(LN1(X))))``; ``X = X + DropPath(LS2(MLP(LN2(X))))``.

    Two ways to run it, with the same parameters and the same result:

    * :meth:`forward` on one token tensor ``X`` (any attention);
    * :meth:`forward_groups` on registers ``R`` and patches ``P`` kept as two
      tensors (RATS attention only). Everything but the attention works token
      by token, and RATS attention treats the two groups differently anyway,
      so ``[R; P]`` never needs to be concatenated and split again in every
      block: that saves a copy of all tokens per block, forward and backward.

    Args:
        dim: token width ``C``.
        attn: the token mixer: :class:`MultiheadSelfAttention` or
            :class:`RegisterAttention`; called as ``attn(x, num_prefix,
            return_maps)`` (and ``attn.forward_groups(regs, patches,
            return_maps)`` by :meth:`forward_groups`).
        mlp_ratio: MLP hidden width over ``C``.
        drop_path: stochastic-depth rate of this block.
        layer_scale_init: initial LayerScale value, or None for no LayerScale.
        norm_eps: LayerNorm epsilon (1e-6 as in DINO and timm).
    """

    def __init__(self, dim: int, attn: nn.Module, mlp_ratio: float = 4.0, drop_path: float = 0.0,
                 layer_scale_init: float | None = None, norm_eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = attn
        self.ls1 = LayerScale(dim, layer_scale_init) if layer_scale_init else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim, layer_scale_init) if layer_scale_init else nn.Identity()
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, num_prefix: int = 0) -> Tensor:
        x = x + self.drop_path(self.ls1(self.attn(self.norm1(x), num_prefix)[0]))
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x))))

    def forward_with_maps(self, x: Tensor, num_prefix: int = 0) -> tuple[Tensor, dict[str, Tensor]]:
        """As :meth:`forward`, also returning the attention weights (manual path)."""
        a, maps = self.attn(self.norm1(x), num_prefix, return_maps=True)
        x = x + self.drop_path(self.ls1(a))
        return x + self.drop_path(self.ls2(self.mlp(self.norm2(x)))), maps

    def forward_groups(self, regs: Tensor, patches: Tensor,
                       return_maps: bool = False) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """The block on registers ``(B, N, C)`` and patches ``(B, L, C)`` as two tensors.

        Equal to :meth:`forward` on ``[R; P]`` (tested); drop path draws once
        per sample for both groups.

        Returns:
            The new registers, the new patches and the attention maps
            (``{}`` unless ``return_maps``: then the manual path's weights).
        """
        a_r, a_p, maps = self.attn.forward_groups(self.norm1(regs), self.norm1(patches), return_maps)
        a_r, a_p = self.drop_path(self.ls1(a_r), self.ls1(a_p))
        regs, patches = regs + a_r, patches + a_p
        m_r, m_p = self.drop_path(self.ls2(self.mlp(self.norm2(regs))), self.ls2(self.mlp(self.norm2(patches))))
        return regs + m_r, patches + m_p, maps
