"""Held-out evaluation of the lab-scale experiment: part discovery (Eq. 7 and baselines), k-NN, diagnostics
(docs/lab_scale.md).

The held-out images are drawn in memory from the ``test`` split of the
part-structured objects (the same pixels as the files written by
``tools/dataset_converters/make_part_objects.py``), at their own size. Part
discovery goes through :class:`mmrats.evaluation.PartSegmenter` and
:class:`mmrats.evaluation.PartMetricAccumulator` (per image, averaged over
images), exactly as :func:`mmrats.apis.evaluate_parts` does.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from mmrats.datasets.part_objects import PartObjectsConfig, generate_part_objects
from mmrats.models.utils.candidate_maps import candidate_maps, compress_attention_maps, default_method
from mmrats.models.utils.global_repr import global_vector, resolve_global_repr
from mmrats.utils.images import normalize

from ..part_metrics import PartMetricAccumulator
from ..part_segmentation import PartSegmenter
from ..token_diagnostics import knn_top1


@dataclass
class HeldOut:
    """Images ``(N, H, W, 3)`` uint8 RGB, part labels ``(N, H, W)`` int64, categories ``(N,)``."""

    images: np.ndarray
    parts: np.ndarray
    categories: np.ndarray

    def tensor(self, sl: slice) -> torch.Tensor:
        return normalize(self.images[sl])


# The lab's data variants (issue #26): the name the driver records -> PartObjectsConfig(colour=...).
DATA_VARIANTS = {'default': 'informative', 'colour-uninformative': 'uninformative'}


def held_out(num: int, split: str = 'test', seed: int = 0, img_size: int = 96,
             data_variant: str = 'default') -> HeldOut:
    """The first ``num`` images of ``split`` (dataset seed ``seed``) of a data variant (:data:`DATA_VARIANTS`)."""
    if data_variant not in DATA_VARIANTS:
        raise ValueError(f'unknown data variant {data_variant!r}; choose one of {sorted(DATA_VARIANTS)}')
    cfg = PartObjectsConfig(img_size=img_size, colour=DATA_VARIANTS[data_variant])
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
def attention_entropy_per_head(backbone, data: HeldOut, batch: int = 50) -> list[float]:
    """Mean entropy (nats) per head of the last block's attention rows that define the candidate maps:
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
        ents.append((-(p * p.clamp_min(1e-12).log()).sum(-1)).mean((0, 2)))  # (H,)
    return torch.stack(ents).mean(0).tolist()


def attention_entropy(backbone, data: HeldOut, batch: int = 50) -> float:
    """Mean over heads of :func:`attention_entropy_per_head`."""
    return float(np.mean(attention_entropy_per_head(backbone, data, batch)))


def patch_labels(parts: np.ndarray, grid: int) -> np.ndarray:
    """Majority part label ``(N, grid, grid)`` of each patch of the label maps ``(N, H, W)`` (H = W)."""
    n, size = parts.shape[0], parts.shape[1]
    if size % grid:
        raise ValueError(f'label maps of {size} px do not split into a {grid} x {grid} grid of patches')
    p = size // grid
    blocks = parts.reshape(n, grid, p, grid, p).transpose(0, 1, 3, 2, 4).reshape(n, grid, grid, p * p)
    counts = np.stack([(blocks == c).sum(-1) for c in range(int(parts.max()) + 1)], -1)
    return counts.argmax(-1)


def contingency_scores(counts: np.ndarray) -> dict:
    """Scores of a (map, part type) count table: ``nmi`` (normalised mutual information, arithmetic-mean
    normalisation as scikit-learn's default, %), ``purity`` (share of each map's patches in its most frequent
    part type, weighted by the map's patches, %) and ``maps_used`` (exp of the entropy of the maps' shares)."""
    total = counts.sum()
    if total == 0:
        return dict(nmi=float('nan'), purity=float('nan'), maps_used=0.0)
    pj = counts / total
    pm, pp = pj.sum(1), pj.sum(0)

    def entropy(q: np.ndarray) -> float:
        q = q[q > 0]
        return float(-(q * np.log(q)).sum())

    nz = pj > 0
    mi = float((pj[nz] * np.log(pj[nz] / np.outer(pm, pp)[nz])).sum())
    hm, hp = entropy(pm), entropy(pp)
    nmi = 0.0 if hm == 0 or hp == 0 else mi / ((hm + hp) / 2)
    return dict(nmi=100 * nmi, purity=100 * float(counts.max(1).sum() / total), maps_used=float(np.exp(hm)))


@torch.no_grad()
def part_specialisation(backbone, data: HeldOut, method: str | None = None, batch: int = 50) -> dict:
    """Do the candidate maps specialise on part types across images (paper §4.2: "each register a part")?

    Every object patch (its pixels' majority part label is not background) goes
    to the candidate map that is highest on it (all maps, no top-K); the
    (map index, part type) counts over all images are scored by
    :func:`contingency_scores`. A register that always takes the same part type,
    in every image, gives NMI and purity near 100; maps that split patches
    regardless of parts give NMI near 0.
    """
    method = method or default_method(backbone)
    counts = None
    for start in range(0, len(data.images), batch):
        sl = slice(start, start + batch)
        maps = candidate_maps(backbone.eval(), data.tensor(sl), method)  # (B, M, h, w)
        labels = patch_labels(data.parts[sl], maps.shape[-1])
        win = maps.argmax(1).numpy()
        obj = labels > 0  # part types 1..P are columns 0..P-1
        if counts is None:
            counts = np.zeros((maps.shape[1], int(data.parts.max())), np.int64)
        np.add.at(counts, (win[obj], labels[obj] - 1), 1)
    return dict(contingency_scores(counts), method=method)


@torch.no_grad()
def global_features(backbone, data: HeldOut, batch: int = 100) -> torch.Tensor:
    """The global representation DINO trains (``'auto'``: [CLS], else the registers' mean) of every image."""
    name = resolve_global_repr(backbone, 'auto')
    return torch.cat([global_vector(backbone.forward_features(data.tensor(slice(start, start + batch))), name)
                      for start in range(0, len(data.images), batch)])


@torch.no_grad()
def knn_accuracy(backbone, train: HeldOut, test: HeldOut, k: int = 10, temperature: float = 0.07) -> float:
    """k-NN top-1 (percent) on the categories from the global representation (DINO's weighted k-NN,
    :func:`mmrats.evaluation.token_diagnostics.knn_top1`)."""
    return knn_top1(global_features(backbone.eval(), train), train.categories, global_features(backbone, test),
                    test.categories, k, temperature)
