"""Held-out evaluation of the lab-scale experiment: part discovery (Eq. 7 and baselines), k-NN, diagnostics.

The held-out images are drawn in memory from the ``test`` split of the
part-structured objects (the same pixels as the files written by
``tools/dataset_converters/make_part_objects.py``), at their own size. Part
discovery goes through :class:`mmrats.evaluation.PartSegmenter` and
:class:`mmrats.evaluation.PartMetricAccumulator` (per image, averaged over
images), exactly as ``tools/analysis/part_segmentation.py`` does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mmrats.datasets.part_objects import PartObjectsConfig, generate_part_objects
from mmrats.evaluation import PartMetricAccumulator, PartSegmenter, candidate_maps, compress_attention_maps

MEAN = np.array([123.675, 116.28, 103.53], np.float32)  # the DINO configs' data preprocessor (RGB)
STD = np.array([58.395, 57.12, 57.375], np.float32)


@dataclass
class HeldOut:
    """Images ``(N, H, W, 3)`` uint8 RGB, part labels ``(N, H, W)`` int64, categories ``(N,)``."""

    images: np.ndarray
    parts: np.ndarray
    categories: np.ndarray

    def tensor(self, sl: slice) -> torch.Tensor:
        x = (self.images[sl].astype(np.float32) - MEAN) / STD
        return torch.from_numpy(x.transpose(0, 3, 1, 2).copy())


def held_out(num: int, split: str = 'test', seed: int = 0, img_size: int = 96) -> HeldOut:
    """The first ``num`` images of ``split`` (dataset seed ``seed``)."""
    cfg = PartObjectsConfig(img_size=img_size)
    samples = [generate_part_objects(i, seed, split, cfg) for i in range(num)]
    return HeldOut(np.stack([s.image for s in samples]), np.stack([s.parts for s in samples]).astype(np.int64),
                   np.array([s.category for s in samples]))


@torch.no_grad()
def part_discovery(backbone, data: HeldOut, top_ks: list[int], method: str | None = None, sigma: float = 1.0,
                   batch: int = 50) -> dict:
    """M2O / O2O / ARI (percent) for every K of ``top_ks``, plus diagnostics of the candidate maps.

    Diagnostics (means over images): ``map_similarity``, the mean pairwise
    cosine similarity between an image's candidate maps (1: all alike);
    ``regions_used``, the number of distinct regions of the largest-K
    segmentation; ``num_maps``, candidate maps per image.
    """
    seg = PartSegmenter(backbone.eval(), method, max(top_ks), sigma)
    accs = {k: PartMetricAccumulator() for k in top_ks}
    sims, used = [], []
    for start in range(0, len(data.images), batch):
        sl = slice(start, start + batch)
        x = data.tensor(sl)
        outs = seg(x, top_ks)
        for k, o in zip(top_ks, outs):
            accs[k].update(o.labels.numpy(), data.parts[sl])
        maps = candidate_maps(backbone, x, seg.method).flatten(2)
        m = F.normalize(maps - maps.mean(-1, keepdim=True), dim=-1)
        c = m @ m.transpose(1, 2)
        n = c.shape[1]
        if n > 1:
            sims.extend(((c.sum((1, 2)) - c.diagonal(dim1=1, dim2=2).sum(1)) / (n * (n - 1))).tolist())
        last = outs[top_ks.index(max(top_ks))].labels
        used.extend(len(torch.unique(lab)) for lab in last)
    res = {str(k): {m: accs[k].result()[m] for m in ('m2o', 'o2o', 'ari')} for k in top_ks}
    return dict(per_k=res, method=seg.method, num_maps=int(maps.shape[1]),
                map_similarity=float(np.mean(sims)) if sims else float('nan'), regions_used=float(np.mean(used)))


@torch.no_grad()
def attention_entropy(backbone, data: HeldOut, batch: int = 50) -> float:
    """Mean entropy (nats) of the last block's per-head attention rows that define the candidate maps:
    RATS compress attention (register -> patches), ViT [CLS] or register attention; ``log L`` is uniform."""
    ents = []
    for start in range(0, len(data.images), batch):
        x = data.tensor(slice(start, start + batch))
        if backbone.mode == 'rats':
            p = compress_attention_maps(backbone, x).flatten(3)  # (B, H, n, L)
        else:
            out = backbone.forward_attention_maps(x, layers=(-1,))
            attn = out['maps'][backbone.num_layers - 1]['attn']
            p = attn[:, :, :backbone.num_prefix, backbone.num_prefix:]
            p = p / p.sum(-1, keepdim=True)
        ents.append(-(p * p.clamp_min(1e-12).log()).sum(-1).mean().item())
    return float(np.mean(ents))


@torch.no_grad()
def global_features(backbone, data: HeldOut, batch: int = 100) -> torch.Tensor:
    """L2-normalised global representation: registers' mean (RATS) or [CLS] (ViT), as DINO trains it."""
    feats = []
    for start in range(0, len(data.images), batch):
        f = backbone.forward_features(data.tensor(slice(start, start + batch)))
        g = f['cls_token'] if f['cls_token'] is not None else f['registers'].mean(1)
        feats.append(F.normalize(g, dim=-1))
    return torch.cat(feats)


@torch.no_grad()
def knn_top1(backbone, train: HeldOut, test: HeldOut, k: int = 10, temperature: float = 0.07) -> float:
    """k-NN top-1 (percent) on the categories: cosine similarity, votes weighted by ``exp(sim / T)`` (DINO's)."""
    ftr, fte = global_features(backbone.eval(), train), global_features(backbone, test)
    sim = fte @ ftr.T
    top, idx = sim.topk(min(k, len(ftr)), dim=1)
    labels = torch.from_numpy(train.categories)[idx]
    num_classes = int(max(train.categories.max(), test.categories.max())) + 1
    votes = torch.zeros(len(fte), num_classes).scatter_add_(1, labels, (top / temperature).exp())
    return 100.0 * float((votes.argmax(1).numpy() == test.categories).mean())
