"""Strict loading of backbone checkpoints, with errors that name the fix.

DINO's ``load_pretrained_weights`` strips prefixes and loads with
``strict=False``, silently loading half a model. Here every missing,
unexpected or mis-shaped key is reported and loading fails.
"""
import os.path as osp
from collections.abc import Mapping

from torch import Tensor, nn

CONVERTER_HINT = ('Convert official DINO / timm ViT weights with tools/model_converters/vit2ratsvit.py, '
                  'and a RATS pretraining checkpoint into a fine-tuning backbone (parallel branch) with '
                  'tools/model_converters/rats2finetune.py.')


class CheckpointMismatchError(RuntimeError):
    """A checkpoint does not match the model it is loaded into."""


def extract_state_dict(checkpoint: Mapping, prefix: str | None = None,
                       model_keys: set[str] | None = None) -> dict[str, Tensor]:
    """The tensor dict of a checkpoint, under ``prefix`` (stripped).

    Args:
        checkpoint: a raw state dict, or a dict holding one under
            ``state_dict`` (mmengine) or ``model``.
        prefix: keep only keys starting with it, and strip it (e.g.
            ``'backbone.'`` for a whole mmseg/mmdet/mmpretrain model). If None
            and ``model_keys`` are given, ``'backbone.'`` is stripped when
            no key matches the model as is but some do after stripping.
        model_keys: the keys of the receiving model, for the automatic prefix.
    """
    sd = checkpoint
    for key in ('state_dict', 'model'):
        if isinstance(sd, Mapping) and key in sd and isinstance(sd[key], Mapping):
            sd = sd[key]
    sd = dict(sd)
    if prefix is None and model_keys is not None and not model_keys & sd.keys():
        if any(k.startswith('backbone.') for k in sd):
            prefix = 'backbone.'
    if prefix:
        sd = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    return sd


def mismatch_report(model: nn.Module, state_dict: Mapping[str, Tensor],
                    resizable: tuple[str, ...] = ('pos_embed',)) -> dict[str, list[str]]:
    """Missing, unexpected and mis-shaped keys of ``state_dict`` for ``model``."""
    own = model.state_dict()
    shape = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
             for k, v in state_dict.items()
             if k in own and k not in resizable and tuple(v.shape) != tuple(own[k].shape)]
    return dict(missing=sorted(own.keys() - state_dict.keys()),
                unexpected=sorted(state_dict.keys() - own.keys()), shape_mismatch=shape)


def check_state_dict(model: nn.Module, state_dict: Mapping[str, Tensor], source: str = 'state dict') -> None:
    """Raise :class:`CheckpointMismatchError` listing every mismatched key."""
    rep = mismatch_report(model, state_dict)
    if any(rep.values()):
        lines = [f'{source} does not match {type(model).__name__}'
                 f'({_describe(model)}):']
        for kind, keys in rep.items():
            if keys:
                shown = keys[:20] + ([f'... and {len(keys) - 20} more'] if len(keys) > 20 else [])
                lines.append(f'  {kind} ({len(keys)}): ' + ', '.join(shown))
        lines.append(CONVERTER_HINT)
        raise CheckpointMismatchError('\n'.join(lines))


def _describe(model: nn.Module) -> str:
    keys = ('mode', 'embed_dims', 'num_heads', 'num_layers', 'num_registers', 'with_cls_token', 'parallel_branch')
    return ', '.join(f'{k}={getattr(model, k)}' for k in keys if hasattr(model, k))


def load_backbone_checkpoint(model: nn.Module, filename: str, prefix: str | None = None) -> dict:
    """Load ``filename`` into ``model`` strictly (position embeddings resized).

    Args:
        model: the backbone.
        filename: a local path or any URI mmengine's ``CheckpointLoader`` knows.
        prefix: see :func:`extract_state_dict`.

    Returns:
        The loaded state dict.

    Raises:
        FileNotFoundError: a local ``filename`` does not exist.
        CheckpointMismatchError: any key is missing, unexpected or mis-shaped.
    """
    from mmengine.runner.checkpoint import CheckpointLoader

    if '://' not in filename and not osp.isfile(filename):
        raise FileNotFoundError(
            f'Backbone checkpoint {filename!r} (init_cfg.checkpoint) does not exist. Point '
            f'model.backbone.init_cfg.checkpoint at a converted checkpoint. {CONVERTER_HINT}')
    ckpt = CheckpointLoader.load_checkpoint(filename, map_location='cpu')
    sd = extract_state_dict(ckpt, prefix, set(model.state_dict()))
    check_state_dict(model, sd, source=f'checkpoint {filename!r}')
    model.load_state_dict(sd, strict=True)
    return sd
