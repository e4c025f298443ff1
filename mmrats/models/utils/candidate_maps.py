"""Candidate region maps of a backbone: what part segmentation segments (paper §3.2 Eq. 7, Appendix D).

One score map per candidate region on the ``(H/p, W/p)`` patch grid, for
RATS and the paper's baselines alike (``method``):

* ``'registers'`` (RATS, Eq. 7): cosine similarity of every final-layer
  (post-norm) register to every patch token (also usable for ViT + registers).
* ``'cls-attn'`` (DINO ViT baseline): the last block's attention of [CLS] to
  the patches, one map per head.
* ``'register-attn'`` (ViT-with-registers baseline, Darcet et al. 2023): the
  last block's attention of each register to the patches, averaged over
  heads **[choice]**, one map per register. On a RATS backbone the same name
  gives each register's compress attention (its own head; shared registers:
  averaged over heads).

Attention maps are used raw (they are softmax rows over the same patches, so
comparable across heads/registers of one image) **[choice]**. They live with
the models because DINO's part-discovery validation reads them during
training; :mod:`mmrats.evaluation.part_segmentation` turns them into
segmentations.
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

METHODS = ('registers', 'cls-attn', 'register-attn')


def default_method(backbone: nn.Module) -> str:
    """The paper's choice for a backbone: RATS -> ``registers``; ViT -> ``cls-attn`` or ``register-attn``."""
    if backbone.mode == 'rats':
        return 'registers'
    return 'register-attn' if backbone.num_registers else 'cls-attn'


def check_method(backbone: nn.Module, method: str) -> None:
    """Raise ValueError if ``backbone`` has no tokens for ``method``."""
    if method not in METHODS:
        raise ValueError(f'unknown part-segmentation method {method!r}; choose one of {METHODS}')
    if method in ('registers', 'register-attn') and not backbone.num_registers:
        raise ValueError(f"method {method!r} needs registers, but the backbone has none "
                         f"(mode={backbone.mode!r}); use 'cls-attn' for a ViT with [CLS]")
    if method == 'cls-attn' and not backbone.with_cls_token:
        raise ValueError("method 'cls-attn' needs a [CLS] token, which a RATS backbone does not have "
                         "(registers replace it); use 'registers' or 'register-attn'")


def _grid(rows: Tensor, hw: tuple[int, int]) -> Tensor:
    """``(B, M, L)`` -> ``(B, M, h, w)``."""
    return rows.reshape(*rows.shape[:2], *hw)


@torch.no_grad()
def similarity_maps(backbone: nn.Module, images: Tensor) -> Tensor:
    """Eq. 7 score maps ``S[i, j] = cos(r_i, p_j)`` of every register, ``(B, N, h, w)``."""
    f = backbone.forward_features(images)
    sim = F.normalize(f['registers'], dim=-1) @ F.normalize(f['patch_tokens'], dim=-1).transpose(1, 2)
    return _grid(sim, f['patch_hw'])  # register order; == register_similarity before its ranking


@torch.no_grad()
def last_block_attention(backbone: nn.Module, images: Tensor) -> tuple[dict, tuple[int, int]]:
    """The last block's attention weights (manual path) and the patch grid."""
    out = backbone.forward_attention_maps(images, layers=(-1,))
    return out['maps'][backbone.num_layers - 1], out['patch_hw']


@torch.no_grad()
def cls_attention_maps(backbone: nn.Module, images: Tensor) -> Tensor:
    """DINO baseline: last-block [CLS] -> patch attention, one map per head, ``(B, H, h, w)``."""
    check_method(backbone, 'cls-attn')
    maps, hw = last_block_attention(backbone, images)
    return _grid(maps['attn'][:, :, 0, backbone.num_prefix:], hw)


@torch.no_grad()
def register_attention_maps(backbone: nn.Module, images: Tensor) -> Tensor:
    """ViT-with-registers baseline: each register's last-block attention to the patches, ``(B, N, h, w)``.

    ``mhsa`` backbones: register queries over patch keys, averaged over heads.
    ``rats`` backbones: each register's compress attention in its own head
    (register ``i`` of head ``i // n``), or the head mean for shared registers.
    """
    check_method(backbone, 'register-attn')
    maps, hw = last_block_attention(backbone, images)
    if backbone.mode == 'mhsa':
        first = int(backbone.with_cls_token)
        rows = maps['attn'][:, :, first:backbone.num_prefix, backbone.num_prefix:].mean(1)
    else:
        comp = maps['compress']  # (B, H, n, L), n = N / H; or (B, H, N, L) when shared
        rows = comp.mean(1) if comp.shape[2] == backbone.num_registers else comp.flatten(1, 2)
    return _grid(rows, hw)


@torch.no_grad()
def compress_attention_maps(backbone: nn.Module, images: Tensor, layer: int = -1) -> Tensor:
    """RATS compress attention of ``layer`` per head and register, ``(B, H, n, h, w)`` (Appendix D)."""
    if backbone.mode != 'rats':
        raise ValueError('compress attention exists only in a RATS backbone (mode=\'rats\')')
    out = backbone.forward_attention_maps(images, layers=(layer,))
    comp = out['maps'][layer % backbone.num_layers]['compress']
    return comp.reshape(*comp.shape[:3], *out['patch_hw'])


def candidate_maps(backbone: nn.Module, images: Tensor, method: str) -> Tensor:
    """Candidate region maps ``(B, M, h, w)`` of ``method`` (see the module docstring)."""
    check_method(backbone, method)
    if method == 'registers':
        return similarity_maps(backbone, images)
    if method == 'cls-attn':
        return cls_attention_maps(backbone, images)
    return register_attention_maps(backbone, images)
