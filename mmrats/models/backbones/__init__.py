from .backbone_output import BackboneOutput
from .rats_vit import RATSViT

__all__ = ['BackboneOutput', 'RATSViT']
