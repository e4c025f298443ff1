from .dino_teacher_hook import DINOTeacherHook, momentum_at, teacher_temp_at
from .freeze_last_layer_hook import FreezeLastLayerHook
from .progress_bar_hook import ProgressBarHook

__all__ = ['DINOTeacherHook', 'FreezeLastLayerHook', 'ProgressBarHook', 'momentum_at', 'teacher_temp_at']
