"""The checks ``tools/train.py`` and ``tools/test.py`` run before the runner is built.

In this order: the data roots (:mod:`.data_check`), the weights files
(:mod:`.weights_check`), then the classes (:mod:`.class_check`: they read the
annotation files the first check found). The first problem raises a
:class:`~.data_check.PreflightError`; the tools print it after ``error:`` and
exit with status 2, before any model or dataset is built.
"""
import os
import sys
from collections.abc import Callable, Sequence

from .class_check import check_classes
from .data_check import check_data_roots
from .weights_check import check_weights


def _warn_rank0(msg: str) -> None:
    if int(os.environ.get('RANK', '0')) == 0:  # once per run, not once per process
        print(f'warning: {msg}', file=sys.stderr)


def preflight(cfg, splits: Sequence[str], load_from_key: str = 'load_from', model_weights: bool = True,
              warn: Callable[[str], None] = _warn_rank0) -> None:
    """Check a run's data, weights and classes.

    Args:
        cfg: the mmengine ``Config`` the runner will be built from.
        splits: the dataloaders the run uses (training: ``train_dataloader`` and
            ``val_dataloader``; testing: ``test_dataloader``).
        load_from_key: how to name ``cfg.load_from`` in a message (``'load_from'``,
            ``'--resume'``, ``'CHECKPOINT'``).
        model_weights: also check the model's ``init_cfg`` checkpoints (training only:
            testing loads ``load_from`` over them and never initialises from them).
        warn: called with each warning line.

    Raises:
        PreflightError: the first problem found.
    """
    check_data_roots(cfg, tuple(splits))
    check_weights(cfg, load_from_key, model=model_weights)
    check_classes(cfg, tuple(splits), warn=warn)
