from .per_tensor_clip import clip_grad_per_tensor_, enable_per_tensor_clip
from .teacher_free_constructor import TeacherFreeOptimWrapperConstructor

__all__ = ['TeacherFreeOptimWrapperConstructor', 'clip_grad_per_tensor_', 'enable_per_tensor_clip']
