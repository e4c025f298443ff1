"""The dataset configs of a run: where they are in the config and what they say.

Shared by the checks: :func:`_datasets` finds the ``(config key, dataset cfg)``
pairs of the dataloaders (through dataset wrappers), and the helpers below read
what the dataset will use: its registered class, an ``__init__`` default the
config leaves out, its classes, and a path under its ``data_root``.
"""
from __future__ import annotations

import inspect
import os.path as osp

from .errors import ClassCheckError

SPLITS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _datasets(cfg, splits=SPLITS) -> list[tuple[str, dict]]:
    """``(config key, dataset cfg)`` of the given dataloaders, unwrapping dataset wrappers."""
    found = []
    for split in splits:
        loader = cfg.get(split)
        if not loader or 'dataset' not in loader:
            continue
        stack = [(f'{split}.dataset', loader['dataset'])]
        while stack:
            key, ds = stack.pop()
            if 'dataset' in ds:  # RepeatDataset, ClassBalancedDataset, ...
                stack.append((f'{key}.dataset', ds['dataset']))
            elif 'datasets' in ds:  # ConcatDataset
                stack += [(f'{key}.datasets[{i}]', d) for i, d in enumerate(ds['datasets'])]
            else:
                found.append((key, ds))
    return found


def _dataset_class(ds: dict, scope: str | None):
    """The registered class of dataset config ``ds`` (``None`` if it cannot be imported)."""
    from mmengine.registry import DATASETS
    try:
        with DATASETS.switch_scope_and_registry(scope) as registry:
            return registry.get(ds.get('type'))
    except Exception:  # noqa: BLE001  (an unknown type is the runner's error to report)
        return None


def _is_subclass(cls, module: str, name: str) -> bool:
    try:
        base = getattr(__import__(module, fromlist=[name]), name)
    except ImportError:
        return False
    return isinstance(cls, type) and issubclass(cls, base)


def _default(cls, ds: dict, arg: str, fallback=None):
    """``ds[arg]``, else the default of ``arg`` in ``cls.__init__`` (its own or a base class's)."""
    if arg in ds:
        return ds[arg]
    for klass in cls.__mro__:
        p = inspect.signature(klass.__init__).parameters.get(arg) if '__init__' in vars(klass) else None
        if p is not None and p.default is not inspect.Parameter.empty:
            return p.default
    return fallback


def _classes(key: str, ds: dict, cls) -> tuple | None:
    """``metainfo.classes`` of the dataset config, else the dataset class's ``METAINFO`` classes."""
    meta = ds.get('metainfo') or {}
    classes = meta.get('classes') if isinstance(meta, dict) else None
    if isinstance(classes, str):
        raise ClassCheckError(f"{key}.metainfo.classes is the string {classes!r}, not a tuple of names: write "
                              f"classes=({classes!r},) (with the comma)")
    if classes is None:
        classes = (getattr(cls, 'METAINFO', None) or {}).get('classes')
    return tuple(classes) if classes is not None else None


def _join(root: str, path: str) -> str:
    return path if not root or not path or osp.isabs(path) else osp.join(root, path)
