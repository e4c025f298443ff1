"""Weighted k-NN classification on global features, DINO's protocol (DINO §4.2 / ``eval_knn.py``).

Features are L2-normalised; every query takes its ``k`` most similar references
(cosine similarity), each votes for its label with weight ``exp(sim / T)``; the
label with the most weight wins (top-1), the five heaviest give top-5. DINO's
ImageNet numbers use ``k = 20`` and ``T = 0.07``, the train split as the
references and the val split as the queries. Queries are processed in chunks,
so memory stays bounded for a large bank. One detail differs from DINO's code:
a class no neighbour voted for is never a top-5 hit (DINO's sort can rank such
classes into the top 5 by the order of equal zeros, when the neighbours hold
fewer than 5 classes); top-1 is the same.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


def knn_classify(train: Tensor, train_labels, test: Tensor, test_labels, k: int = 20, temperature: float = 0.07,
                 num_classes: int | None = None, chunk: int = 256) -> dict:
    """Top-1 and top-5 accuracy (percent) of the weighted k-NN classifier.

    Args:
        train, test: ``(N, C)`` and ``(M, C)`` features (normalised here).
        train_labels, test_labels: ``(N,)`` and ``(M,)`` integer labels.
        k: neighbours (clipped to ``N``); temperature: ``T`` of the votes.
        num_classes: default: the largest label + 1.
        chunk: queries per similarity block.

    Returns:
        ``dict(top1=..., top5=..., k=..., temperature=..., num_train=N, num_test=M)``.
    """
    train_labels = torch.as_tensor(np.asarray(train_labels), dtype=torch.long)
    test_labels = torch.as_tensor(np.asarray(test_labels), dtype=torch.long)
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    train, test = F.normalize(train.float(), dim=-1), F.normalize(test.float(), dim=-1)
    kk = min(k, len(train))
    top1 = top5 = 0
    for start in range(0, len(test), chunk):
        sim = test[start:start + chunk] @ train.T
        top, idx = sim.topk(kk, dim=1)
        weights = (top.cpu() / temperature).exp()
        votes = torch.zeros(len(sim), num_classes).scatter_add_(1, train_labels[idx.cpu()], weights)
        truth = test_labels[start:start + chunk]
        top1 += int((votes.argmax(1) == truth).sum())
        weight, best = votes.topk(min(5, num_classes), dim=1)
        top5 += int(((best == truth[:, None]) & (weight > 0)).any(1).sum())
    n = len(test)
    return dict(top1=100.0 * top1 / n, top5=100.0 * top5 / n, k=kk, temperature=temperature, num_train=len(train),
                num_test=n)
