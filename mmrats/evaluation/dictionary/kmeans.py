"""The post-hoc K-means dictionary (paper §4.4 "Codebook construction", Appendix C.2).

Last-block register features of a part-labelled split, kept only where the
register's attention peaks inside a foreground part
(:attr:`~mmrats.evaluation.dictionary.records.RegisterRecords.fg_peak`), are
clustered with scikit-learn's K-means; the ``K`` centroids are the entries.
The paper sets ``K`` about an order of magnitude above the number of part
labels (:func:`default_num_entries`).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def default_num_entries(num_labels: int) -> int:
    """About ten times the number of labels (parts and background), the paper's rule of thumb."""
    return 10 * int(num_labels)


def kmeans_entries(features: Tensor, num_entries: int, seed: int = 0, max_iter: int = 100,
                   n_init: int = 1) -> Tensor:
    """K-means centroids ``(K, C)`` of ``features`` ``(M, C)`` (scikit-learn ``KMeans``, Lloyd, k-means++ init).

    Cost ``O(M K C)`` per iteration: linear in the number of registers (so of images).

    Raises:
        ValueError: fewer features than entries, or ``K < 1``.
    """
    from sklearn.cluster import KMeans

    if num_entries < 1:
        raise ValueError(f'the number of dictionary entries must be >= 1, got {num_entries}')
    if len(features) < num_entries:
        raise ValueError(f'K-means needs at least as many foreground registers as entries: {len(features)} '
                         f'registers for K = {num_entries}; use more images or a smaller --num-entries')
    x = np.ascontiguousarray(features.detach().cpu().numpy(), dtype=np.float32)
    km = KMeans(n_clusters=int(num_entries), n_init=n_init, max_iter=max_iter, random_state=seed)
    km.fit(x)
    return torch.from_numpy(km.cluster_centers_.astype(np.float32))
