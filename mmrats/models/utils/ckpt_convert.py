"""Pure weight-conversion functions (thin CLI wrappers in tools/model_converters/).

* :func:`convert_vit_to_ratsvit`: official DINO / timm ViT checkpoints ->
  ``RATSViT(mode='mhsa')``. Module names already match, so the conversion is
  recognising the checkpoint's origin, selecting the backbone, dropping the
  classification / DINO projection head and renaming timm's ``reg_token``.
* :func:`convert_rats_to_finetune`: a RATS pretraining backbone ->
  ``RATSViT(mode='rats', parallel_branch=True)``, the branch initialised as
  the spec says (Appendix E, Eq. 8): zero output projection (the network
  computes the pretrained function at step 0), and, for
  ``parallel_qkv='separate'``, a copy of the block's ``qkv``.
* :func:`infer_vit_arch`: the ``RATSViT`` arguments a converted state dict
  needs, read off its shapes, so that a strict check can be run.
"""
import math
import re
from collections.abc import Mapping

import torch
from torch import Tensor

from .checkpoint_loading import extract_state_dict

# Width -> heads of the standard ViT family (head width 64); a checkpoint does not store H.
VIT_HEADS = {192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16}
HEAD_PREFIXES = ('head.', 'head_drop.')


def convert_vit_to_ratsvit(checkpoint: Mapping) -> tuple[dict[str, Tensor], dict[str, list[str]]]:
    """Convert an official DINO or timm ViT checkpoint to ``RATSViT`` (``mhsa``).

    Recognised layouts: a plain backbone state dict (DINO's released
    ``dino_deitsmall16_pretrain.pth``, timm's ``vit_small_patch16_224``), a
    DINO training checkpoint (``{'teacher': {'module.backbone.*',
    'module.head.*'}, 'student': ...}``; the teacher is taken), and dicts
    holding a state dict under ``state_dict`` or ``model``.

    Returns:
        The converted state dict and a report ``{'origin', 'renamed',
        'dropped'}`` naming every key that was not copied as is. Keys that
        belong to no ``RATSViT`` are left in, so that the strict check
        (:func:`~mmrats.models.utils.check_state_dict`) reports them.
    """
    report: dict[str, list[str]] = dict(origin=[], renamed=[], dropped=[])
    if 'teacher' in checkpoint and isinstance(checkpoint['teacher'], Mapping):
        report['origin'].append('DINO training checkpoint (teacher)')
        sd = dict(checkpoint['teacher'])
    else:
        sd = extract_state_dict(checkpoint)
        report['origin'].append('timm/DINO backbone state dict')
    sd = {k.removeprefix('module.'): v for k, v in sd.items()}
    if any(k.startswith('backbone.') for k in sd):
        report['dropped'] += sorted(k for k in sd if not k.startswith('backbone.'))
        sd = {k.removeprefix('backbone.'): v for k, v in sd.items() if k.startswith('backbone.')}
    out = {}
    for k, v in sd.items():
        if k.startswith(HEAD_PREFIXES):
            report['dropped'].append(k)
            continue
        if k == 'reg_token':
            report['renamed'].append('reg_token -> registers')
            k = 'registers'
        out[k] = v
    pos = out.get('pos_embed')
    if pos is not None and 'cls_token' in out:
        side = math.isqrt(pos.shape[1])
        if side * side == pos.shape[1]:  # timm's no_embed_class layout: [CLS] has no position entry
            out['pos_embed'] = torch.cat([pos.new_zeros(1, 1, pos.shape[2]), pos], dim=1)
            report['renamed'].append('pos_embed: zero [CLS] entry prepended (timm no_embed_class layout)')
    return out, report


def infer_vit_arch(state_dict: Mapping[str, Tensor], num_heads: int | None = None) -> dict:
    """``RATSViT`` keyword arguments that match a converted ``mhsa`` state dict."""
    try:
        proj = state_dict['patch_embed.proj.weight']
        pos = state_dict['pos_embed']
    except KeyError as e:
        raise KeyError(f'state dict lacks {e.args[0]!r}: not a ViT backbone checkpoint') from None
    c, patch = proj.shape[0], proj.shape[-1]
    blocks = {int(m.group(1)) for k in state_dict if (m := re.match(r'blocks\.(\d+)\.', k))}
    heads = num_heads or VIT_HEADS.get(c)
    if heads is None:
        raise ValueError(f'cannot infer num_heads for width {c}; pass it explicitly')
    with_cls = 'cls_token' in state_dict
    side = int(round((pos.shape[1] - int(with_cls)) ** 0.5))
    arch = dict(embed_dims=c, num_heads=heads, num_layers=max(blocks) + 1,
                mlp_ratio=state_dict['blocks.0.mlp.fc1.weight'].shape[0] / c)
    regs = state_dict.get('registers')
    return dict(arch=arch, mode='mhsa', patch_size=patch, img_size=side * patch, with_cls_token=with_cls,
                num_registers=0 if regs is None else regs.shape[1],
                layer_scale_init=1e-5 if 'blocks.0.ls1.gamma' in state_dict else None,
                qkv_bias='blocks.0.attn.qkv.bias' in state_dict)


def check_rats_pretrained(sd: Mapping[str, Tensor]) -> None:
    """Raise ``ValueError`` unless ``sd`` is a RATS backbone without a parallel branch."""
    if 'registers' not in sd or 'cls_token' in sd or 'blocks.0.attn.qkv.weight' not in sd:
        raise ValueError('not a RATS backbone state dict (expects registers, blocks.*.attn.qkv and no '
                         f'cls_token; keys start with {sorted(sd)[:5]}); set the prefix (e.g. backbone.)')
    if any('.attn.parallel_' in k for k in sd):
        raise ValueError('checkpoint already has a parallel branch (blocks.*.attn.parallel_*)')


def convert_rats_to_finetune(checkpoint: Mapping, prefix: str | None = None,
                             parallel_qkv: str = 'shared') -> dict[str, Tensor]:
    """Add the parallel full-rank branch to a RATS pretraining backbone.

    Args:
        checkpoint: a ``RATSViT(mode='rats')`` state dict, or a checkpoint
            holding one (see :func:`extract_state_dict`).
        prefix: where the backbone sits in the checkpoint (e.g.
            ``'backbone.'``); stripped.
        parallel_qkv: ``'shared'`` or ``'separate'`` (copy of ``qkv``).

    Returns:
        The state dict of ``RATSViT(mode='rats', parallel_branch=True,
        parallel_qkv=...)`` that computes exactly the pretrained function.
    """
    if parallel_qkv not in ('shared', 'separate'):
        raise ValueError(f"parallel_qkv must be 'shared' or 'separate', got {parallel_qkv!r}")
    sd = extract_state_dict(checkpoint, prefix)
    check_rats_pretrained(sd)
    out = dict(sd)
    for k, w in sd.items():
        m = re.fullmatch(r'(blocks\.\d+\.attn\.)qkv\.weight', k)
        if not m:
            continue
        p, c = m.group(1), w.shape[1]
        out[p + 'parallel_proj.weight'] = torch.zeros(c, c, dtype=w.dtype)
        out[p + 'parallel_proj.bias'] = torch.zeros(c, dtype=w.dtype)
        if parallel_qkv == 'separate':
            out[p + 'parallel_qkv.weight'] = w.clone()
            if p + 'qkv.bias' in sd:
                out[p + 'parallel_qkv.bias'] = sd[p + 'qkv.bias'].clone()
    return out


def verified_finetune_state_dict(pretrained: torch.nn.Module, backbone_kwargs: dict, parallel_qkv: str = 'shared',
                                 source: str = 'fine-tuning backbone', atol: float = 1e-5) -> tuple[dict, float]:
    """:func:`convert_rats_to_finetune` of a loaded pretrained ``RATSViT``, checked end to end.

    The result is loaded strictly into ``RATSViT(**backbone_kwargs, parallel_branch=True)`` and
    must compute the pretrained function (spec, "Fine-tuning": the branch starts at zero) on a
    random image.

    Returns:
        ``(state_dict, max_abs_difference)``.

    Raises:
        CheckpointMismatchError: the converted keys do not fit the fine-tuning backbone.
        ValueError: not a RATS backbone, or the outputs differ by more than ``atol``.
    """
    from mmrats.models.backbones import RATSViT  # here: the backbone imports this package
    from .checkpoint_loading import check_state_dict

    if getattr(pretrained, 'mode', None) != 'rats':
        raise ValueError('the parallel branch is a RATS option; this backbone is '
                         f"mode={getattr(pretrained, 'mode', None)!r} (a ViT fine-tunes as it is)")
    sd = convert_rats_to_finetune(pretrained.state_dict(), parallel_qkv=parallel_qkv)
    finetune = RATSViT(**backbone_kwargs, parallel_branch=True, parallel_qkv=parallel_qkv).eval()
    check_state_dict(finetune, sd, source=source)
    finetune.load_state_dict(sd, strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        diff = (pretrained.eval()(x)[0] - finetune(x)[0]).abs().max().item()
    if diff > atol:
        raise ValueError(f'the fine-tuning backbone differs from the pretrained one by {diff}')
    return sd, diff
