"""The register-query Mask2Former head bound to the stock mmdet and mmseg heads.

Both classes are the stock head plus :class:`RegisterQueryMixin`; only the
source of the initial queries differs from the stock behaviour.
"""
from mmdet.models.dense_heads import Mask2FormerHead as DetMask2FormerHead
from mmseg.models.decode_heads import Mask2FormerHead as SegMask2FormerHead

from mmrats.registry import MODELS
from .register_queries import RegisterQueryMixin


@MODELS.register_module()
class RegisterMask2FormerHead(RegisterQueryMixin, DetMask2FormerHead):
    """mmdet Mask2Former head (instance / panoptic) with register queries.

    Used as ``panoptic_head`` of mmdet's stock ``Mask2Former`` detector.
    """


@MODELS.register_module()
class RegisterMask2FormerSegHead(RegisterQueryMixin, SegMask2FormerHead):
    """mmseg Mask2Former head (semantic segmentation) with register queries.

    Used as ``decode_head`` of mmseg's stock ``EncoderDecoder``.
    """
