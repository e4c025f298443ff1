"""Pictures of the token diagnostics (docs/diagnostics.md).

* :func:`draw_norm_histograms`: per layer, the histogram of the patch-token
  norms (log x) with the outlier rule's threshold, and the register / [CLS] norms
  (Darcet et al. Fig. 3);
* :func:`draw_token_maps`: per image, the image with its boxes and the
  top-scored patch, the patch-norm map, the patch-score map and LaSt-ViT's
  vote-count map.

Both render with matplotlib's Agg backend (80 dpi) and return an ``(H', W', 3)``
uint8 array (save it with PIL).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .part_pictures import _plt, _render

__all__ = ['draw_norm_histograms', 'draw_token_maps']

DPI = 80
_COLORS = dict(patches='tab:blue', registers='tab:green', cls='tab:red')


def draw_norm_histograms(norms: dict, layers: list[dict], title: str = '') -> np.ndarray:
    """Token-norm histograms, one panel per layer.

    Args:
        norms: ``patches`` ``(layers + 1, N, L)``, ``registers`` ``(layers + 1, N, R)`` or None, ``cls``
            ``(layers + 1, N)`` or None (:func:`mmrats.evaluation.token_diagnostics_run.norms_of`).
        layers: per layer ``layer`` (its name) and ``outliers`` (``threshold``, ``share``), as
            :func:`mmrats.evaluation.token_diagnostics_run.norm_summary` gives.
        title: figure title.
    """
    plt = _plt()
    num = norms['patches'].shape[0]
    cols = min(num, 5)
    rows = math.ceil(num / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, dpi=DPI)
    for i in range(rows * cols):
        ax = axes[i // cols][i % cols]
        if i >= num:
            ax.axis('off')
            continue
        vals = norms['patches'][i].ravel()
        groups = [('patches', vals)] + [(k, norms[k][i].ravel()) for k in ('registers', 'cls') if norms[k] is not None]
        lo = min(max(v.min(), 1e-6) for _, v in groups)
        hi = max(v.max() for _, v in groups)
        bins = np.geomspace(lo * 0.95, hi * 1.05, 50)
        for name, v in groups:
            ax.hist(v, bins=bins, color=_COLORS[name], alpha=0.6, label=name if name != 'cls' else '[CLS]',
                    density=True)
        thr = layers[i]['outliers']['threshold']
        if thr is not None:
            ax.axvline(thr, color='k', ls='--', lw=1, label=f"threshold ({100 * layers[i]['outliers']['share']:.1f}%)")
        ax.set_xscale('log')
        ax.minorticks_off()
        ax.set_title(layers[i]['layer'], fontsize=9)
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _render(fig)


def draw_token_maps(images: np.ndarray, boxes: Sequence[np.ndarray], norm_maps: np.ndarray, score_maps: np.ndarray,
                    vote_maps: np.ndarray, top: Sequence[int], patch_size: int, title: str = '') -> np.ndarray:
    """One row per image: image + boxes + top patch, then the patch-norm, patch-score and vote maps over it.

    Args:
        images: ``(N, H, W, 3)`` uint8 RGB (the network input).
        boxes: per image an ``(n, 4)`` array ``x0, y0, x1, y1`` in input pixels.
        norm_maps, score_maps, vote_maps: ``(N, h, w)`` on the patch grid.
        top: per image the row-major index of the top-scored patch (drawn red in every panel).
        patch_size: patch side in pixels.
        title: figure title.
    """
    plt = _plt()
    num = len(images)
    h, w = norm_maps.shape[1:]
    fig, axes = plt.subplots(num, 4, figsize=(10, 2.5 * num), squeeze=False, dpi=DPI)
    panels = (('image, boxes, top patch', None), ('patch norm (last block)', 'magma'),
              ('patch score', 'viridis'), ('LaSt-ViT votes', 'inferno'))
    for r in range(num):
        maps = [None, norm_maps[r], score_maps[r], vote_maps[r]]
        for c, ((name, cmap), m) in enumerate(zip(panels, maps)):
            ax = axes[r][c]
            ax.imshow(images[r])
            if m is not None:
                ax.imshow(m, cmap=cmap, alpha=0.75, extent=(0, w * patch_size, h * patch_size, 0),
                          interpolation='nearest')
            for x0, y0, x1, y1 in boxes[r]:
                ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec='w', lw=1))
            ty, tx = divmod(int(top[r]), w)
            ax.add_patch(plt.Rectangle((tx * patch_size, ty * patch_size), patch_size, patch_size, fill=False,
                                       ec='r', lw=1.5))
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _render(fig)
