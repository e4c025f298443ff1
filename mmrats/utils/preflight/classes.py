"""Check that a config's classes, its head and its data agree, before the runner is built.

Fine-tuning on one's own data most often fails deep inside the dataloader or
the loss. :func:`check_classes` picks, per dataset, the check for its layout and
then the head check, and every problem is one line naming the config keys to
set:

* COCO layout (mmdet ``CocoDataset``, ``CocoPanopticDataset`` and their
  subclasses): :mod:`.coco_classes`;
* segmentation layout (mmseg ``BaseSegDataset`` and its subclasses):
  :mod:`.seg_labels`;
* the head, vs the number of classes the dataset will use: :mod:`.heads`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from .coco_classes import check_coco
from .datasets import SPLITS, _dataset_class, _datasets, _is_subclass
from .errors import warn_stderr
from .heads import check_det_head, check_seg_head
from .seg_labels import SAMPLE, check_seg


def check_classes(cfg, splits: Sequence[str] = SPLITS, warn: Callable[[str], None] = warn_stderr,
                  sample: int = SAMPLE) -> None:
    """Run the class checks (module doc) on the datasets of ``splits``.

    Args:
        cfg: an mmengine ``Config`` whose data roots were checked
            (:func:`mmrats.utils.preflight.check_data_roots`).
        splits: the dataloaders to check.
        warn: called with each warning line (partial class overlap).
        sample: label PNGs read per segmentation dataset.

    Raises:
        ClassCheckError: the first problem, as one line.
    """
    scope = cfg.get('default_scope')
    for key, ds in _datasets(cfg, splits):
        cls = _dataset_class(ds, scope)
        if cls is None:
            continue
        if _is_subclass(cls, 'mmdet.datasets', 'CocoDataset') or _is_subclass(
                cls, 'mmdet.datasets', 'CocoPanopticDataset'):
            classes = check_coco(cfg, key, ds, cls, warn)
            if classes is not None:
                check_det_head(cfg, key, classes, ds)
        elif _is_subclass(cls, 'mmseg.datasets', 'BaseSegDataset'):
            classes = check_seg(cfg, key, ds, cls, warn, sample)
            check_seg_head(cfg, key, classes)
