"""DINO's teacher schedules (paper App. E; the recipe in the spec's "Pretraining objective").

Every quantity is a pure function of the global iteration, so a resumed run
continues exactly where it stopped (nothing here needs saving):

- teacher temperature, per epoch ``e`` (as official DINO): linear from
  ``warmup_teacher_temp`` at epoch 0 to ``teacher_temp`` at epoch
  ``warmup_epochs - 1``, then constant;
- EMA momentum, per iteration ``i`` of ``T``: cosine from ``base_momentum`` at
  ``i = 0`` to ``end_momentum`` at ``i = T - 1``:
  ``m(i) = end - (end - base) * (1 + cos(pi * i / (T - 1))) / 2``;
- the EMA update of the teacher after every optimizer step, with ``m(i)``.

It logs ``teacher_temp``, ``momentum`` and ``weight_decay`` (the largest of the
optimizer's groups: those without decay are 0) every iteration.
"""
from __future__ import annotations

import math

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmrats.registry import HOOKS


def teacher_temp_at(epoch: int, warmup_teacher_temp: float, teacher_temp: float, warmup_epochs: int) -> float:
    """The teacher temperature of ``epoch``: DINO's ``linspace(warmup, final, warmup_epochs)``
    for the first ``warmup_epochs`` epochs, then ``teacher_temp``."""
    if epoch >= warmup_epochs:
        return teacher_temp
    if warmup_epochs == 1:
        return warmup_teacher_temp
    return warmup_teacher_temp + (teacher_temp - warmup_teacher_temp) * epoch / (warmup_epochs - 1)


def momentum_at(it: int, total: int, base: float, end: float = 1.0) -> float:
    """The cosine EMA momentum of iteration ``it`` of ``total`` (``base`` at 0, ``end`` at ``total - 1``)."""
    if total <= 1:
        return base
    t = min(max(it, 0), total - 1) / (total - 1)
    return end - (end - base) * (1 + math.cos(math.pi * t)) / 2


@HOOKS.register_module()
class DINOTeacherHook(Hook):
    """Set DINO's teacher temperature, update the EMA teacher, log the schedules.

    Args:
        teacher_temp: final teacher temperature (DINO: 0.07 for ViT-S/B; 0.04 without warm-up).
        warmup_teacher_temp: teacher temperature at epoch 0 (DINO: 0.04).
        warmup_epochs: epochs of the temperature warm-up (DINO: 30 for S, 50 for B).
        base_momentum: EMA momentum at the first iteration (DINO: 0.996).
        end_momentum: EMA momentum at the last iteration (DINO: 1.0).
    """

    priority = 'NORMAL'  # after the optimizer step (in the model's train_step), before the logger

    def __init__(self, teacher_temp: float = 0.07, warmup_teacher_temp: float = 0.04, warmup_epochs: int = 30,
                 base_momentum: float = 0.996, end_momentum: float = 1.0) -> None:
        for name, value in (('teacher_temp', teacher_temp), ('warmup_teacher_temp', warmup_teacher_temp)):
            if not value > 0:
                raise ValueError(f'DINOTeacherHook {name} must be > 0 (a temperature), got {value}')
        if not 0.0 <= base_momentum <= end_momentum <= 1.0:
            raise ValueError(f'DINOTeacherHook needs 0 <= base_momentum <= end_momentum <= 1, '
                             f'got {base_momentum}, {end_momentum}')
        if warmup_epochs < 0:
            raise ValueError(f'DINOTeacherHook warmup_epochs must be >= 0, got {warmup_epochs}')
        self.teacher_temp = teacher_temp
        self.warmup_teacher_temp = warmup_teacher_temp
        self.warmup_epochs = warmup_epochs
        self.base_momentum = base_momentum
        self.end_momentum = end_momentum

    @staticmethod
    def _model(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'update_teacher') or not hasattr(model.head, 'teacher_temp'):
            raise TypeError(f'DINOTeacherHook needs an mmrats.DINO model, got {type(model).__name__}')
        return model

    @staticmethod
    def iters_per_epoch(runner) -> int:
        return max(len(runner.train_dataloader), 1)

    def temperature(self, runner) -> float:
        epoch = runner.iter // self.iters_per_epoch(runner)
        return teacher_temp_at(epoch, self.warmup_teacher_temp, self.teacher_temp, self.warmup_epochs)

    def momentum(self, runner) -> float:
        return momentum_at(runner.iter, runner.max_iters, self.base_momentum, self.end_momentum)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._model(runner).head.teacher_temp = self.temperature(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = self._model(runner)
        m = self.momentum(runner)
        model.update_teacher(m)
        hub = runner.message_hub
        hub.update_scalar('train/teacher_temp', model.head.teacher_temp)
        hub.update_scalar('train/momentum', m)
        groups = runner.optim_wrapper.optimizer.param_groups
        hub.update_scalar('train/weight_decay', max(g.get('weight_decay', 0.0) for g in groups))
