"""Hooks, optimizer constructors and other runner pieces (registered in the mmrats scope)."""
from .hooks import DINOTeacherHook, FreezeLastLayerHook, KNNValidationHook, ProgressBarHook
from .optimizers import TeacherFreeOptimWrapperConstructor, clip_grad_per_tensor_

__all__ = ['DINOTeacherHook', 'FreezeLastLayerHook', 'KNNValidationHook', 'ProgressBarHook',
           'TeacherFreeOptimWrapperConstructor', 'clip_grad_per_tensor_']
