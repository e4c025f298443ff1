"""Pictures of the part dictionary (paper Fig. 4, Fig. 6 right, Fig. 10, Fig. 11).

* :func:`draw_prototype_similarity`: cosine similarity between label
  prototypes, the mean of the entries named with each part (Fig. 10).
* :func:`draw_entry_overlays`: for a few entries, the attention of the
  registers that fall into the entry, over images of one super-category, next
  to the ground-truth mask of the entry's part (Fig. 11).
* :func:`draw_part_heatmaps`: an image and the heatmap of every part the
  dictionary names in it (Fig. 4, Fig. 6 right).

All render with matplotlib's Agg backend and return an ``(H', W', 3)`` uint8 array.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .overlays import upsample_map
from .part_pictures import _plt, _render


def label_prototypes(entries: np.ndarray, entry_label: np.ndarray, skip: Sequence[int] = ()) -> tuple[list[int],
                                                                                                       np.ndarray]:
    """Label ids that name at least one entry (minus ``skip``) and their prototypes (mean entry), ``(P', C)``."""
    labels = [int(p) for p in np.unique(entry_label) if p >= 0 and int(p) not in skip]
    protos = np.stack([entries[entry_label == p].mean(0) for p in labels]) if labels else np.zeros((0, 1))
    return labels, protos


def cosine_matrix(x: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarity of the rows of ``x``."""
    n = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return n @ n.T


def draw_prototype_similarity(sim: np.ndarray, names: Sequence[str], title: str = '') -> np.ndarray:
    """Fig. 10: the ``(P', P')`` cosine similarity matrix of label prototypes, annotated."""
    plt = _plt()
    n = len(names)
    side = max(4.0, 0.55 * n + 2)
    fig, ax = plt.subplots(figsize=(side + 1, side), dpi=90)
    im = ax.imshow(sim, cmap='RdBu_r', vmin=-1, vmax=1)
    ax.set_xticks(range(n), names, rotation=60, ha='right', fontsize=8)
    ax.set_yticks(range(n), names, fontsize=8)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f'{sim[i, j]:.2f}', ha='center', va='center', fontsize=6,
                        color='white' if abs(sim[i, j]) > 0.6 else 'black')
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _render(fig)


def draw_entry_overlays(rows: Sequence[dict], title: str = '') -> np.ndarray:
    """Fig. 11: one row per entry: for each of its images, the attention overlay and the part's GT mask.

    Args:
        rows: per entry, ``dict(name=str, images=[(H, W, 3) uint8], maps=[(h, w)], masks=[(H, W) bool],
            captions=[str])``.
        title: figure title.
    """
    plt = _plt()
    cols = max(len(r['images']) for r in rows) * 2
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.6 * cols, 1.8 * len(rows)), dpi=90, squeeze=False)
    for ax in axes.ravel():
        ax.axis('off')
    for i, r in enumerate(rows):
        for j, (img, m, mask, cap) in enumerate(zip(r['images'], r['maps'], r['masks'], r['captions'])):
            heat = upsample_map(m, img.shape[:2])
            ax = axes[i, 2 * j]
            ax.imshow(img)
            ax.imshow(heat, cmap='jet', alpha=0.5)
            ax.set_title(f"{r['name']}\n{cap}" if j == 0 else cap, fontsize=7)
            ax = axes[i, 2 * j + 1]
            ax.imshow(img)
            ax.imshow(np.ma.masked_array(np.ones(mask.shape), ~mask), cmap='autumn', alpha=0.6, vmin=0, vmax=1)
            ax.set_title('GT', fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _render(fig)


def draw_part_heatmaps(image: np.ndarray, maps: np.ndarray, names: Sequence[str], title: str = '',
                       gt: np.ndarray | None = None) -> np.ndarray:
    """The image (and its ground truth), then each named part's heatmap ``(P, h, w)`` in ``[0, 1]`` over it."""
    plt = _plt()
    panels = 1 + (gt is not None) + len(names)
    fig, axes = plt.subplots(1, panels, figsize=(2.0 * panels, 2.4), dpi=90, squeeze=False)
    axes = axes[0]
    for ax in axes:
        ax.axis('off')
    axes[0].imshow(image)
    axes[0].set_title('image', fontsize=8)
    k = 1
    if gt is not None:
        axes[1].imshow(np.ma.masked_array(gt % 20, gt < 0), cmap='tab20', vmin=0, vmax=19, interpolation='nearest')
        axes[1].set_title('ground truth', fontsize=8)
        k = 2
    heat = upsample_map(maps, image.shape[:2]) if len(names) else []
    for ax, h, name in zip(axes[k:], heat, names):
        ax.imshow(image)
        ax.imshow(h, cmap='jet', alpha=0.5, vmin=0, vmax=1)
        ax.set_title(name, fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _render(fig)
