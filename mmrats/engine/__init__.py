"""Hooks, optimizer constructors and other runner pieces (registered in the mmrats scope)."""
from .hooks import DINOTeacherHook, FreezeLastLayerHook
from .optimizers import TeacherFreeOptimWrapperConstructor

__all__ = ['DINOTeacherHook', 'FreezeLastLayerHook', 'TeacherFreeOptimWrapperConstructor']
