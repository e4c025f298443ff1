"""The DINO projection head (paper §3.1: DINO, unmodified; Caron et al. 2021, §3.1).

The global representation (RATS: the mean of the final registers; ViT: [CLS])
goes through a 3-layer MLP (hidden 2048, GELU, no batch norm) to a 256-d
bottleneck, is L2-normalised, and a weight-normalised linear layer without bias
maps it to ``out_channels`` (65536) prototype logits. With ``norm_last_layer``
the weight-norm magnitude ``g`` is fixed to 1 (not trained), so every prototype
has a unit-norm weight vector: DINO's default for ViT-S, which stabilises training.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.nn.utils.parametrizations import weight_norm

from mmrats.registry import MODELS


@MODELS.register_module()
class DINONeck(BaseModule):
    """DINO projection head: MLP -> L2 normalisation -> weight-normalised prototypes.

    Args:
        in_channels: width of the global representation (the backbone's C).
        out_channels: number of prototypes K (DINO: 65536).
        hidden_channels: MLP width (DINO: 2048).
        bottleneck_channels: bottleneck width before the prototypes (DINO: 256).
        num_layers: MLP layers, >= 1 (DINO: 3).
        norm_last_layer: fix the prototypes' weight-norm magnitude to 1.
        init_cfg: mmengine init config (default: DINO's truncated normal, std 0.02).
    """

    def __init__(self, in_channels: int, out_channels: int = 65536, hidden_channels: int = 2048,
                 bottleneck_channels: int = 256, num_layers: int = 3, norm_last_layer: bool = True,
                 init_cfg: dict | list | None = None) -> None:
        if init_cfg is None:
            init_cfg = [dict(type='TruncNormal', layer='Linear', std=0.02, bias=0.0)]
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1:
            raise ValueError(f'DINONeck num_layers must be >= 1, got {num_layers}')
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [bottleneck_channels]
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < num_layers - 1:
                layers.append(nn.GELU())
        self.mlp = nn.Sequential(*layers)
        self.out_channels = out_channels
        self.norm_last_layer = norm_last_layer
        self.last_layer = weight_norm(nn.Linear(bottleneck_channels, out_channels, bias=False))
        self._reset_last_layer()

    def _reset_last_layer(self) -> None:
        """Magnitude ``g = 1``; frozen when ``norm_last_layer`` (DINO's ``weight_g``)."""
        g = self.last_layer.parametrizations.weight.original0
        with torch.no_grad():
            g.fill_(1.0)
        g.requires_grad_(not self.norm_last_layer)

    def init_weights(self) -> None:
        super().init_weights()
        # The Linear initialiser above cannot reach the weight-normalised layer (its
        # ``weight`` is computed): initialise the direction ``v`` here, and keep ``g = 1``.
        v = self.last_layer.parametrizations.weight.original1
        with torch.no_grad():
            nn.init.trunc_normal_(v, std=0.02)
        self._reset_last_layer()

    def forward(self, x: Tensor | tuple) -> Tensor:
        """``(..., C)`` global representations -> ``(..., K)`` prototype logits."""
        if isinstance(x, (tuple, list)):
            x = x[-1]
        x = F.normalize(self.mlp(x), dim=-1)
        return self.last_layer(x)
