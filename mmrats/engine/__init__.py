"""Hooks and other runner pieces (registered in the mmrats scope)."""
from .hooks import DINOTeacherHook, FreezeLastLayerHook

__all__ = ['DINOTeacherHook', 'FreezeLastLayerHook']
