"""Image retrieval with a bag of dictionary entries (paper §4.4, Appendix C.2 "Bag-of-entries", "Metrics").

An image is described by how many of its registers fall into each entry
(counts ``c_k``), weighted by TF-IDF, ``w_k = c_k * log(M / df_k)`` (``M``
images, ``df_k`` images with at least one register in entry ``k``; an entry no
image uses gets weight 0), and L2-normalised (an all-zero vector stays zero).
Retrieval ranks the other ``M - 1`` images of the split by cosine similarity
to the query (leave-one-out, the split is its own database).

* **AP** of a query: scikit-learn's ``average_precision_score`` with the
  images of the query's category as positives,
  ``sum_n (R_n - R_{n-1}) P_n`` over the distinct scores in decreasing order
  (tied images enter together). **mAP**: mean over queries that have at least
  one positive; also per category.
* **R@1**: whether the most similar other image shares the query's category
  (ties broken by the lower image index **[ours]**); mean over the same queries.

Only the similarity matrix is quadratic in ``M``; it is computed in blocks of
queries, so memory stays ``O(block * M)``.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

_BLOCK_ELEMENTS = 1 << 23  # similarities of one block of queries


def bag_of_entries(image: Tensor, entry: Tensor, num_images: int, num_entries: int) -> Tensor:
    """``(M, K)`` counts: registers of image ``m`` that fall into entry ``k``."""
    flat = image.long() * num_entries + entry.long()
    return torch.bincount(flat, minlength=num_images * num_entries).view(num_images, num_entries).double()


def tfidf(counts: Tensor) -> Tensor:
    """TF-IDF weighting ``c * log(M / df)`` and L2 normalisation of ``(M, K)`` counts."""
    m = counts.shape[0]
    df = (counts > 0).sum(0).double()
    idf = torch.where(df > 0, torch.log(m / df.clamp_min(1.0)), torch.zeros_like(df))
    w = counts.double() * idf
    norm = w.norm(dim=1, keepdim=True)
    return torch.where(norm > 0, w / norm.clamp_min(1e-300), torch.zeros_like(w))


def _average_precision(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """AP of every row (scikit-learn's definition, ties grouped), ``scores``/``positive`` ``(Q, D)``."""
    order = np.argsort(-scores, axis=1, kind='stable')
    s = np.take_along_axis(scores, order, 1)
    y = np.take_along_axis(positive, order, 1)
    tp = np.cumsum(y, axis=1, dtype=np.float64)
    end = np.ones_like(s, dtype=bool)  # last position of each group of equal scores
    end[:, :-1] = s[:, 1:] != s[:, :-1]
    tp_end = np.where(end, tp, 0.0)
    before = np.concatenate([np.zeros((len(s), 1)), np.maximum.accumulate(tp_end, axis=1)[:, :-1]], axis=1)
    gain = np.where(end, tp - before, 0.0)  # positives entering at each group end
    precision = tp / np.arange(1, s.shape[1] + 1)
    num_pos = y.sum(1)
    with np.errstate(invalid='ignore', divide='ignore'):
        return (gain * precision).sum(1) / num_pos


def retrieval_scores(vectors: Tensor, categories: np.ndarray, names: list[str] | None = None) -> dict:
    """Leave-one-out cosine retrieval: mAP and R@1 (percent), overall and by category.

    Args:
        vectors: ``(M, K)`` L2-normalised image vectors (:func:`tfidf`).
        categories: ``(M,)`` integer category of every image.
        names: category names (default: the ids).

    Returns:
        ``map``, ``r1``, ``queries`` (queries with a positive), ``skipped`` (queries without), and
        ``by_category``: ``{name: {map, r1, queries}}``.
    """
    cats = np.asarray(categories)
    m = len(cats)
    if vectors.shape[0] != m:
        raise ValueError(f'{vectors.shape[0]} image vectors but {m} categories')
    v = vectors.double()
    step = max(1, _BLOCK_ELEMENTS // max(1, m))
    ap, r1 = np.full(m, np.nan), np.full(m, np.nan)
    for start in range(0, m, step):
        q = np.arange(start, min(m, start + step))
        sim = (v[q] @ v.T).numpy()
        keep = np.ones((len(q), m), bool)
        keep[np.arange(len(q)), q] = False  # leave the query out
        sim = sim[keep].reshape(len(q), m - 1)
        others = np.broadcast_to(np.arange(m), (len(q), m))[keep].reshape(len(q), m - 1)
        pos = cats[others] == cats[q][:, None]
        ap[q] = _average_precision(sim, pos)
        first = np.argmax(sim, axis=1)  # the first (lowest index) of the top scores
        r1[q] = pos[np.arange(len(q)), first]
    valid = np.bincount(cats, minlength=1)[cats] > 1 if m else np.zeros(0, bool)  # the query has a positive
    names = names or [str(c) for c in range(int(cats.max()) + 1 if m else 0)]
    by = {}
    for c in np.unique(cats[valid]):
        sel = valid & (cats == c)
        by[names[c]] = dict(map=100.0 * float(ap[sel].mean()), r1=100.0 * float(r1[sel].mean()),
                            queries=int(sel.sum()))
    return dict(map=100.0 * float(ap[valid].mean()) if valid.any() else float('nan'),
                r1=100.0 * float(r1[valid].mean()) if valid.any() else float('nan'),
                queries=int(valid.sum()), skipped=int((~valid).sum()), by_category=by)
