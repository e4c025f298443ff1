"""Hooks, optimizer constructors and other runner pieces (registered in the mmrats scope)."""
from .hooks import DINOTeacherHook, FreezeLastLayerHook, ProgressBarHook
from .optimizers import TeacherFreeOptimWrapperConstructor

__all__ = ['DINOTeacherHook', 'FreezeLastLayerHook', 'ProgressBarHook', 'TeacherFreeOptimWrapperConstructor']
