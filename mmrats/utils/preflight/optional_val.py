"""A validation a config marks optional: without its data the run trains without it, and says so.

The ImageNet DINO configs validate part discovery on a held-out part benchmark
(PartImageNet val) every 10 epochs and keep the best checkpoint by its M2O
(paper §4.5, Fig. 8: part quality peaks before the end of training). Not every
user has that benchmark; ``optional_val = True`` in a config lets such a run
train without it: one warning line names the missing data, how to provide it
and what is lost (no best checkpoint, only the last ones), and the validation
loop, its evaluator and the checkpoint hook's ``save_best`` are removed. A
config without ``optional_val`` fails on missing validation data, as before.
"""
from __future__ import annotations

from collections.abc import Callable

from .data_roots import DataRootError, check_data_roots


def drop_unprepared_validation(cfg, warn: Callable[[str], None]) -> bool:
    """Remove an optional validation whose data is missing, with a warning; True if it was removed.

    Args:
        cfg: the run's mmengine ``Config`` (changed in place).
        warn: called with the warning line.
    """
    if not cfg.get('optional_val') or not cfg.get('val_dataloader'):
        return False
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
