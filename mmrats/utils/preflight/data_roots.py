"""Check the dataset folders a config points at before a run starts.

A missing or malformed data root otherwise surfaces as a deep stack trace from
a worker process. Here it is one error naming the config key, the path and
the layout that dataset type expects.
"""
import os.path as osp

from .datasets import SPLITS, _datasets
from .errors import PreflightError

LAYOUTS = {
    'seg': ('{root}/{img}  (images, e.g. images/training/*.jpg)\n'
            '{root}/{seg}  (label PNGs with the same stems, e.g. annotations/training/*.png)'),
    'coco': ('{root}/{img}  (images, e.g. train2017/*.jpg)\n'
             '{root}/{ann}  (COCO instances json)'),
    'folder': '{root}/{img}  (images)',
    'imagenet': ('{root}/{split}/<class>/<image>  (mmpretrain ImageNet layout; optionally '
                 '{root}/meta/{split}.txt)'),
    'images': '{root}/<image files>  (mmpretrain CustomDataset, with_label=False: any folder of images)',
}
SEG_TYPES = ('ADE20KDataset', 'SyntheticSceneSegDataset', 'BaseSegDataset')
COCO_TYPES = ('CocoDataset', 'CocoPanopticDataset', 'SyntheticSceneCocoDataset')
IMAGENET_TYPES = ('ImageNet', 'ImageNet21k')
FOLDER_TYPES = ('CustomDataset',)
PART_TYPES = ('PartBenchmarkDataset',)
PART_HINT = 'How to prepare each part benchmark: docs/part_discovery.md, "Part discovery during pretraining".'
PHOTOS_HINT = ('For the embedded demo photos run: python tools/demo/dino_demo.py (writes data/sample_photos), '
               'or python -c "from mmrats.datasets.sample_photos import write_sample_photos; '
               'write_sample_photos(\'data/sample_photos\')"')
DEMO_HINT = ('For the embedded demo data run: python tools/dataset_converters/make_synthetic_scenes.py '
             '--out data/synthetic')


class DataRootError(PreflightError, FileNotFoundError):
    """A dataset folder or annotation file that a config names does not exist."""


def check_data_roots(cfg, splits=SPLITS) -> None:
    """Raise :class:`DataRootError` if a dataset's files are not where the config says.

    Args:
        cfg: an mmengine ``Config`` (or dict) with ``*_dataloader.dataset``.
        splits: the dataloaders to check (training checks ``train_dataloader`` and
            ``val_dataloader``; testing ``test_dataloader``).
    """
    for key, ds in _datasets(cfg, splits):
        kind = str(ds.get('type', '')).split('.')[-1]
        root = ds.get('data_root') or ''
        prefix = ds.get('data_prefix') or {}
        if kind in SEG_TYPES:
            need = {'img': prefix.get('img_path', ''), 'seg': prefix.get('seg_map_path', '')}
            layout = LAYOUTS['seg'].format(root=root, **need)
        elif kind in COCO_TYPES:
            need = {'img': prefix.get('img', ''), 'ann': ds.get('ann_file', '')}
            layout = LAYOUTS['coco'].format(root=root, **need)
        elif kind in IMAGENET_TYPES + FOLDER_TYPES:
            _check_image_folder(key, kind, ds)
            continue
        elif kind in PART_TYPES:
            _check_part_benchmark(key, ds)
            continue
        else:
            continue
        if root and not osp.isdir(root):
            raise DataRootError(f'{key}.data_root = {root!r} does not exist. {kind} expects:\n{layout}\n'
                                f'Set the data root with --cfg-options {key}.data_root=PATH. {DEMO_HINT}')
        for name, rel in need.items():
            path = osp.join(root, rel) if rel else root
            ok = osp.isfile(path) if name == 'ann' else osp.isdir(path)
            if rel and not ok:
                raise DataRootError(f'{key}: {path!r} is missing. {kind} under data_root={root!r} expects:\n'
                                    f'{layout}\n{DEMO_HINT}')
    # after the datasets: a missing data root is the clearer first error
    check_evaluator_files(cfg, [s.replace('_dataloader', '_evaluator') for s in splits if s != 'train_dataloader'])


def check_evaluator_files(cfg, evaluators=('val_evaluator', 'test_evaluator')) -> None:
    """Raise :class:`DataRootError` if an evaluator's ``ann_file`` (COCO metrics) is missing."""
    for key in evaluators:
        ev = cfg.get(key)
        for i, e in enumerate(ev if isinstance(ev, (list, tuple)) else [ev] if ev else []):
            ann = e.get('ann_file') if hasattr(e, 'get') else None
            if ann and not osp.isfile(ann):
                name = f'{key}[{i}]' if isinstance(ev, (list, tuple)) else key
                raise DataRootError(f'{name}.ann_file = {ann!r} does not exist (the annotations the metric '
                                    f'compares with). Set it with --cfg-options {name}.ann_file=PATH. {DEMO_HINT}')


def _check_image_folder(key: str, kind: str, ds: dict) -> None:
    """mmpretrain ``ImageNet`` (``root/<split>/``) and ``CustomDataset`` (a folder of images)."""
    root = ds.get('data_root') or ''
    prefix = ds.get('data_prefix') or ''
    prefix = prefix.get('img_path', '') if isinstance(prefix, dict) else prefix
    if kind in IMAGENET_TYPES:
        split = ds.get('split') or 'train'
        layout = LAYOUTS['imagenet'].format(root=root.rstrip('/'), split=split)
        folder = osp.join(root, prefix or split)
    else:
        layout, folder = LAYOUTS['images'].format(root=root.rstrip('/')), osp.join(root, prefix)
    hint = PHOTOS_HINT if kind in FOLDER_TYPES else ''
    if not osp.isdir(root or '.'):
        raise DataRootError(f'{key}.data_root = {root!r} does not exist. {kind} expects:\n{layout}\n'
                            f'Set the data root with --cfg-options {key}.data_root=PATH. {hint}'.rstrip())
    if not osp.isdir(folder):
        raise DataRootError(f'{key}: {folder!r} is missing. {kind} under data_root={root!r} expects:\n{layout}')


def _check_part_benchmark(key: str, ds: dict) -> None:
    """``mmrats.PartBenchmarkDataset``: its reader lists the benchmark and checks that every image has labels."""
    from mmrats.datasets.part_datasets import PART_DATASETS, PartDatasetError, build_part_dataset

    kind, root = ds.get('kind'), ds.get('data_root') or ''
    if kind not in PART_DATASETS:
        raise DataRootError(f'{key}.kind = {kind!r} is not a part benchmark reader; choose one of '
                            f'{sorted(PART_DATASETS)}')
    kwargs = dict(ds.get('reader_cfg') or {})
    if ds.get('split') is not None:
        kwargs['split'] = ds['split']
    try:
        build_part_dataset(kind, root, **kwargs)
    except PartDatasetError as e:
        raise DataRootError(f'{key} ({kind}, data_root={root!r}): {e}. Set the data root with --cfg-options '
                            f'{key}.data_root=PATH. {PART_HINT}') from None
