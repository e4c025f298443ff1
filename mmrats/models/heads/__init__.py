"""Heads. The DINO loss head needs only torch + mmengine; the Mask2Former heads
are registered when mmdet and mmseg are installed."""
from importlib.util import find_spec

from .dino_head import DINOHead

__all__ = ['DINOHead']

if find_spec('mmdet') is not None and find_spec('mmseg') is not None:
    from .mask2former_heads import RegisterMask2FormerHead, RegisterMask2FormerSegHead  # noqa: F401
    from .register_queries import RegisterQueryMixin  # noqa: F401
    __all__ += ['RegisterMask2FormerHead', 'RegisterMask2FormerSegHead', 'RegisterQueryMixin']
