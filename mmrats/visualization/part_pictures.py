"""Pictures of unsupervised part segmentation (paper Figures 1, 5, 13; Appendix D).

* :func:`draw_part_segmentation`: the image, its ground truth, the predicted
  segmentation (Eq. 7) overlaid, then one panel per kept register map.
* :func:`draw_head_attention`: for chosen heads of a RATS block, the compress
  attention of some of their registers overlaid on the image (Appendix D).
* :func:`plot_sweep`: metric curves over resolution or top-K (Figure 7, Table 5).

Both render with matplotlib's Agg backend and return an ``(H', W', 3)`` uint8
array (save it with PIL).
"""
from collections.abc import Sequence

import numpy as np

from .overlays import upsample_map


def _plt():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _render(fig) -> np.ndarray:
    plt = _plt()
    fig.canvas.draw()
    out = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return out


def _label_colors(label: np.ndarray, ignore_index: int = -1) -> np.ma.MaskedArray:
    """Region ids compacted to ``0..R-1`` (for a qualitative colormap), ignored pixels masked."""
    _, inv = np.unique(label, return_inverse=True)
    return np.ma.masked_array(inv.reshape(label.shape) % 20, mask=label == ignore_index)


def draw_part_segmentation(image: np.ndarray, segmentation: np.ndarray, maps: np.ndarray, indices: np.ndarray,
                           gt: np.ndarray | None = None, title: str = '', max_maps: int = 16,
                           cols: int = 8, ignore_index: int = -1) -> np.ndarray:
    """Image, ground truth, segmentation, then the per-register score maps.

    Args:
        image: ``(H, W, 3)`` uint8 RGB (the network input size).
        segmentation: ``(H, W)`` int region ids ``0..K-1``.
        maps: ``(K, h, w)`` kept score maps by rank (cosine similarity or attention).
        indices: ``(K,)`` register (or head) index of each map.
        gt: ``(H, W)`` ground-truth region ids at the same size, or None.
        title: figure title (model, dataset, metrics).
        max_maps: at most this many map panels (the highest ranked).
        cols: panels per row.
        ignore_index: ground-truth value shown transparent.

    Returns:
        The figure as an ``(H', W', 3)`` uint8 array.
    """
    plt = _plt()
    k = min(len(maps), max_maps)
    cols = max(4, min(cols, k))
    rows = 1 + -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.1 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    size = image.shape[:2]
    axes[0, 0].imshow(image)
    axes[0, 0].set_title('image', fontsize=8)
    if gt is not None:
        axes[0, 1].imshow(image)
        axes[0, 1].imshow(_label_colors(gt, ignore_index), cmap='tab20', alpha=0.6, interpolation='nearest',
                          vmin=0, vmax=19)
        axes[0, 1].set_title(f'ground truth ({len(np.unique(gt[gt != ignore_index]))} regions)', fontsize=8)
    ax = axes[0, 2 if gt is not None else 1]
    ax.imshow(image)
    ax.imshow(segmentation % 20, cmap='tab20', alpha=0.6, interpolation='nearest', vmin=0, vmax=19)
    ax.set_title(f'segmentation ({len(np.unique(segmentation))} of top-{len(maps)})', fontsize=8)
    ax = axes[0, 3 if gt is not None else 2]
    ax.imshow(segmentation % 20, cmap='tab20', interpolation='nearest', vmin=0, vmax=19)
    ax.set_title('regions', fontsize=8)
    up = upsample_map(maps[:k], size)
    for i in range(k):
        ax = axes[1 + i // cols, i % cols]
        ax.imshow(image)
        ax.imshow(up[i], cmap='jet', alpha=0.5)
        ax.set_title(f'#{i} reg {int(indices[i])} max {float(maps[i].max()):.2f}', fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _render(fig)


def draw_head_attention(image: np.ndarray, compress: np.ndarray, heads: Sequence[int] = (0, 1, 2),
                        per_head: int = 2, title: str = '') -> np.ndarray:
    """Appendix D: compress attention of ``per_head`` registers of each chosen head over the image.

    The registers of a head shown are those with the highest peak attention
    **[choice]**; each panel is titled ``head h, register i`` with the global
    register index ``i = h * n + j``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        compress: ``(H_heads, n, h, w)`` compress attention of one image.
        heads: head indices (out-of-range ones are an error).
        per_head: registers shown per head (clipped to ``n``).
        title: figure title.

    Returns:
        The figure as an ``(H', W', 3)`` uint8 array.
    """
    num_heads, n = compress.shape[:2]
    bad = [h for h in heads if not 0 <= h < num_heads]
    if bad:
        raise ValueError(f'heads {bad} out of range for {num_heads} heads')
    plt = _plt()
    per_head = min(per_head, n)
    fig, axes = plt.subplots(len(heads), per_head + 1, figsize=(2 * (per_head + 1), 2.1 * len(heads)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis('off')
    size = image.shape[:2]
    for row, h in enumerate(heads):
        peaks = compress[h].reshape(n, -1).max(1)
        order = np.argsort(-peaks, kind='stable')[:per_head]
        up = upsample_map(compress[h][order], size)
        axes[row, 0].imshow(image)
        axes[row, 0].set_title(f'head {h}', fontsize=8)
        for col, (j, m) in enumerate(zip(order, up)):
            ax = axes[row, col + 1]
            ax.imshow(image)
            ax.imshow(m, cmap='jet', alpha=0.5)
            ax.set_title(f'head {h}, register {h * n + int(j)}', fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _render(fig)


def plot_sweep(xs: Sequence[float], curves: dict[str, dict[str, Sequence[float]]], xlabel: str,
               title: str = '') -> np.ndarray:
    """Metric curves (Figure 7 / Table 5): one panel per metric, one line per dataset.

    Args:
        xs: the swept values (resolutions or top-K).
        curves: ``{dataset: {metric: values aligned with xs}}``, metrics in percent.
        xlabel: x-axis label.
        title: figure title.

    Returns:
        The figure as an ``(H', W', 3)`` uint8 array.
    """
    plt = _plt()
    metrics = list(next(iter(curves.values())))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for name, values in curves.items():
            ax.plot(xs, values[metric], marker='o', label=name)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f'{metric.upper()} (%)')
        ax.set_xticks(list(xs))
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _render(fig)
