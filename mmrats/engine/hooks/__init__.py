from .dino_teacher_hook import DINOTeacherHook, momentum_at, teacher_temp_at
from .freeze_last_layer_hook import FreezeLastLayerHook

__all__ = ['DINOTeacherHook', 'FreezeLastLayerHook', 'momentum_at', 'teacher_temp_at']
