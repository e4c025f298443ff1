"""Datasets and transforms (registered in the mmrats scope)."""
from .part_datasets import (PART_DATASETS, ADE20KParts, FolderParts, ImageNetSParts, PartDataset, PartDatasetError,
                            PartImageNetParts, PartSample, SyntheticScenesParts, build_part_dataset)
from .synthetic_coco_dataset import SyntheticSceneCocoDataset
from .synthetic_scenes import (CLASSES, DET_METAINFO, PALETTE, SEG_METAINFO, generate_scene,
                               write_dataset)
from .synthetic_seg_dataset import SyntheticSceneSegDataset

__all__ = ['CLASSES', 'PALETTE', 'SEG_METAINFO', 'DET_METAINFO', 'generate_scene', 'write_dataset',
           'SyntheticSceneCocoDataset', 'SyntheticSceneSegDataset', 'PART_DATASETS', 'ADE20KParts', 'FolderParts',
           'ImageNetSParts', 'PartDataset', 'PartDatasetError', 'PartImageNetParts', 'PartSample',
           'SyntheticScenesParts', 'build_part_dataset']
