"""Scaled dot-product attention, fused or manual, and standard MHSA.

``attend`` is the one primitive every attention in mmrats goes through:
``softmax(q k^T / sqrt(d)) v``. The fused path calls
``F.scaled_dot_product_attention`` (flash / memory-efficient kernels); the
manual path computes the softmax explicitly and can return the attention
weights, which part discovery and the tests need. Both agree to float32
rounding (tested to 1e-5).
"""
import torch.nn.functional as F
from torch import Tensor, nn


def attend(q: Tensor, k: Tensor, v: Tensor, fused: bool = True,
           return_weights: bool = False) -> tuple[Tensor, Tensor | None]:
    """``Attn(q, k, v) = softmax(q k^T / sqrt(d)) v`` over the last two dims.

    Args:
        q: ``(..., Lq, d)``.
        k: ``(..., Lk, d)``.
        v: ``(..., Lk, dv)``.
        fused: use ``F.scaled_dot_product_attention``.
        return_weights: also return ``softmax(q k^T / sqrt(d))``; forces the
            manual path.

    Returns:
        The output ``(..., Lq, dv)`` and the weights ``(..., Lq, Lk)`` or None.
    """
    if fused and not return_weights:
        return F.scaled_dot_product_attention(q, k, v), None
    weights = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    weights = weights.softmax(dim=-1)
    return weights @ v, (weights if return_weights else None)


class MultiheadSelfAttention(nn.Module):
    """Multi-head self-attention over all tokens (ViT; Vaswani et al. 2017).

    Used by the ``mhsa`` mode of :class:`~mmrats.models.backbones.RATSViT`:
    the DINO ViT baseline ([CLS] + patches) and ViT with registers (Darcet et
    al. 2023; [CLS] + registers + patches). Parameter names (``qkv``,
    ``proj``) match timm and the official DINO checkpoints.

    Args:
        dim: token width ``C``.
        num_heads: ``H``; ``C`` must be divisible by ``H``.
        qkv_bias: bias of the ``qkv`` projection.
    """

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'embed_dims={dim} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.fused = True

    def forward(self, x: Tensor, num_prefix: int = 0,
                return_maps: bool = False) -> tuple[Tensor, dict[str, Tensor]]:
        """Attend over all tokens ``x`` (``(B, T, C)``).

        Args:
            x: tokens, prefix tokens first.
            num_prefix: unused here (every token attends to every token);
                part of the common signature of mmrats attentions.
            return_maps: also return ``{'attn': (B, H, T, T)}``.
        """
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        out, w = attend(q, k, v, self.fused, return_maps)
        out = self.proj(out.transpose(1, 2).reshape(b, t, c))
        return out, ({'attn': w} if return_maps else {})
