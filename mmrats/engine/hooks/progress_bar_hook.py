"""A progress bar with ETA for training, validation and testing, on the demo's quiet console.

mmengine reports progress through its logger, every ``interval`` iterations,
among many other lines. Inside a quiet :func:`mmrats.utils.console.stage`
those lines go to the stage's log file; this hook draws one bar per loop on
the terminal instead. Outside a quiet stage it draws nothing, so it can stay
in a config that is also run by hand.
"""
from __future__ import annotations

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmrats.registry import HOOKS
from mmrats.utils.console import Progress


@HOOKS.register_module()
class ProgressBarHook(Hook):
    """One :class:`~mmrats.utils.console.Progress` bar per train / val / test loop (rank 0 only)."""

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._train: Progress | None = None
        self._eval: Progress | None = None

    @staticmethod
    def _bar(label: str, total: int) -> Progress | None:
        return Progress(label, total) if is_main_process() else None

    def before_train(self, runner) -> None:
        self._train = self._bar('train', runner.max_iters)
        if self._train is not None and runner.iter:
            self._train.update(runner.iter)  # a resumed run starts part-way

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._train is not None:
            self._train.update(runner.iter + 1)

    def after_train(self, runner) -> None:
        if self._train is not None:
            self._train.finish()

    def before_val_epoch(self, runner) -> None:
        self._eval = self._bar('val', len(runner.val_dataloader))

    def before_test_epoch(self, runner) -> None:
        self._eval = self._bar('test', len(runner.test_dataloader))

    def _eval_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if self._eval is not None:
            self._eval.update(batch_idx + 1)

    def _eval_end(self, runner, metrics=None) -> None:
        if self._eval is not None:
            self._eval.finish()

    after_val_iter = after_test_iter = _eval_iter
    after_val_epoch = after_test_epoch = _eval_end
