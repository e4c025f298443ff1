"""An optimizer constructor that leaves DINO's EMA teacher out (paper §3.1: the teacher
is never trained by gradients), and that knows DINO's per-tensor gradient clipping.

mmengine's ``DefaultOptimWrapperConstructor`` walks every parameter of the
model and logs a warning for each one that does not require gradients: for
``mmrats.DINO`` that is one line per teacher tensor (about 160 for RATS-S).
This constructor skips the ``teacher`` submodule; everything else (param-wise
``decay_mult``, ``lr_mult``, ``custom_keys``) is the stock behaviour.

``clip_grad=dict(type='per_tensor', max_norm=M)`` in the ``optim_wrapper``
config clips each parameter tensor's gradient to norm ``M`` as DINO does
(``mmrats/engine/optimizers/per_tensor_clip.py``), on any mmengine
``OptimWrapper`` type (``OptimWrapper``, ``AmpOptimWrapper``, ...). mmengine's own
``clip_grad=dict(max_norm=M)`` (one norm over all parameters) and
``dict(type='value', ...)`` are passed through unchanged.
"""
from mmengine.optim import DefaultOptimWrapperConstructor

from mmrats.registry import OPTIM_WRAPPER_CONSTRUCTORS

from .per_tensor_clip import enable_per_tensor_clip, split_per_tensor_clip


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TeacherFreeOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` without the parameters under ``teacher_prefix``,
    plus ``clip_grad=dict(type='per_tensor', max_norm=...)``."""

    teacher_prefix = 'teacher'

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None) -> None:
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
        stock, self.per_tensor_clip = split_per_tensor_clip(self.optim_wrapper_cfg.get('clip_grad'))
        if self.per_tensor_clip is not None:
            self.optim_wrapper_cfg['clip_grad'] = stock

    def __call__(self, model):
        optim_wrapper = super().__call__(model)
        if self.per_tensor_clip is not None:
            enable_per_tensor_clip(optim_wrapper, **self.per_tensor_clip)
        return optim_wrapper

    def add_params(self, params, module, prefix='', is_dcn_module=None) -> None:
        if prefix == self.teacher_prefix:
            return  # the EMA teacher: updated by DINOTeacherHook, not by the optimizer
        super().add_params(params, module, prefix, is_dcn_module)
