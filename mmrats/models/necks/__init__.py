from .dino_neck import DINONeck
from .vit_pyramid_neck import ViTPyramidNeck

__all__ = ['DINONeck', 'ViTPyramidNeck']
