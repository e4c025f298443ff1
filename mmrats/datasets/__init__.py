"""Datasets and transforms (registered in the mmrats scope). The synthetic scenes' COCO and ADE20K datasets are
registered when mmdet and mmseg are installed (a GPU machine with torch, mmengine and mmpretrain alone imports the
rest: tools/gpu_check.sh)."""
from importlib.util import find_spec

from .part_objects import PartObjectsConfig, PartObjectsSample, generate_part_objects
from .part_objects_catalogue import CATEGORIES as PART_OBJECT_CATEGORIES
from .part_objects_catalogue import PART_NAMES as PART_OBJECT_PARTS
from .part_objects_dataset import PartObjectsDataset
from .part_benchmark_dataset import PartBenchmarkDataset, spread_indices
from .part_objects_writer import write_part_objects
from .part_datasets import (PART_DATASETS, ADE20KParts, FolderParts, ImageNetSParts, PartDataset, PartDatasetError,
                            PartImageNetParts, PartSample, SyntheticScenesParts, build_part_dataset)
from .synthetic_scenes import (CLASSES, DET_METAINFO, PALETTE, SEG_METAINFO, generate_scene,
                               write_dataset)

__all__ = ['PartObjectsConfig', 'PartObjectsSample', 'generate_part_objects', 'PART_OBJECT_CATEGORIES',
           'PART_OBJECT_PARTS', 'PartObjectsDataset', 'PartBenchmarkDataset', 'spread_indices', 'write_part_objects',
           'CLASSES', 'PALETTE', 'SEG_METAINFO', 'DET_METAINFO', 'generate_scene', 'write_dataset',
           'PART_DATASETS', 'ADE20KParts', 'FolderParts',
           'ImageNetSParts', 'PartDataset', 'PartDatasetError', 'PartImageNetParts', 'PartSample',
           'SyntheticScenesParts', 'build_part_dataset']

if find_spec('mmdet') is not None:
    from .synthetic_coco_dataset import SyntheticSceneCocoDataset  # noqa: F401
    __all__ += ['SyntheticSceneCocoDataset']
if find_spec('mmseg') is not None:
    from .synthetic_seg_dataset import SyntheticSceneSegDataset  # noqa: F401
    __all__ += ['SyntheticSceneSegDataset']
