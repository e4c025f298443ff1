"""The validations a config marks optional: without their data the run trains without them, and says so.

The ImageNet DINO configs validate part discovery on a held-out part benchmark
(PartImageNet val) every 10 epochs and keep the best checkpoint by its M2O
(paper §4.5, Fig. 8: part quality peaks before the end of training). Not every
user has that benchmark; ``optional_val = True`` in a config lets such a run
train without it: one warning line names the missing data, how to provide it
and what is lost (no best checkpoint, only the last ones), and the validation
loop, its evaluator and the checkpoint hook's ``save_best`` are removed. The
same holds for the k-NN validation (``mmrats.KNNValidationHook`` in
``custom_hooks``): ImageNet ``train/`` and ``val/`` as class folders; a missing
split, or mmpretrain's flat ``val/`` + ``meta/val.txt`` layout, switches it off
(``interval=0``) with one warning. With ``optional_val = False`` either is one
error line before the run starts.
"""
from __future__ import annotations

import os
import os.path as osp
from collections.abc import Callable

from .data_roots import DataRootError, check_data_roots
from .datasets import _datasets

KNN_HOOK = 'KNNValidationHook'


def knn_hook_problem(cfg) -> tuple[int, str] | None:
    """``(index in custom_hooks, what is wrong)`` for an active k-NN validation whose folders are not usable."""
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if str(hook.get('type', '')).split('.')[-1] != KNN_HOOK or hook.get('interval', 10) == 0:
            continue
        root = hook.get('data_root')
        if root is None:  # the training set's: a missing one is check_data_roots' error, not this one
            train = _datasets(cfg, ('train_dataloader',))
            root = train[0][1].get('data_root') if train else None
            if not root or not osp.isdir(root):
                continue
        key = f'custom_hooks.{i}'
        classes = []
        for split in (hook.get('train_split', 'train'), hook.get('val_split', 'val')):
            folder = osp.join(root or '', split)
            if not osp.isdir(folder):
                return i, f'{key} (k-NN validation): {folder!r} does not exist (set {key}.data_root=PATH)'
            with os.scandir(folder) as entries:
                names = sorted(e.name for e in entries if e.is_dir())
            if not names:
                return i, (f'{key} (k-NN validation): {folder!r} has no class folders (the k-NN reads '
                           f'{split}/<class>/<image>; a flat folder with meta/{split}.txt is not read)')
            classes.append(names)
        if classes[0] != classes[1]:
            return i, f'{key} (k-NN validation): the class folders of the train and val splits under {root!r} differ'
    return None


def drop_unprepared_validation(cfg, warn: Callable[[str], None]) -> list[str]:
    """Remove the optional validations whose data is missing, with a warning each; the names of those removed.

    Args:
        cfg: the run's mmengine ``Config`` (changed in place).
        warn: called with each warning line.

    Raises:
        DataRootError: the k-NN validation's folders are not usable and the config does not set
            ``optional_val`` (the part validation's missing data is :func:`check_data_roots`' error then).
    """
    dropped = []
    if cfg.get('optional_val') and cfg.get('val_dataloader') and _drop_part_validation(cfg, warn):
        dropped.append('part validation')
    knn = knn_hook_problem(cfg)
    if knn is not None:
        i, why = knn
        if not cfg.get('optional_val'):
            raise DataRootError(f'{why}. Or switch it off: --cfg-options custom_hooks.{i}.interval=0')
        warn(f'training without the k-NN validation (optional_val=True): {why}. Switch it off to silence this: '
             f'--cfg-options custom_hooks.{i}.interval=0')
        cfg.custom_hooks[i].interval = 0
        dropped.append('k-NN validation')
    return dropped


def _drop_part_validation(cfg, warn: Callable[[str], None]) -> bool:
    """The part-discovery validation loop of :func:`drop_unprepared_validation`; True if it was removed."""
    try:
        check_data_roots(cfg, ('val_dataloader',))
    except DataRootError as e:
        keep = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
        last = f'the last {keep["max_keep_ckpts"]}' if keep.get('max_keep_ckpts', -1) > 0 else 'every'
        warn(f'training without the validation of this config (optional_val=True): {e}\nNo best checkpoint '
             f'is kept, only {last} checkpoint(s) of the interval. Provide the data to keep it, or set '
             '--cfg-options optional_val=False to make missing validation data an error.')
        cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
        if keep.get('save_best'):
            cfg.default_hooks.checkpoint.save_best = None
        return True
    return False
