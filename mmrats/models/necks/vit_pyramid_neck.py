"""A 4-level feature pyramid from a plain ViT's stride-16 features.

Mask2Former's pixel decoder wants strides 4, 8, 16 and 32; a ViT (RATS or the
DINO baseline) gives stride-16 maps only. Following the simple feature pyramid
of ViTDet (Li et al. 2022) and the BEiT/ViT-Adapter segmentation recipes, each
level is a rescaled stride-16 map: two stride-2 transposed convolutions (x4),
one (x2), identity (x1), 2x2 max-pooling (x0.5). With four backbone maps
(``out_indices`` of four blocks, the usual recipe) level ``i`` is made from map
``i``; with one map, every level is made from it.

The neck is used identically by RATS and the ViT baseline, and it passes the
backbone's token groups (``registers``, ``cls_token``) through, so that a
register-query head finds them on its input.
"""
from collections.abc import Sequence

from torch import Tensor, nn

from mmrats.registry import MODELS
from ..backbones.backbone_output import BackboneOutput


def _upsample(channels: int, times: int) -> nn.Sequential:
    """``times`` stride-2 transposed convolutions, GroupNorm + GELU between them."""
    layers: list[nn.Module] = []
    for i in range(times):
        layers.append(nn.ConvTranspose2d(channels, channels, kernel_size=2, stride=2))
        if i < times - 1:
            layers += [nn.GroupNorm(_groups(channels), channels), nn.GELU()]
    return nn.Sequential(*layers)


def _groups(channels: int) -> int:
    return next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0)


@MODELS.register_module()
class ViTPyramidNeck(nn.Module):
    """Rescale stride-16 ViT maps to strides (4, 8, 16, 32), token groups passed through.

    Args:
        in_channels: width ``C`` of the backbone's maps.
        out_channels: width of every level after a 1x1 conv + GroupNorm; None
            keeps ``C`` and adds no projection (Mask2Former's pixel decoder
            projects its inputs itself).
        scales: the rescaling of each level (4, 2, 1, 0.5: strides 4-32).
    """

    _ops = {4: lambda c: _upsample(c, 2), 2: lambda c: _upsample(c, 1), 1: lambda c: nn.Identity(),
            0.5: lambda c: nn.MaxPool2d(kernel_size=2, stride=2)}

    def __init__(self, in_channels: int, out_channels: int | None = None,
                 scales: Sequence[float] = (4, 2, 1, 0.5)) -> None:
        super().__init__()
        bad = [s for s in scales if s not in self._ops]
        if bad:
            raise ValueError(f'ViTPyramidNeck scales must be among {sorted(self._ops)}, got {bad}')
        self.scales = tuple(scales)
        self.rescale = nn.ModuleList(self._ops[s](in_channels) for s in scales)
        self.proj = None
        if out_channels is not None:
            self.proj = nn.ModuleList(
                nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False),
                              nn.GroupNorm(_groups(out_channels), out_channels))
                for _ in scales)

    def forward(self, inputs: Sequence[Tensor]) -> BackboneOutput:
        """``inputs``: one or ``len(scales)`` stride-16 maps ``(B, C, h, w)``.

        Returns:
            A :class:`BackboneOutput` of the pyramid (highest resolution first)
            carrying the input's ``registers`` and ``cls_token``.
        """
        maps = list(inputs)
        if len(maps) == 1:
            maps = maps * len(self.scales)
        if len(maps) != len(self.scales):
            raise ValueError(f'ViTPyramidNeck got {len(maps)} maps for {len(self.scales)} levels: set the '
                             f'backbone out_indices to 1 or {len(self.scales)} blocks')
        outs = [op(m) for op, m in zip(self.rescale, maps)]
        if self.proj is not None:
            outs = [p(o) for p, o in zip(self.proj, outs)]
        return BackboneOutput(outs, registers=getattr(inputs, 'registers', None),
                              cls_token=getattr(inputs, 'cls_token', None),
                              patch_hw=getattr(inputs, 'patch_hw', (0, 0)))
