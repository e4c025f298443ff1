from .backbone_output import BackboneOutput
from .linear_probe_vit import LinearProbeRATSViT
from .rats_vit import RATSViT

__all__ = ['BackboneOutput', 'LinearProbeRATSViT', 'RATSViT']
