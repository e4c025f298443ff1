"""Token norms per layer and the high-norm outlier share ("Vision Transformers Need Registers", Darcet et al.
2024, §2.1 and Fig. 3-4).

Darcet et al. find that the L2 norms of a trained ViT's patch tokens form a
bimodal histogram: most patches in one mode, a small share of *outliers* with
norms several times larger (background patches that carry global
information). This module measures the norms of every token group ([CLS],
registers, patches) after every block, and the outlier share with a written
threshold rule (:func:`outlier_rule`).

**The threshold rule [ours]** (the paper reads its threshold, 150 for
DINOv2-g, off the histogram by eye):

1. pool the norms of all patch tokens of one layer over the evaluated images
   and take their logarithm (the two modes are a factor apart);
2. Otsu's threshold on a 256-bin histogram of the log-norms: the cut that
   maximises the between-class variance, i.e. the valley of a bimodal
   histogram;
3. the histogram counts as bimodal only if the upper class is a minority
   (``< max_share``, default 0.5) and its mean norm is at least ``min_ratio``
   (default 2) times the lower class's; otherwise the layer has no outliers
   (share 0, no threshold);
4. outlier share = the fraction of patch tokens whose norm is above the
   threshold.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


@torch.no_grad()
def layer_tokens(backbone, x: Tensor) -> list[dict[str, Tensor | None]]:
    """Token groups after every block (the residual stream) and after the final norm.

    Args:
        backbone: an ``mmrats.RATSViT`` (any mode).
        x: ``(B, 3, H, W)`` normalised images.

    Returns:
        ``num_layers + 1`` dicts ``cls (B, C) | None``, ``registers (B, N, C) | None``,
        ``patches (B, L, C)``: blocks 1..``num_layers``, then the output (post-norm) tokens.
    """
    prefix, patches, _ = backbone._embed(x)
    rats = backbone.mode == 'rats'
    p = 0 if rats else backbone.num_prefix
    seq = patches if rats or not p else torch.cat([prefix, patches], dim=1)
    c = int(backbone.with_cls_token)

    def split(pre: Tensor | None, s: Tensor) -> dict:
        if rats:
            return dict(cls=None, registers=pre, patches=s)
        return dict(cls=s[:, 0] if c else None, registers=s[:, c:p] if p > c else None, patches=s[:, p:])

    out = []
    for i in range(backbone.num_layers):
        prefix, seq, _ = backbone._run_block(i, prefix if rats else None, seq)
        out.append(split(prefix, seq))
    last = out[-1]
    out.append({k: None if v is None else backbone.norm(v) for k, v in last.items()})
    return out


@torch.no_grad()
def layer_norms(backbone, x: Tensor) -> dict[str, np.ndarray | None]:
    """L2 norms per layer: ``patches (layers+1, B, L)``, ``registers (layers+1, B, N)``, ``cls (layers+1, B)``.

    Layer ``i < num_layers`` is the output of block ``i + 1`` (before the final
    norm); the last entry is the post-norm output (what the heads read).
    """
    tokens = layer_tokens(backbone, x)
    res = {}
    for key in ('patches', 'registers', 'cls'):
        if tokens[0][key] is None:
            res[key] = None
        else:
            res[key] = torch.stack([t[key].norm(dim=-1) for t in tokens]).float().cpu().numpy()
    return res


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold of ``values``: the histogram cut that maximises the between-class variance."""
    values = np.asarray(values, np.float64).ravel()
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return hi
    hist, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    s0 = np.cumsum(hist * centres)
    m0 = s0 / np.maximum(w0, 1)
    m1 = (s0[-1] - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    between[w1 == 0] = -1
    return float(edges[int(np.argmax(between)) + 1])


def outlier_rule(norms: np.ndarray, min_ratio: float = 2.0, max_share: float = 0.5,
                 threshold: float | None = None) -> dict:
    """Outlier share of pooled patch norms by the module's rule (or a fixed ``threshold``).

    Returns:
        ``dict(threshold, share, bimodal, low_mean, high_mean, ratio, otsu_cut, upper_share)``;
        ``threshold`` is None and ``share`` 0 when the histogram is not bimodal by the rule
        (``upper_share`` is the share above Otsu's cut either way).
    """
    norms = np.asarray(norms, np.float64).ravel()
    if threshold is not None:
        share = float((norms > threshold).mean())
        return dict(threshold=float(threshold), share=share, bimodal=None, low_mean=None, high_mean=None,
                    ratio=None, rule='fixed')
    cut = float(np.exp(otsu_threshold(np.log(np.maximum(norms, 1e-12)))))
    high, low = norms[norms > cut], norms[norms <= cut]
    low_mean = float(low.mean()) if len(low) else float('nan')
    high_mean = float(high.mean()) if len(high) else float('nan')
    share = len(high) / max(len(norms), 1)
    ratio = high_mean / low_mean if len(high) and len(low) and low_mean > 0 else float('nan')
    bimodal = bool(len(high) and len(low) and share < max_share and ratio >= min_ratio)
    return dict(threshold=cut if bimodal else None, share=share if bimodal else 0.0, bimodal=bimodal,
                low_mean=low_mean, high_mean=high_mean, ratio=ratio, otsu_cut=cut, upper_share=share,
                rule=f'otsu on log-norms; bimodal iff upper share < {max_share} and mean ratio >= {min_ratio}')
