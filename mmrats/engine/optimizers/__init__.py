from .teacher_free_constructor import TeacherFreeOptimWrapperConstructor

__all__ = ['TeacherFreeOptimWrapperConstructor']
