"""The backbone's global representation as an mmpretrain neck (issue #26: the lab's supervised control).

A stock ``ImageClassifier`` reads ``neck(backbone(x))[-1]`` into its head. With this neck that vector is the
one DINO trains and the lab's k-NN reads (:mod:`mmrats.models.utils.global_repr`): [CLS] for a ViT, the mean
of the final registers for RATS (paper §3.1: the registers replace [CLS]), so a linear head on it trains the
same representation a DINO run would, only with labels::

    model = dict(type='ImageClassifier', backbone=dict(type='mmrats.RATSViT', ...),
                 neck=dict(type='mmrats.GlobalReprNeck'), head=dict(type='LinearClsHead', ...))
"""
from __future__ import annotations

from mmengine.model import BaseModule
from torch import Tensor

from mmrats.registry import MODELS
from ..backbones.backbone_output import BackboneOutput
from ..utils.global_repr import global_vector

NECK_REPRS = ('auto', 'cls', 'registers')


@MODELS.register_module()
class GlobalReprNeck(BaseModule):
    """``(global vector,)`` of a :class:`~mmrats.models.RATSViT` output: ``(B, C)``, no parameters.

    Args:
        global_repr: ``'auto'`` ([CLS] where the backbone has one, else the registers' mean, as
            :func:`~mmrats.models.utils.global_repr.resolve_global_repr` chooses), ``'cls'`` or ``'registers'``.
        init_cfg: mmengine's (nothing to initialise).

    Raises:
        ValueError: another ``global_repr``; in ``forward``, a backbone output without the token it needs.
    """

    def __init__(self, global_repr: str = 'auto', init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if global_repr not in NECK_REPRS:
            raise ValueError(f'GlobalReprNeck global_repr={global_repr!r}: choose one of {NECK_REPRS}')
        self.global_repr = global_repr

    def forward(self, inputs: BackboneOutput) -> tuple[Tensor]:
        name = self.global_repr
        if name == 'auto':
            name = 'cls' if inputs.cls_token is not None else 'registers'
        tokens = dict(cls_token=inputs.cls_token, registers=inputs.registers)
        if tokens['cls_token' if name == 'cls' else 'registers'] is None:
            raise ValueError(f"GlobalReprNeck global_repr={self.global_repr!r}: the backbone output has no "
                             f"{'[CLS] token' if name == 'cls' else 'registers'}")
        return (global_vector(tokens, name),)
