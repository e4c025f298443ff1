"""Backbones from weights files: what a file holds, the backbone it describes, loaded strictly.

Every weights file the project writes or converts names its backbone:

* ``backbone``: ``{'state_dict': RATSViT keys, 'meta': {'backbone': config}}``,
  written by ``tools/model_converters`` (an extracted DINO teacher, a
  converted facebookresearch/dino or timm ViT, a RATS fine-tuning backbone);
* ``dino``: a ``tools/train.py`` checkpoint of a DINO config (mmengine's
  ``meta.cfg`` holds the config; the student is ``backbone.*``, the EMA
  teacher ``teacher.backbone.*``);
* ``model``: a ``tools/train.py`` checkpoint of an mmseg / mmdet /
  mmpretrain config with a ``mmrats.RATSViT`` backbone (``backbone.*``);
* ``state_dict``: a bare RATSViT state dict; the architecture is read off
  the keys and shapes (registers without [CLS] read as RATS, as the project
  builds its ViT + registers with [CLS]; pass ``mode=...`` otherwise).

The backbone is always loaded strictly: a missing, unexpected or mis-shaped
key is an error that names the file (position embeddings are resized).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mmrats.models.backbones import RATSViT
from mmrats.models.utils.checkpoint_loading import CheckpointMismatchError, check_state_dict, extract_state_dict
from mmrats.models.utils.ckpt_convert import VIT_HEADS, infer_vit_arch

# The RATSViT arguments that define the function (not training-only ones such as drop_path_rate or init_cfg).
ARCH_ARGS = ('arch', 'mode', 'img_size', 'patch_size', 'in_channels', 'num_registers', 'with_cls_token',
             'shared_registers', 'learned_communicate', 'parallel_branch', 'parallel_qkv', 'final_norm',
             'layer_scale_init', 'qkv_bias')
WHICH = ('teacher', 'student')
PathLike = str | os.PathLike


class BackboneLoadError(ValueError):
    """A weights file that cannot give a backbone: the message names the file, what it holds and the fix."""


@dataclass
class BackboneWeights:
    """What a weights file holds for a backbone.

    Attributes:
        path: the file.
        kind: ``'backbone'``, ``'dino'``, ``'model'`` or ``'state_dict'`` (see the module docstring).
        config: the ``RATSViT`` keyword arguments (no ``type``, no ``init_cfg``).
        state_dict: the backbone's tensors, keys as ``RATSViT.state_dict()``.
        source: a short description for messages and reports.
        pretraining: (property) the DINO ``model`` config it was pretrained with (``global_repr``, ``lastvit``,
            ...): from the file, or from the DINO checkpoint a backbone file was extracted from (read only when
            asked for, and only if the file names one that is there); else None.
    """

    path: str
    kind: str
    config: dict
    state_dict: dict = field(repr=False)
    source: str = ''
    _pretraining: dict | None = field(default=None, repr=False)
    _extracted_from: str | None = field(default=None, repr=False)

    @property
    def pretraining(self) -> dict | None:
        if self._pretraining is None and self._extracted_from and Path(self._extracted_from).is_file():
            meta = (_load(Path(self._extracted_from)) or {}).get('meta') or {}
            self._pretraining = _config_model(meta['cfg']) if isinstance(meta.get('cfg'), str) else None
            self._extracted_from = None
        return self._pretraining


def _load(path: Path) -> object:
    if not path.is_file():
        raise BackboneLoadError(f'weights file {str(path)!r} does not exist')
    if path.stat().st_size == 0:
        raise BackboneLoadError(f'weights file {str(path)!r} is empty')
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except Exception as e:
        first = (str(e).strip().splitlines() or [''])[0][:200]
        raise BackboneLoadError(
            f'weights file {str(path)!r} cannot be read as a torch checkpoint ({type(e).__name__}: {first}); an '
            'official DINO or timm file must first be converted: python tools/model_converters/vit2ratsvit.py '
            'SRC DST') from None


def _arch_args(cfg: dict) -> dict:
    kwargs = {k: cfg[k] for k in ARCH_ARGS if k in cfg}
    if isinstance(kwargs.get('arch'), dict):
        kwargs['arch'] = {k: v for k, v in kwargs['arch'].items() if k != '_delete_'}
    return kwargs


def _config_model(text: str) -> dict:
    from mmengine.config import Config
    return Config.fromstring(text, '.py').get('model', {}).to_dict()


def _summary(ckpt) -> str:
    if not isinstance(ckpt, dict):
        return f'a {type(ckpt).__name__}'
    keys = sorted(map(str, ckpt))
    return f"keys {', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}"


def infer_backbone_config(state_dict: dict, num_heads: int | None = None) -> dict:
    """``RATSViT`` arguments read off a bare state dict's keys and shapes.

    Raises:
        KeyError: not a ViT-family state dict. ValueError: the width has no standard number of heads.
    """
    if num_heads is None and 'patch_embed.proj.weight' in state_dict:  # standard ViT widths, then our archs
        width = state_dict['patch_embed.proj.weight'].shape[0]
        zoo = {a['embed_dims']: a['num_heads'] for a in RATSViT.arch_zoo.values()}
        num_heads = VIT_HEADS.get(width, zoo.get(width))
    kwargs = infer_vit_arch(state_dict, num_heads)
    if kwargs['num_registers'] and not kwargs['with_cls_token']:
        kwargs.update(mode='rats', learned_communicate='blocks.0.attn.comm_qkv' in state_dict)
        if 'blocks.0.attn.parallel_proj.weight' in state_dict:
            kwargs.update(parallel_branch=True, parallel_qkv='separate' if 'blocks.0.attn.parallel_qkv.weight'
                          in state_dict else 'shared')
    return kwargs


def read_backbone_weights(path: PathLike, which: str = 'teacher', prefix: str | None = None,
                          num_heads: int | None = None) -> BackboneWeights:
    """The backbone a weights file describes: its kind, ``RATSViT`` arguments and tensors.

    Args:
        path: any weights file of the module docstring.
        which: of a DINO checkpoint, ``'teacher'`` (what DINO evaluates and transfers) or ``'student'``.
        prefix: take the tensors under this key prefix instead (e.g. ``'backbone.'``).
        num_heads: of a bare state dict whose width has no standard number of heads.

    Raises:
        BackboneLoadError: the file is missing, unreadable or holds no RATSViT backbone.
    """
    if which not in WHICH:
        raise BackboneLoadError(f'which={which!r}: choose one of {WHICH}')
    p = Path(path)
    ckpt = _load(p)
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    pretraining, extracted_from = None, None
    if isinstance(meta.get('backbone'), dict):
        kind, config = 'backbone', _arch_args(meta['backbone'])
        sd = extract_state_dict(ckpt, prefix)
        src = meta.get('converted_from')
        source = f"backbone{' (' + meta['which'] + ')' if meta.get('which') else ''} converted from {src}"
        pretraining = meta.get('pretraining')  # extract_backbone keeps it; older files name their source
        extracted_from = None if pretraining is not None else src
    elif isinstance(meta.get('cfg'), str):
        model = _config_model(meta['cfg'])
        backbone = model.get('backbone') or {}
        if not str(backbone.get('type', '')).endswith('RATSViT'):
            raise BackboneLoadError(f'weights file {str(p)!r} is a checkpoint of a model whose model.backbone.type '
                                    f"is {backbone.get('type')!r}, not mmrats.RATSViT")
        config = _arch_args(backbone)
        sd_all = extract_state_dict(ckpt)
        if any(k.startswith('teacher.backbone.') for k in sd_all):
            kind, pretraining = 'dino', model
            prefix = prefix or ('teacher.backbone.' if which == 'teacher' else 'backbone.')
            source = f'DINO checkpoint ({which})'
        else:
            kind, prefix, source = 'model', prefix or 'backbone.', f"checkpoint of a {model.get('type')} model"
        sd = extract_state_dict(ckpt, prefix)
    else:
        sd = extract_state_dict(ckpt, prefix) if isinstance(ckpt, dict) else {}
        if prefix is None and 'patch_embed.proj.weight' not in sd and 'backbone.patch_embed.proj.weight' in sd:
            sd = extract_state_dict(ckpt, 'backbone.')
        if 'patch_embed.proj.weight' not in sd:
            raise BackboneLoadError(
                f'weights file {str(p)!r} holds no backbone ({_summary(ckpt)}): expected meta.backbone '
                '(tools/model_converters output), meta.cfg (tools/train.py output) or RATSViT keys '
                '(patch_embed.*, blocks.*); an official DINO or timm file must first be converted with '
                'tools/model_converters/vit2ratsvit.py')
        try:
            kind, source = 'state_dict', 'bare state dict (architecture from keys)'
            config = infer_backbone_config(sd, num_heads)
        except (KeyError, ValueError) as e:
            raise BackboneLoadError(f'weights file {str(p)!r}: {e}') from None
    if not sd:
        raise BackboneLoadError(f'weights file {str(p)!r} ({source}) has no tensors under {prefix!r}')
    return BackboneWeights(str(p), kind, config, sd, source, pretraining, extracted_from)


def backbone_config(path: PathLike, which: str = 'teacher') -> dict:
    """The ``RATSViT`` keyword arguments of the backbone in ``path`` (see :func:`read_backbone_weights`)."""
    return read_backbone_weights(path, which).config


def _build(config: dict, what: str) -> RATSViT:
    try:
        return RATSViT(**config)
    except (TypeError, ValueError) as e:
        raise BackboneLoadError(f'{what}: cannot build RATSViT({config}): {e}') from None


def load_backbone(path: PathLike | BackboneWeights, which: str = 'teacher', prefix: str | None = None,
                  device: str | torch.device = 'cpu', num_heads: int | None = None, **overrides) -> RATSViT:
    """The backbone of any weights file, built from the file's own description and loaded strictly.

    Args:
        path: a weights file (module docstring), or what :func:`read_backbone_weights` read of one (then
            ``which``, ``prefix`` and ``num_heads`` are those it was read with).
        which: ``'teacher'`` or ``'student'`` of a DINO checkpoint.
        prefix: key prefix of the backbone's tensors, if not the file's own.
        device: where the model goes.
        num_heads: of a bare state dict whose width has no standard number of heads.
        **overrides: ``RATSViT`` arguments to change, e.g. ``img_size=512`` (the position embedding is
            resized) or ``mode='mhsa'`` for a bare state dict.

    Returns:
        The backbone in eval mode.

    Raises:
        BackboneLoadError: the file holds no backbone, or its tensors do not fit (every key named).
    """
    w = path if isinstance(path, BackboneWeights) else read_backbone_weights(path, which, prefix, num_heads)
    model = _build({**w.config, **overrides}, f'weights file {w.path!r}')
    try:
        check_state_dict(model, w.state_dict, source=f'weights file {w.path!r} ({w.source})')
        model.load_state_dict(w.state_dict, strict=True)
    except (CheckpointMismatchError, ValueError) as e:
        raise BackboneLoadError(str(e)) from None
    return model.eval().to(device)


def untrained_backbone(source: PathLike | dict, seed: int = 0, cfg_options: dict | None = None,
                       device: str | torch.device = 'cpu', **overrides) -> RATSViT:
    """A randomly initialised backbone of the same architecture as ``source`` (the baselines' "untrained").

    Args:
        source: a weights file, a config file (``.py``: its ``model.backbone``) or ``RATSViT`` arguments
            (a ``dict(type='mmrats.RATSViT', ...)`` config too).
        seed: the torch seed of the initialisation.
        cfg_options: with a config file, keys to merge first (as ``--cfg-options``).
        device: where the model goes.
        **overrides: ``RATSViT`` arguments to change.
    """
    if isinstance(source, dict):
        config = _arch_args(source) if 'type' in source else dict(source)
    elif str(source).endswith('.py'):
        from mmengine.config import Config
        if not Path(source).is_file():
            raise BackboneLoadError(f'config file {str(source)!r} does not exist')
        cfg = Config.fromfile(str(source))
        if cfg_options:
            cfg.merge_from_dict(cfg_options, allow_list_keys=True)
        config = _arch_args(cfg.model.backbone.to_dict())
    else:
        config = backbone_config(source)
    torch.manual_seed(seed)
    return _build({**config, **overrides}, f'backbone of {source!r}').eval().to(device)

