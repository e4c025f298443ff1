"""The synthetic scenes in COCO instance layout, as a stock mmdet ``CocoDataset``."""
from mmdet.datasets import CocoDataset

from mmrats.registry import DATASETS
from .synthetic_scenes import DET_METAINFO


@DATASETS.register_module()
class SyntheticSceneCocoDataset(CocoDataset):
    """mmdet's ``CocoDataset`` with the synthetic scenes' 6 shape classes.

    Generate the data with ``tools/dataset_converters/make_synthetic_scenes.py``
    (``data/synthetic/coco/{train2017,val2017}``, ``annotations/instances_*.json``).
    """

    METAINFO = DET_METAINFO
