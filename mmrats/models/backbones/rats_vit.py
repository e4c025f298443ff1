"""RATSViT: the RATS backbone family and its ViT baselines from one set of blocks.

Modes (paper §3.2, Table 3; docs/method.md):

* ``rats``: N registers replace [CLS]; every block's self-attention is the
  compress -> communicate -> broadcast bottleneck with registers partitioned
  across heads (``shared_registers`` and ``learned_communicate`` are the
  Table 3 ablations); ``parallel_branch`` adds the full-rank patch attention
  for fine-tuning (Appendix E, Eq. 8).
* ``mhsa``: plain multi-head self-attention. With [CLS] and no registers it is
  the DINO ViT baseline, parameter-for-parameter the official DINO / timm
  ``vit_small_patch16_224``; with ``num_registers > 0`` it is ViT with
  registers (Darcet et al. 2023): [CLS], registers, patches.

Position embeddings are learned, absolute, and added to patches (and [CLS] in
the timm layout) only; registers get none. They are resized bicubically to the
input's patch grid, for any input whose sides are multiples of 16.
"""
import math
from collections.abc import Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from mmrats.registry import MODELS
from ..layers import Block, MultiheadSelfAttention, PatchEmbed, RegisterAttention, resize_pos_embed
from ..utils.checkpoint_loading import load_backbone_checkpoint
from .backbone_output import BackboneOutput

MODES = ('rats', 'mhsa')


@MODELS.register_module()
class RATSViT(BaseModule):
    """Register Attention Transformer (RATS) and its ViT baselines.

    Args:
        arch: ``'small'``/``'s'`` (C=384, H=6, N=96), ``'base'``/``'b'``
            (C=768, H=12, N=192), ``'tiny'``/``'t'`` (C=64, H=4, 2 blocks,
            N=8; for tests and demos), or a dict with ``embed_dims``,
            ``num_heads``, ``num_layers`` and optionally ``mlp_ratio``,
            ``num_registers``.
        mode: ``'rats'`` or ``'mhsa'``.
        img_size: the input size the position embedding is stored for.
        patch_size: patch side (16 for every paper model).
        in_channels: image channels.
        num_registers: ``N``; defaults to the arch's value in ``rats`` mode
            and 0 in ``mhsa`` mode.
        with_cls_token: prepend [CLS]; defaults to True in ``mhsa`` mode, and
            is not allowed in ``rats`` mode (registers replace it).
        shared_registers: (``rats``) every head attends to all registers.
        learned_communicate: (``rats``) per-head ``W_q, W_k, W_v`` for the
            communicate step.
        parallel_branch: (``rats``) the full-rank patch branch for fine-tuning.
        parallel_qkv: ``'shared'`` (reuse ``Q_P, K_P, V_P``) or ``'separate'``.
        out_indices: blocks whose patch tokens become feature maps.
        final_norm: apply the final LayerNorm (to the last block's output).
        drop_path_rate: stochastic depth, increasing linearly to this value.
        layer_scale_init: LayerScale initial value, or None.
        qkv_bias: bias of the qkv projections.
        with_cp: gradient checkpointing while training: ``True`` every block, an integer ``k`` the first ``k``
            blocks (the memory of the others' activations kept, their recomputation saved), ``False`` none.
        init_cfg: mmengine init config; ``dict(type='Pretrained',
            checkpoint=PATH, prefix=None)`` loads strictly (see
            :func:`~mmrats.models.utils.load_backbone_checkpoint`).
    """

    arch_zoo = {
        **dict.fromkeys(['t', 'tiny'], dict(embed_dims=64, num_heads=4, num_layers=2, mlp_ratio=4.0,
                                            num_registers=8)),
        **dict.fromkeys(['s', 'small'], dict(embed_dims=384, num_heads=6, num_layers=12, mlp_ratio=4.0,
                                             num_registers=96)),
        **dict.fromkeys(['b', 'base'], dict(embed_dims=768, num_heads=12, num_layers=12, mlp_ratio=4.0,
                                            num_registers=192)),
    }
    _required_arch_keys = ('embed_dims', 'num_heads', 'num_layers')

    def __init__(self, arch: str | dict = 'small', mode: str = 'rats', img_size: int | Sequence[int] = 224,
                 patch_size: int = 16, in_channels: int = 3, num_registers: int | None = None,
                 with_cls_token: bool | None = None, shared_registers: bool = False,
                 learned_communicate: bool = False, parallel_branch: bool = False, parallel_qkv: str = 'shared',
                 out_indices: int | Sequence[int] = -1, final_norm: bool = True, drop_path_rate: float = 0.0,
                 layer_scale_init: float | None = None, qkv_bias: bool = True, with_cp: bool | int = False,
                 init_cfg: dict | list | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = self._resolve_arch(arch)
        if mode not in MODES:
            raise ValueError(f'Unknown RATSViT mode {mode!r}; choose one of {MODES}.')
        self.mode = mode
        c = self.embed_dims = self.arch_settings['embed_dims']
        heads = self.num_heads = self.arch_settings['num_heads']
        depth = self.num_layers = self.arch_settings['num_layers']
        if num_registers is None:
            num_registers = self.arch_settings.get('num_registers', 0) if mode == 'rats' else 0
        if with_cls_token is None:
            with_cls_token = mode == 'mhsa'
        if mode == 'rats':
            if with_cls_token:
                raise ValueError("mode='rats' has no [CLS] token (registers replace it); "
                                 'set with_cls_token=False or use mode=\'mhsa\'.')
        elif shared_registers or learned_communicate or parallel_branch:
            raise ValueError('shared_registers, learned_communicate and parallel_branch are options of '
                             "mode='rats'; mode='mhsa' already attends over all tokens.")
        self.num_registers = num_registers
        self.with_cls_token = with_cls_token
        self.num_prefix = int(with_cls_token) + num_registers
        self.parallel_branch = parallel_branch

        self.patch_size = patch_size
        img_hw = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if img_hw[0] % patch_size or img_hw[1] % patch_size:
            raise ValueError(f'img_size={img_size} is not a multiple of patch_size={patch_size}')
        self.patch_grid = (img_hw[0] // patch_size, img_hw[1] // patch_size)
        self.patch_embed = PatchEmbed(in_channels, c, patch_size)
        # timm/DINO layout: [CLS] has a position entry, registers have none.
        num_pos = int(with_cls_token) + self.patch_grid[0] * self.patch_grid[1]
        self.pos_embed = nn.Parameter(torch.zeros(1, num_pos, c))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c)) if with_cls_token else None
        self.registers = nn.Parameter(torch.zeros(1, num_registers, c)) if num_registers else None

        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList(
            Block(c, self._make_attention(qkv_bias, shared_registers, learned_communicate, parallel_branch,
                                          parallel_qkv),
                  mlp_ratio=self.arch_settings.get('mlp_ratio', 4.0), drop_path=dpr[i],
                  layer_scale_init=layer_scale_init)
            for i in range(depth))
        self.norm = nn.LayerNorm(c, eps=1e-6) if final_norm else nn.Identity()
        self.out_indices = self._resolve_out_indices(out_indices)
        if not isinstance(with_cp, bool) and not 0 <= int(with_cp) <= depth:
            raise ValueError(f'with_cp={with_cp}: True, False or a number of blocks from 0 to {depth}')
        self.with_cp = with_cp
        self._reset_parameters()

    # ------------------------------------------------------------------ setup
    def _resolve_arch(self, arch: str | dict) -> dict:
        if isinstance(arch, str):
            key = arch.lower()
            if key not in self.arch_zoo:
                raise ValueError(f'Unknown RATSViT arch {arch!r}; choose one of {sorted(set(self.arch_zoo))} '
                                 f'or pass a dict with keys {self._required_arch_keys}.')
            return dict(self.arch_zoo[key])
        if isinstance(arch, dict):
            missing = [k for k in self._required_arch_keys if k not in arch]
            if missing:
                raise ValueError(f'Custom RATSViT arch dict lacks {missing}; it needs {self._required_arch_keys} '
                                 f'(optional: mlp_ratio, num_registers).')
            return dict(arch)
        raise TypeError(f'arch must be a str or a dict, got {type(arch).__name__}')

    def _make_attention(self, qkv_bias, shared, learned_communicate, parallel, parallel_qkv) -> nn.Module:
        if self.mode == 'mhsa':
            return MultiheadSelfAttention(self.embed_dims, self.num_heads, qkv_bias)
        return RegisterAttention(self.embed_dims, self.num_heads, self.num_registers, shared=shared,
                                 learned_communicate=learned_communicate, parallel=parallel,
                                 parallel_qkv=parallel_qkv, qkv_bias=qkv_bias)

    def _resolve_out_indices(self, out_indices: int | Sequence[int]) -> tuple[int, ...]:
        idx = [out_indices] if isinstance(out_indices, int) else list(out_indices)
        resolved = []
        for i in idx:
            j = i + self.num_layers if i < 0 else i
            if not 0 <= j < self.num_layers:
                raise ValueError(f'out_indices entry {i} is out of range for {self.num_layers} blocks')
            resolved.append(j)
        return tuple(sorted(set(resolved)))

    @torch.no_grad()
    def _reset_parameters(self) -> None:
        """ViT initialisation (truncated normal, std 0.02), then the spec's parallel-branch init."""
        for p in (self.pos_embed, self.cls_token, self.registers):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for blk in self.blocks:
            if isinstance(blk.attn, RegisterAttention):
                blk.attn.reset_parallel_branch()

    def init_weights(self) -> None:
        """Load ``init_cfg=dict(type='Pretrained', ...)`` strictly; else mmengine's init."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            load_backbone_checkpoint(self, cfg['checkpoint'], prefix=cfg.get('prefix'))
            self._is_init = True
            return
        super().init_weights()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Resize a checkpoint's position embedding to this model's grid."""
        key = prefix + 'pos_embed'
        if key in state_dict and state_dict[key].shape != self.pos_embed.shape:
            src = state_dict[key]
            num_pos_prefix = int(self.with_cls_token)
            side = math.isqrt(src.shape[1] - num_pos_prefix)
            if side * side != src.shape[1] - num_pos_prefix or src.shape[-1] != self.embed_dims:
                raise ValueError(f'checkpoint pos_embed of shape {tuple(src.shape)} cannot be resized to '
                                 f'{tuple(self.pos_embed.shape)} (with_cls_token={self.with_cls_token})')
            state_dict[key] = resize_pos_embed(src, (side, side), self.patch_grid, num_pos_prefix)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ---------------------------------------------------------------- forward
    def _embed(self, x: Tensor) -> tuple[Tensor | None, Tensor, tuple[int, int]]:
        """Prefix tokens ([CLS]? registers?, or None) and patches + position embedding."""
        patches, hw = self.patch_embed(x)
        num_pos_prefix = int(self.with_cls_token)
        pos = resize_pos_embed(self.pos_embed, self.patch_grid, hw, num_pos_prefix)
        patches = patches + pos[:, num_pos_prefix:]
        b = patches.shape[0]
        prefix = []
        if self.cls_token is not None:
            prefix.append((self.cls_token + pos[:, :1]).expand(b, -1, -1))
        if self.registers is not None:
            prefix.append(self.registers.expand(b, -1, -1))
        return (torch.cat(prefix, dim=1) if prefix else None), patches, hw

    def _checkpointed(self, i: int) -> bool:
        """Whether block ``i`` is recomputed in the backward pass (``with_cp``: True, False or a block count)."""
        cp = self.with_cp
        return cp is True or (not isinstance(cp, bool) and i < cp)

    def _run_block(self, i: int, prefix: Tensor | None, x: Tensor,
                   with_maps: bool = False) -> tuple[Tensor | None, Tensor, dict]:
        """Block ``i`` on ``(prefix, x)``: registers and patches (``rats``), or None and all tokens (``mhsa``)."""
        blk = self.blocks[i]
        if self.mode == 'rats':  # two tensors through every block: no per-block concatenation
            if self._checkpointed(i) and self.training and torch.is_grad_enabled() and not with_maps:
                return checkpoint(blk.forward_groups, prefix, x, use_reentrant=False)
            return blk.forward_groups(prefix, x, with_maps)
        if with_maps:
            return None, *blk.forward_with_maps(x, self.num_prefix)
        if self._checkpointed(i) and self.training and x.requires_grad:
            return None, checkpoint(blk, x, self.num_prefix, use_reentrant=False), {}
        return None, blk(x, self.num_prefix), {}

    def _run_blocks(self, prefix: Tensor | None, patches: Tensor, maps_of: set[int] = frozenset()
                    ) -> tuple[Tensor | None, Tensor, list[Tensor], dict]:
        """All blocks and the final norm.

        Returns:
            The final prefix tokens (or None) and patches, the patch tokens at
            ``out_indices``, and the attention maps of the blocks in ``maps_of``.
        """
        p = self.num_prefix if self.mode == 'mhsa' else 0  # leading non-patch tokens of x
        if p:
            prefix, x = None, torch.cat([prefix, patches], dim=1)
        else:
            x = patches
        out_tokens, maps = [], {}
        for i in range(self.num_layers):
            prefix, x, m = self._run_block(i, prefix, x, i in maps_of)
            if i in maps_of:
                maps[i] = m
            if i in self.out_indices and i != self.num_layers - 1:
                out_tokens.append(x[:, p:])
        x = self.norm(x)
        if prefix is not None:
            prefix = self.norm(prefix)
        elif p:
            prefix = x[:, :p]
        if self.num_layers - 1 in self.out_indices:
            out_tokens.append(x[:, p:])
        return prefix, x[:, p:], out_tokens, maps

    def _named(self, prefix: Tensor | None, patches: Tensor) -> dict[str, Tensor | None]:
        """Named token groups of ``[CLS]? registers?`` and the patches."""
        i = int(self.with_cls_token)
        return dict(cls_token=prefix[:, 0] if self.with_cls_token else None,
                    registers=prefix[:, i:] if self.num_registers else None,
                    patch_tokens=patches)

    def forward_features(self, x: Tensor) -> dict:
        """Final-layer tokens by name (post-norm), like dinov2's ``forward_features``.

        Returns:
            ``dict(cls_token=(B, C) | None, registers=(B, N, C) | None,
            patch_tokens=(B, L, C), patch_hw=(h, w), out_tokens=[(B, L, C)
            per out index])``.
        """
        prefix, patches, hw = self._embed(x)
        prefix, patches, out_tokens, _ = self._run_blocks(prefix, patches)
        return dict(self._named(prefix, patches), patch_hw=hw, out_tokens=out_tokens)

    def forward(self, x: Tensor) -> BackboneOutput:
        """Feature maps ``(B, C, h, w)`` at ``out_indices`` plus named final tokens."""
        f = self.forward_features(x)
        h, w = f['patch_hw']
        maps = [t.transpose(1, 2).reshape(t.shape[0], self.embed_dims, h, w) for t in f['out_tokens']]
        return BackboneOutput(maps, registers=f['registers'], cls_token=f['cls_token'], patch_hw=(h, w))

    @torch.no_grad()
    def forward_attention_maps(self, x: Tensor, layers: Sequence[int] = (-1,)) -> dict:
        """Run once and return the attention weights of ``layers`` (manual path).

        Returns:
            ``dict(maps={layer: {name: weights}}, **forward_features)``; for
            ``rats`` the names are ``compress`` ``(B, H, n, L)``,
            ``communicate`` ``(B, H, n, n)``, ``broadcast`` ``(B, H, L, n)``
            (+ ``parallel``); for ``mhsa``, ``attn`` ``(B, H, T, T)`` over
            ``[CLS]? registers? patches``.
        """
        wanted = {i % self.num_layers for i in layers}
        prefix, patches, hw = self._embed(x)
        prefix, patches, _, maps = self._run_blocks(prefix, patches, wanted)
        return dict(self._named(prefix, patches), patch_hw=hw, maps=maps)

    def set_fused_attention(self, fused: bool) -> None:
        """Switch every block between SDPA (fused) and the manual softmax path."""
        for blk in self.blocks:
            blk.attn.fused = fused

    def get_layer_depth(self, param_name: str, prefix: str = '') -> tuple[int, int]:
        """Layer depth of a parameter for layer-wise lr decay (mmpretrain protocol).

        Embeddings, [CLS] and registers are depth 0, block ``i`` is ``i + 1``,
        the final norm (and anything after) is ``num_layers + 1``.

        Returns:
            ``(layer_depth, num_layers + 2)``.
        """
        total = self.num_layers + 2
        if not param_name.startswith(prefix):
            return total - 1, total
        name = param_name[len(prefix):]
        if name in ('cls_token', 'pos_embed', 'registers') or name.startswith('patch_embed'):
            return 0, total
        if name.startswith('blocks.'):
            return int(name.split('.')[1]) + 1, total
        return total - 1, total
