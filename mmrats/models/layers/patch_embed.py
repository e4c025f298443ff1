"""Patch embedding and the learned absolute position embedding's resizing."""
import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PatchEmbed(nn.Module):
    """Split an image into ``patch_size`` squares and project each to ``C``.

    Args:
        in_channels: image channels.
        embed_dims: output width ``C``.
        patch_size: side of a square patch (16 for every RATS arch).
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)

    def forward(self, x: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """Return tokens ``(B, L, C)`` (contiguous) and the patch grid ``(h, w)``.

        Raises:
            ValueError: if the input is not ``(B, C, H, W)`` with ``H`` and
                ``W`` multiples of the patch size.
        """
        p = self.patch_size
        if x.ndim != 4 or x.shape[-2] % p or x.shape[-1] % p:
            raise ValueError(
                f'RATSViT expects images of shape (B, C, H, W) with H and W multiples of the patch '
                f'size {p}; got {tuple(x.shape)}. Resize or pad the input (e.g. set '
                f'data_preprocessor.size_divisor={p} or pad_size_divisor={p}).')
        x = self.proj(x)
        hw = (x.shape[-2], x.shape[-1])
        # Token-major memory: elementwise ops keep their input's layout, so a transposed view here would
        # stay channel-major through every residual add, and every LayerNorm would copy it.
        return x.flatten(2).transpose(1, 2).contiguous(), hw


def resize_pos_embed(pos_embed: Tensor, src_hw: tuple[int, int], dst_hw: tuple[int, int],
                     num_prefix: int = 0) -> Tensor:
    """Bicubically resize a learned absolute position embedding to a new grid.

    Args:
        pos_embed: ``(1, num_prefix + h*w, C)``; the first ``num_prefix``
            entries ([CLS] in the timm layout) are kept as they are.
        src_hw: the grid ``(h, w)`` that ``pos_embed`` was learned for.
        dst_hw: the grid to resize to.
        num_prefix: leading entries that are not on the grid.

    Returns:
        ``(1, num_prefix + H*W, C)``.
    """
    if tuple(src_hw) == tuple(dst_hw):
        return pos_embed
    prefix, grid = pos_embed[:, :num_prefix], pos_embed[:, num_prefix:]
    c = grid.shape[-1]
    if grid.shape[1] != src_hw[0] * src_hw[1]:
        raise ValueError(f'pos_embed holds {grid.shape[1]} grid entries, not {src_hw[0]}x{src_hw[1]}')
    grid = grid.reshape(1, src_hw[0], src_hw[1], c).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=tuple(dst_hw), mode='bicubic', align_corners=False)
    grid = grid.to(pos_embed.dtype).permute(0, 2, 3, 1).reshape(1, -1, c)
    return grid if num_prefix == 0 else torch.cat([prefix, grid], dim=1)
