from .dino import DINO

__all__ = ['DINO']
from .register_codebook import RegisterCodebook

__all__ += ['RegisterCodebook']
