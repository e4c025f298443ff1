from .dino_neck import DINONeck
from .global_repr_neck import GlobalReprNeck
from .vit_pyramid_neck import ViTPyramidNeck

__all__ = ['DINONeck', 'GlobalReprNeck', 'ViTPyramidNeck']
