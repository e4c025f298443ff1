"""LinearProbeRATSViT: a frozen RATSViT whose output is DINO's linear-evaluation feature.

DINO's linear protocol (Caron et al. 2021; ``eval_linear.py`` of facebookresearch/dino): the pretrained
backbone is frozen and kept in eval mode, and a single linear layer is trained on one feature vector per
image. That vector is built from the last ``n`` blocks (``get_intermediate_layers``): each block's tokens go
through the backbone's *final* LayerNorm, the [CLS] tokens of those ``n`` blocks are concatenated, and with
``avgpool_patchtokens`` the mean of the last block's (normed) patch tokens is appended. DINO evaluates
ViT-S/16 with ``--n_last_blocks 4 --avgpool_patchtokens false`` (4 x 384 = 1536 features) and ViT-B/16 with
``--n_last_blocks 1 --avgpool_patchtokens true`` (2 x 768 = 1536).

RATS has no [CLS]: the registers replace it (paper §3.1), and the vector DINO trains is the mean of the
final-normed registers (:mod:`mmrats.models.utils.global_repr`). Here each of the last ``n`` blocks gives
that vector: its registers through the final norm, then averaged. ``global_repr='auto'`` takes [CLS] where
the backbone has one (the DINO ViT baseline), else the registers' mean.

One difference from DINO's code, which changes nothing that is trained: with ``avgpool_patchtokens`` DINO
interleaves the [CLS] and patch-mean entries (``cat`` on a new last axis, then ``reshape``); here they are
concatenated in order. A linear layer trained from DINO's initialisation (i.i.d. normal weights) sees a
permutation of the same inputs, so it learns the same classifier; only DINO's released linear weights
would need their columns reordered.
"""
import torch
from torch import Tensor

from mmrats.registry import MODELS
from ..utils.global_repr import global_vector, resolve_global_repr
from .rats_vit import RATSViT

PROBE_REPRS = ('auto', 'cls', 'registers', 'patch-mean')


@MODELS.register_module()
class LinearProbeRATSViT(RATSViT):
    """RATSViT frozen for the linear probe; ``forward`` returns ``(features,)`` of width :attr:`out_channels`.

    Every parameter has ``requires_grad=False`` and the module stays in eval mode whatever ``train()`` is
    asked (drop path off, as DINO's ``model.eval()``); the forward pass runs without autograd. Weights load
    as for :class:`RATSViT`, strictly, from ``init_cfg=dict(type='Pretrained', checkpoint=PATH)``.

    Args:
        *args: :class:`RATSViT`'s arguments (``arch``, ``mode``, ``img_size``, ...).
        n_last_blocks: how many of the last blocks give a global vector (DINO: 4 for ViT-S, 1 for ViT-B).
        avgpool_patchtokens: append the mean of the last block's normed patch tokens (DINO: ViT-B).
        global_repr: the per-block vector: ``'auto'`` ([CLS] if present, else the registers' mean),
            ``'cls'``, ``'registers'`` or ``'patch-mean'`` (see :mod:`mmrats.models.utils.global_repr`).
        **kwargs: :class:`RATSViT`'s keyword arguments.

    Raises:
        ValueError: ``n_last_blocks`` outside ``1..num_layers``, or a ``global_repr`` the backbone lacks.
    """

    def __init__(self, *args, n_last_blocks: int = 4, avgpool_patchtokens: bool = False, global_repr: str = 'auto',
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(n_last_blocks, int) or not 1 <= n_last_blocks <= self.num_layers:
            raise ValueError(f'model.backbone.n_last_blocks={n_last_blocks!r}: the backbone has {self.num_layers} '
                             f'blocks; set it between 1 and {self.num_layers} (DINO: 4 for ViT-S, 1 for ViT-B)')
        if global_repr not in PROBE_REPRS:
            raise ValueError(f'model.backbone.global_repr={global_repr!r}: the linear probe takes one of '
                             f'{PROBE_REPRS} (one vector per block)')
        try:
            self.global_repr = resolve_global_repr(self, global_repr)
        except ValueError as e:
            raise ValueError(f'model.backbone.global_repr: {e}') from None
        self.n_last_blocks = n_last_blocks
        self.avgpool_patchtokens = bool(avgpool_patchtokens)
        self.requires_grad_(False)
        self.train(False)

    @property
    def out_channels(self) -> int:
        """The feature width: ``embed_dims x (n_last_blocks + avgpool_patchtokens)``."""
        return self.embed_dims * (self.n_last_blocks + int(self.avgpool_patchtokens))

    def train(self, mode: bool = True) -> 'LinearProbeRATSViT':
        """Always eval mode: the frozen backbone never drops paths (DINO keeps it in ``model.eval()``)."""
        return super().train(False)

    def forward_last_blocks(self, x: Tensor, n: int) -> list[dict[str, Tensor | None]]:
        """The token groups of the last ``n`` blocks, each through the final norm (DINO's ``get_intermediate_layers``).

        Returns:
            One ``dict(cls_token=(B, C) | None, registers=(B, N, C) | None, patch_tokens=(B, L, C))`` per
            block, the earliest first, named as in :meth:`RATSViT.forward_features`.
        """
        if not 1 <= n <= self.num_layers:
            raise ValueError(f'n={n}: the backbone has {self.num_layers} blocks')
        prefix, patches, _ = self._embed(x)
        p = self.num_prefix if self.mode == 'mhsa' else 0  # mhsa: [CLS]? registers? lead one token tensor
        if p:
            prefix, x = None, torch.cat([prefix, patches], dim=1)
        else:
            x = patches
        out = []
        for i in range(self.num_layers):
            prefix, x, _ = self._run_block(i, prefix, x)
            if i >= self.num_layers - n:
                normed = self.norm(x)
                groups = self.norm(prefix) if prefix is not None else normed[:, :p]
                out.append(self._named(groups, normed[:, p:]))
        return out

    @torch.no_grad()
    def forward(self, x: Tensor) -> tuple[Tensor]:
        """``(features,)``: ``(B, out_channels)``, the last blocks' global vectors (+ the patch mean)."""
        blocks = self.forward_last_blocks(x, self.n_last_blocks)
        feats = [global_vector(b, self.global_repr) for b in blocks]
        if self.avgpool_patchtokens:
            feats.append(blocks[-1]['patch_tokens'].mean(1))
        return (torch.cat(feats, dim=-1),)
