"""Datasets and transforms (registered in the mmrats scope)."""
from .part_objects import PartObjectsConfig, PartObjectsSample, generate_part_objects
from .part_objects_catalogue import CATEGORIES as PART_OBJECT_CATEGORIES
from .part_objects_catalogue import PART_NAMES as PART_OBJECT_PARTS
from .part_objects_dataset import PartObjectsDataset
from .part_benchmark_dataset import PartBenchmarkDataset, spread_indices
from .part_objects_writer import write_part_objects
from .part_datasets import (PART_DATASETS, ADE20KParts, FolderParts, ImageNetSParts, PartDataset, PartDatasetError,
                            PartImageNetParts, PartSample, SyntheticScenesParts, build_part_dataset)
from .synthetic_coco_dataset import SyntheticSceneCocoDataset
from .synthetic_scenes import (CLASSES, DET_METAINFO, PALETTE, SEG_METAINFO, generate_scene,
                               write_dataset)
from .synthetic_seg_dataset import SyntheticSceneSegDataset

__all__ = ['PartObjectsConfig', 'PartObjectsSample', 'generate_part_objects', 'PART_OBJECT_CATEGORIES',
           'PART_OBJECT_PARTS', 'PartObjectsDataset', 'PartBenchmarkDataset', 'spread_indices', 'write_part_objects',
           'CLASSES', 'PALETTE', 'SEG_METAINFO', 'DET_METAINFO', 'generate_scene', 'write_dataset',
           'SyntheticSceneCocoDataset', 'SyntheticSceneSegDataset', 'PART_DATASETS', 'ADE20KParts', 'FolderParts',
           'ImageNetSParts', 'PartDataset', 'PartDatasetError', 'PartImageNetParts', 'PartSample',
           'SyntheticScenesParts', 'build_part_dataset']
