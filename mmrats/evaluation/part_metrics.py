"""Unsupervised part-segmentation metrics (paper Appendix E; docs/method.md "Metrics").

All three compare a predicted labelling with a ground-truth labelling of the
same image, both integer label maps whose values are arbitrary region ids
(predicted ids carry no class meaning). Pixels whose ground truth equals
``ignore_index`` are removed from both maps first. Everything is computed
from the contingency table ``T[p, g]`` (pixels labelled ``p`` in the
prediction and ``g`` in the ground truth; empty rows and columns dropped):

* **Many-to-one mIoU (M2O).** Each predicted region ``p`` is assigned to the
  ground-truth region ``g*(p) = argmax_g T[p, g]`` it overlaps most (ties: the
  lowest ground-truth id); several predictions may map to one ground-truth
  region. Ground-truth region ``g`` is then scored by the IoU between ``g`` and
  the union of the predictions assigned to it (0 if none is); M2O is the mean
  over the image's ground-truth regions.
* **One-to-one mIoU (O2O).** Hungarian matching (Kuhn 1955) between predicted
  and ground-truth regions maximising the total IoU; each region is matched at
  most once, unmatched ground-truth regions count as IoU 0, and the mean is
  over the image's ground-truth regions. A large M2O - O2O gap means
  over-segmentation (paper §4.5, Table 4).
* **ARI.** The adjusted Rand index (Hubert & Arabie 1985) between the two
  pixel labellings: ``(I - E) / (M - E)`` with ``I = sum_pg C(T[p,g], 2)``,
  ``E = A B / C(n, 2)``, ``M = (A + B) / 2``, ``A = sum_p C(row_p, 2)``,
  ``B = sum_g C(col_g, 2)``. When ``M = E`` (both labellings a single region,
  or both all singletons) the labellings agree and ARI is 1, as in
  scikit-learn.

Dataset score **[spec choice]**: each metric is computed per image and the
per-image scores are averaged over the images (:class:`PartMetricAccumulator`);
images whose pixels are all ignored are skipped and counted.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

IGNORE_INDEX = -1
METRICS = ('m2o', 'o2o', 'ari')
AVERAGING = 'per-image scores averaged over images (spec choice)'

_BINCOUNT_LIMIT = 1 << 24  # use a dense bincount table below this many cells, np.unique above


def contingency_table(pred: np.ndarray, gt: np.ndarray, ignore_index: int | None = IGNORE_INDEX) -> np.ndarray:
    """Pixel counts ``T[p, g]`` of every (predicted, ground-truth) region pair.

    Args:
        pred: integer label map of any shape.
        gt: integer label map of the same shape.
        ignore_index: ground-truth value of pixels to drop, or None.

    Returns:
        ``(P, G)`` int64 table over the regions present in the kept pixels,
        rows and columns in increasing id order; ``(0, 0)`` if no pixel is kept.
    """
    pred, gt = np.asarray(pred), np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction of shape {pred.shape} and ground truth of shape {gt.shape} differ')
    if not (np.issubdtype(pred.dtype, np.integer) and np.issubdtype(gt.dtype, np.integer)):
        raise TypeError(f'label maps must be integer arrays, got {pred.dtype} and {gt.dtype}')
    pred, gt = pred.ravel().astype(np.int64), gt.ravel().astype(np.int64)
    if ignore_index is not None:
        keep = gt != ignore_index
        pred, gt = pred[keep], gt[keep]
    if pred.size == 0:
        return np.zeros((0, 0), np.int64)
    pred, gt = pred - pred.min(), gt - gt.min()
    num_p, num_g = int(pred.max()) + 1, int(gt.max()) + 1
    if num_p * num_g <= _BINCOUNT_LIMIT:
        table = np.bincount(pred * num_g + gt, minlength=num_p * num_g).reshape(num_p, num_g)
        return table[table.any(1)][:, table.any(0)]
    p_ids, p_inv = np.unique(pred, return_inverse=True)
    g_ids, g_inv = np.unique(gt, return_inverse=True)
    return np.bincount(p_inv * len(g_ids) + g_inv, minlength=len(p_ids) * len(g_ids)).reshape(len(p_ids), -1)


def iou_matrix(table: np.ndarray) -> np.ndarray:
    """``IoU[p, g] = T[p, g] / (|p| + |g| - T[p, g])`` from a contingency table."""
    rows, cols = table.sum(1, keepdims=True), table.sum(0, keepdims=True)
    return table / (rows + cols - table)


def m2o_from_table(table: np.ndarray) -> float:
    """Many-to-one mIoU of a contingency table (see the module docstring)."""
    num_g = table.shape[1]
    assign = table.argmax(1)  # ground-truth region of each prediction
    inter = np.bincount(assign, weights=table[np.arange(len(table)), assign], minlength=num_g)
    pred_area = np.bincount(assign, weights=table.sum(1), minlength=num_g)
    union = pred_area + table.sum(0) - inter
    return float(np.mean(inter / union))


def o2o_from_table(table: np.ndarray) -> float:
    """One-to-one (Hungarian) mIoU of a contingency table (see the module docstring)."""
    iou = iou_matrix(table)
    rows, cols = linear_sum_assignment(iou, maximize=True)
    return float(iou[rows, cols].sum() / table.shape[1])


def ari_from_table(table: np.ndarray) -> float:
    """Adjusted Rand index of a contingency table (see the module docstring); exact integer arithmetic."""
    def pairs(x: np.ndarray) -> int:
        x = x.astype(np.int64)
        return int((x * (x - 1) // 2).sum())

    n = int(table.sum())
    index, a, b = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    total = n * (n - 1) // 2
    # ARI = (I - A B / total) / ((A + B) / 2 - A B / total), multiplied through by 2 * total
    num, den = 2 * (index * total - a * b), (a + b) * total - 2 * a * b
    return 1.0 if den == 0 else num / den


def part_scores(pred: np.ndarray, gt: np.ndarray, ignore_index: int | None = IGNORE_INDEX) -> dict | None:
    """M2O mIoU, O2O mIoU and ARI of one image, from one contingency table.

    Args:
        pred: predicted integer label map.
        gt: ground-truth integer label map, same shape.
        ignore_index: ground-truth value of pixels to leave out, or None.

    Returns:
        ``dict(m2o=..., o2o=..., ari=...)`` as fractions in ``[0, 1]`` (ARI in
        ``[-1, 1]``), or None when every pixel is ignored.
    """
    table = contingency_table(pred, gt, ignore_index)
    if table.size == 0:
        return None
    return dict(m2o=m2o_from_table(table), o2o=o2o_from_table(table), ari=ari_from_table(table))


def many_to_one_miou(pred: np.ndarray, gt: np.ndarray, ignore_index: int | None = IGNORE_INDEX) -> float:
    """Many-to-one mIoU of one image (paper Appendix E); see the module docstring."""
    return _one(pred, gt, ignore_index, m2o_from_table)


def one_to_one_miou(pred: np.ndarray, gt: np.ndarray, ignore_index: int | None = IGNORE_INDEX) -> float:
    """One-to-one (Hungarian) mIoU of one image (paper Appendix E); see the module docstring."""
    return _one(pred, gt, ignore_index, o2o_from_table)


def adjusted_rand_index(pred: np.ndarray, gt: np.ndarray, ignore_index: int | None = IGNORE_INDEX) -> float:
    """Adjusted Rand index between two labellings of one image; see the module docstring."""
    return _one(pred, gt, ignore_index, ari_from_table)


def _one(pred, gt, ignore_index, fn) -> float:
    table = contingency_table(pred, gt, ignore_index)
    if table.size == 0:
        raise ValueError('every pixel of the ground truth is ignored; the metric is undefined')
    return fn(table)


@dataclass
class PartMetricAccumulator:
    """Per-image M2O / O2O / ARI, averaged over a dataset (the spec's choice).

    Args:
        ignore_index: ground-truth value of pixels to leave out.
    """

    ignore_index: int | None = IGNORE_INDEX
    scores: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in METRICS})
    num_skipped: int = 0

    def update(self, preds: np.ndarray, gts: np.ndarray) -> None:
        """Add a batch: ``preds`` and ``gts`` of shape ``(B, H, W)`` (or one ``(H, W)`` pair)."""
        preds, gts = np.asarray(preds), np.asarray(gts)
        if preds.ndim == 2:
            preds, gts = preds[None], gts[None]
        for pred, gt in zip(preds, gts):
            s = part_scores(pred, gt, self.ignore_index)
            if s is None:
                self.num_skipped += 1
                continue
            for k in METRICS:
                self.scores[k].append(s[k])

    def __len__(self) -> int:
        return len(self.scores['m2o'])

    def result(self) -> dict:
        """Means in percent: ``dict(m2o, o2o, ari, num_images, num_skipped, averaging)``."""
        out = {k: (100.0 * float(np.mean(v)) if v else float('nan')) for k, v in self.scores.items()}
        return dict(out, num_images=len(self), num_skipped=self.num_skipped, averaging=AVERAGING)
