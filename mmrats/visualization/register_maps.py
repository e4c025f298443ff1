"""Register similarity maps (paper §3.2 "Register quality visualization", Eq. 7).

``S[i, j] = cos(r_i, p_j)`` between every final-layer (post-norm) register
``r_i`` and patch token ``p_j``; registers are ranked by their peak
``max_j S[i, j]`` and the top ``K`` are kept. The part-segmentation pipeline
built on this (Gaussian smoothing, upsampling, argmax, metrics) is in the part
discovery module; here: the maps and a picture of them.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def register_similarity(registers: Tensor, patch_tokens: Tensor, patch_hw: tuple[int, int],
                        top_k: int | None = None) -> tuple[Tensor, Tensor]:
    """Cosine similarity of every register to every patch, top-``K`` by peak.

    Args:
        registers: ``(B, N, C)`` final-layer register tokens.
        patch_tokens: ``(B, L, C)`` final-layer patch tokens, ``L = h * w``.
        patch_hw: the patch grid ``(h, w)``.
        top_k: keep the ``K`` registers with the highest peak similarity
            (all ``N`` if None), in decreasing order of peak.

    Returns:
        Maps ``(B, K, h, w)`` and the kept register indices ``(B, K)``.
    """
    b, length, _ = patch_tokens.shape
    h, w = patch_hw
    if h * w != length:
        raise ValueError(f'patch_hw={patch_hw} does not match {length} patch tokens')
    sim = F.normalize(registers, dim=-1) @ F.normalize(patch_tokens, dim=-1).transpose(1, 2)  # (B, N, L)
    k = sim.shape[1] if top_k is None else min(top_k, sim.shape[1])
    idx = sim.amax(dim=-1).topk(k, dim=1).indices
    sim = torch.gather(sim, 1, idx[..., None].expand(-1, -1, length))
    return sim.view(b, k, h, w), idx


def draw_register_maps(image: np.ndarray, maps: np.ndarray, indices: np.ndarray, title: str = '',
                       cols: int = 8) -> np.ndarray:
    """A figure: the image, the argmax over the maps, then one panel per register.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        maps: ``(K, h, w)`` similarity maps (cosine, in ``[-1, 1]``).
        indices: ``(K,)`` register index of each map.
        title: figure title.
        cols: panels per row.

    Returns:
        The rendered figure as an ``(H', W', 3)`` uint8 array.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    k = len(maps)
    rows = 1 + -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    size = image.shape[:2]
    up = F.interpolate(torch.as_tensor(maps)[None].float(), size=size, mode='bilinear', align_corners=False)[0]
    axes[0, 0].imshow(image)
    axes[0, 0].set_title('image', fontsize=8)
    axes[0, 1].imshow(image)
    axes[0, 1].imshow(up.argmax(0).numpy(), cmap='tab20', alpha=0.6, interpolation='nearest')
    axes[0, 1].set_title(f'argmax of top-{k}', fontsize=8)
    for i in range(k):
        ax = axes[1 + i // cols, i % cols]
        ax.imshow(image)
        ax.imshow(up[i].numpy(), cmap='jet', alpha=0.5, vmin=-1, vmax=1)
        ax.set_title(f'register {int(indices[i])}  max {float(maps[i].max()):.2f}', fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.canvas.draw()
    out = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return out
