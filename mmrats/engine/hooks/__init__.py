from .dino_teacher_hook import DINOTeacherHook, momentum_at, teacher_temp_at
from .freeze_last_layer_hook import FreezeLastLayerHook
from .knn_validation_hook import KNNValidationHook
from .progress_bar_hook import ProgressBarHook

__all__ = ['DINOTeacherHook', 'FreezeLastLayerHook', 'KNNValidationHook', 'ProgressBarHook', 'momentum_at',
           'teacher_temp_at']
