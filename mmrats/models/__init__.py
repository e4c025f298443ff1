from .backbones import *  # noqa: F401,F403  (registers the backbones)
from .backbones import BackboneOutput, RATSViT

__all__ = ['BackboneOutput', 'RATSViT']
