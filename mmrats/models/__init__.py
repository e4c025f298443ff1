"""mmrats models. The backbone and neck need only torch + mmengine; the
Mask2Former heads are registered when mmdet and mmseg are installed."""
from importlib.util import find_spec

from .backbones import BackboneOutput, RATSViT
from .necks import ViTPyramidNeck

__all__ = ['BackboneOutput', 'RATSViT', 'ViTPyramidNeck']

if find_spec('mmdet') is not None and find_spec('mmseg') is not None:
    from .heads import RegisterMask2FormerHead, RegisterMask2FormerSegHead  # noqa: F401
    __all__ += ['RegisterMask2FormerHead', 'RegisterMask2FormerSegHead']
