"""Freeze DINO's last projection layer for the first epochs (paper App. E; DINO's
``freeze_last_layer``: 1 epoch for S, 3 for B).

During the freeze the gradients of the matching parameters are dropped
(``grad = None``) right before every optimizer step, after the backward pass,
the distributed all-reduce and gradient clipping: the optimizer then skips
those parameters entirely (no update, no weight decay, no moment estimates), as
DINO's ``cancel_gradients_last_layer`` does. Implemented as a step pre-hook on
the optimizer, so it works with any ``OptimWrapper`` (AMP included) and with or
without a distributed model wrapper.
"""
from __future__ import annotations

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmrats.registry import HOOKS


@HOOKS.register_module()
class FreezeLastLayerHook(Hook):
    """Cancel the updates of parameters named ``prefix*`` for the first ``freeze_epochs`` epochs.

    Args:
        freeze_epochs: epochs (of ``len(train_dataloader)`` iterations) without updates.
        prefix: parameter-name prefix on the unwrapped model (DINO: ``neck.last_layer``).
    """

    def __init__(self, freeze_epochs: int = 1, prefix: str = 'neck.last_layer') -> None:
        if freeze_epochs < 0:
            raise ValueError(f'FreezeLastLayerHook freeze_epochs must be >= 0, got {freeze_epochs}')
        self.freeze_epochs = freeze_epochs
        self.prefix = prefix
        self._handle = None

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        params = [p for n, p in model.named_parameters() if n.startswith(self.prefix)]
        if not params:
            raise ValueError(f'FreezeLastLayerHook: no parameter of {type(model).__name__} starts with '
                             f'prefix={self.prefix!r}; set the hook\'s prefix')
        freeze_iters = self.freeze_epochs * max(len(runner.train_dataloader), 1)

        def cancel(optimizer, args, kwargs) -> None:
            if runner.iter < freeze_iters:
                for p in params:
                    p.grad = None

        if self._handle is not None:
            self._handle.remove()
        self._handle = runner.optim_wrapper.optimizer.register_step_pre_hook(cancel)
        self.frozen_params = params

    def after_train(self, runner) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None
