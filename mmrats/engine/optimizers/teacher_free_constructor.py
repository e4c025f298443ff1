"""An optimizer constructor that leaves DINO's EMA teacher out (paper §3.1: the teacher
is never trained by gradients).

mmengine's ``DefaultOptimWrapperConstructor`` walks every parameter of the
model and logs a warning for each one that does not require gradients: for
``mmrats.DINO`` that is one line per teacher tensor (about 160 for RATS-S).
This constructor skips the ``teacher`` submodule; everything else (param-wise
``decay_mult``, ``lr_mult``, ``custom_keys``) is the stock behaviour.
"""
from mmengine.optim import DefaultOptimWrapperConstructor

from mmrats.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TeacherFreeOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """``DefaultOptimWrapperConstructor`` without the parameters under ``teacher_prefix``."""

    teacher_prefix = 'teacher'

    def add_params(self, params, module, prefix='', is_dcn_module=None) -> None:
        if prefix == self.teacher_prefix:
            return  # the EMA teacher: updated by DINOTeacherHook, not by the optimizer
        super().add_params(params, module, prefix, is_dcn_module)
