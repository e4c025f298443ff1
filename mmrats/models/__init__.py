"""mmrats models. The backbone, necks and the DINO head need only torch +
mmengine; the Mask2Former heads are registered when mmdet and mmseg are
installed, the DINO algorithm when mmpretrain is."""
from importlib.util import find_spec

from .backbones import BackboneOutput, LinearProbeRATSViT, RATSViT
from .heads import *  # noqa: F401,F403
from .heads import __all__ as _heads
from .necks import DINONeck, GlobalReprNeck, ViTPyramidNeck

__all__ = ['BackboneOutput', 'LinearProbeRATSViT', 'RATSViT', 'DINONeck', 'GlobalReprNeck', 'ViTPyramidNeck', *_heads]

if find_spec('mmpretrain') is not None:
    from .selfsup import DINO  # noqa: F401
    __all__ += ['DINO']
