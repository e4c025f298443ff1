"""The checks ``tools/train.py`` and ``tools/test.py`` run before the runner is built.

:func:`preflight` runs them in this order: the data roots
(:mod:`.data_roots`), the weights files (:mod:`.weights`), then the classes
(:mod:`.classes`: the COCO classes in :mod:`.coco_classes`, the segmentation
labels in :mod:`.seg_labels` and the heads in :mod:`.heads`; they read the
annotation files the first check found). The first problem raises a
:class:`~.errors.PreflightError`; the tools print it after ``error:`` and exit
with status 2, before any model or dataset is built.

The modules, one thing checked each:

* :mod:`.errors`: :class:`PreflightError`, :class:`ClassCheckError` and the
  shared message helpers;
* :mod:`.datasets`: the dataset configs of a run (dataloaders, wrappers, the
  dataset class and its classes);
* :mod:`.data_roots`: dataset folders and annotation files exist
  (:class:`DataRootError`);
* :mod:`.weights`: every weights file the run loads (:class:`WeightsError`);
* :mod:`.optional_val`: a validation marked optional trains without it when its data is missing;
* :mod:`.coco_classes`, :mod:`.seg_labels`, :mod:`.heads`, :mod:`.classes`:
  classes, labels and heads agree (:class:`ClassCheckError`).
"""
import os
import sys
from collections.abc import Callable, Sequence

from .classes import check_classes
from .coco_classes import CocoSummary, check_coco, coco_summary
from .data_roots import DataRootError, check_data_roots, check_evaluator_files
from .datasets import SPLITS
from .errors import ClassCheckError, PreflightError, short, warn_stderr
from .heads import check_det_head, check_seg_head
from .optional_val import drop_unprepared_validation, knn_hook_problem
from .seg_labels import SAMPLE, check_seg
from .weights import WeightsError, check_checkpoint, check_weights, checkpoint_problem, converter_hint, \
    model_checkpoints

__all__ = ['SAMPLE', 'SPLITS', 'ClassCheckError', 'CocoSummary', 'DataRootError', 'PreflightError', 'WeightsError',
           'check_checkpoint', 'check_classes', 'check_coco', 'check_data_roots', 'check_det_head',
           'check_evaluator_files', 'check_seg', 'check_seg_head', 'check_weights', 'checkpoint_problem',
           'coco_summary', 'converter_hint', 'drop_unprepared_validation', 'knn_hook_problem', 'model_checkpoints',
           'preflight', 'short', 'warn_stderr']


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

    A validation the config marks optional (``optional_val = True``) whose data is missing is removed from
    ``cfg`` with a warning first (:mod:`.optional_val`).

    Raises:
        PreflightError: the first problem found.
    """
    if 'val_dataloader' in splits:
        drop_unprepared_validation(cfg, warn)
    check_data_roots(cfg, tuple(splits))
    check_weights(cfg, load_from_key, model=model_weights)
    check_classes(cfg, tuple(splits), warn=warn)
