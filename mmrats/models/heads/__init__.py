from .mask2former_heads import RegisterMask2FormerHead, RegisterMask2FormerSegHead
from .register_queries import RegisterQueryMixin

__all__ = ['RegisterMask2FormerHead', 'RegisterMask2FormerSegHead', 'RegisterQueryMixin']
