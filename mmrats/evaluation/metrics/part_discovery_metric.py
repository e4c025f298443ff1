"""Part discovery as an mmengine metric: M2O / O2O / ARI of register maps during training (paper Eq. 7, App. E).

The model's ``predict`` (:meth:`mmrats.DINO.predict`) puts each image's
candidate maps (``part_maps``, ``(M, h, w)``: RATS register-patch similarity,
ViT [CLS] attention per head, or ViT register attention) into its data
sample; the data sample also carries the ground truth ``gt_part_label``
(``(H, W)``, packed with ``PackInputs(algorithm_keys=['gt_part_label'])``).
This metric runs the rest of the part-discovery pipeline of
:mod:`mmrats.evaluation.part_segmentation` (top-K by peak, Gaussian smoothing,
bilinear upsampling to the label size, argmax) and scores it with
:mod:`mmrats.evaluation.part_metrics` (per image, averaged over images), for
one or several K at once. A DINO config with a validation loop thus logs the
curve of M2O per epoch::

    val_evaluator = dict(type='mmrats.PartDiscoveryMetric', top_k=[8, 16], sigma=1.0)

Keys (prefix ``parts``): ``m2o``, ``o2o``, ``ari`` for the first K, and
``m2o_top{K}``, ``o2o_top{K}``, ``ari_top{K}`` for every K, in percent.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmrats.registry import METRICS

from ..part_metrics import IGNORE_INDEX, METRICS as PART_METRICS, PartMetricAccumulator
from ..part_segmentation import rank_top_k, segment_maps


def _array(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


@METRICS.register_module()
class PartDiscoveryMetric(BaseMetric):
    """Unsupervised part segmentation scores of the model's candidate maps.

    Args:
        top_k: the K (regions per image) to score; the first one gives the plain keys.
        sigma: Gaussian std in patch-grid cells (0: no smoothing).
        ignore_index: ground-truth value of pixels to leave out.
        collect_device: mmengine's, for distributed collection.
        prefix: key prefix (default ``parts``).
    """

    default_prefix = 'parts'

    def __init__(self, top_k: int | Sequence[int] = (8,), sigma: float = 1.0, ignore_index: int = IGNORE_INDEX,
                 collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.top_k = [int(top_k)] if isinstance(top_k, int) else [int(k) for k in top_k]
        if not self.top_k or min(self.top_k) < 1:
            raise ValueError(f'PartDiscoveryMetric top_k must be one or more integers >= 1, got {top_k}')
        self.sigma, self.ignore_index = float(sigma), ignore_index

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Segment every image at every K and keep its per-image scores."""
        for ds in data_samples:
            if 'part_maps' not in ds or 'gt_part_label' not in ds:
                raise KeyError('PartDiscoveryMetric needs part_maps (the model predict of mmrats.DINO) and '
                               "gt_part_label (PackInputs(algorithm_keys=['gt_part_label'])) in every data sample; "
                               f'got keys {sorted(ds)}')
            maps = torch.as_tensor(ds['part_maps']).float()[None]  # (1, M, h, w)
            gt = _array(ds['gt_part_label']).astype(np.int64)
            if gt.ndim == 3:
                gt = gt[0]
            ranked, _ = rank_top_k(maps, max(self.top_k))
            row = {}
            for k in self.top_k:
                labels = segment_maps(ranked[:, :k], gt.shape, self.sigma)[0].numpy()
                acc = PartMetricAccumulator(self.ignore_index)
                acc.update(labels, gt)
                row[k] = None if len(acc) == 0 else {m: acc.scores[m][0] for m in PART_METRICS}
            row['num_maps'] = maps.shape[1]
            self.results.append(row)

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        """Per-image scores averaged over images, in percent (images with no kept pixel are skipped)."""
        out = {}
        for i, k in enumerate(self.top_k):
            rows = [r[k] for r in results if r[k] is not None]
            for m in PART_METRICS:
                value = 100.0 * float(np.mean([r[m] for r in rows])) if rows else float('nan')
                out[f'{m}_top{k}'] = value
                if i == 0:
                    out[m] = value
        return out
