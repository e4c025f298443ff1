"""Backbone files: the teacher of a DINO checkpoint (paper §3.1: what DINO evaluates and transfers), and the
fine-tuning form of a RATS backbone (the parallel full-rank branch, spec "Fine-tuning")."""
from __future__ import annotations

from pathlib import Path

import torch

from mmrats.models.utils.ckpt_convert import verified_finetune_state_dict

from .weights import BackboneLoadError, PathLike, load_backbone, read_backbone_weights

PARALLEL_QKV = ('shared', 'separate')


def _writable(dst: PathLike, force: bool, parallel_qkv: str) -> Path:
    dst = Path(dst)
    if dst.exists() and not force:
        raise FileExistsError(f'{dst} exists; pass force=True (--force) to overwrite it')
    if parallel_qkv not in PARALLEL_QKV:
        raise BackboneLoadError(f'parallel_qkv={parallel_qkv!r}: choose one of {PARALLEL_QKV}')
    return dst


def _with_branch(pretrained, config: dict, parallel_qkv: str, src, dst: Path) -> tuple[dict, dict, float]:
    """The fine-tuning state dict (checked to compute the pretrained function), its config, the difference."""
    config = {k: v for k, v in config.items() if k not in ('parallel_branch', 'parallel_qkv')}
    try:
        sd, diff = verified_finetune_state_dict(pretrained, config, parallel_qkv,
                                                source=f'{dst} (fine-tuning backbone)')
    except ValueError as e:
        raise BackboneLoadError(f'{src}: {e}') from None
    return sd, dict(config, parallel_branch=True, parallel_qkv=parallel_qkv), diff


def _save(sd: dict, config: dict, dst: Path, src, **meta) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state_dict=sd, meta=dict(backbone=dict(type='mmrats.RATSViT', **config),
                                             converted_from=str(src), **meta)), dst)
    return dst


def extract_backbone(src: PathLike, dst: PathLike, which: str = 'teacher', finetune: bool = False,
                     parallel_qkv: str = 'shared', force: bool = False) -> Path:
    """Write the teacher (or student) backbone of a DINO pretraining checkpoint as a backbone file; or the
    backbone of a ``tools/train.py`` checkpoint of another model with a ``mmrats.RATSViT`` backbone (the
    lab's supervised ``ImageClassifier``, issue #26), which has one backbone and no teacher.

    ``dst`` holds ``state_dict`` (the ``RATSViT`` keys) and ``meta.backbone`` (its config), which
    :func:`~mmrats.apis.load_backbone` and ``init_cfg=dict(type='Pretrained', checkpoint=dst)`` read.
    The backbone is rebuilt from the config saved in ``src`` and loaded strictly.

    Args:
        src: a ``tools/train.py`` checkpoint of a DINO config (or of a model with a RATSViT backbone).
        dst: the file to write.
        which: ``'teacher'`` or ``'student'`` (of a DINO checkpoint; another model's has its one backbone).
        finetune: (RATS only) add the parallel full-rank branch for dense fine-tuning, with a zero output
            projection, so that ``dst`` computes exactly the pretrained function (checked on a random image):
            what the Mask2Former configs load.
        parallel_qkv: the branch's ``'shared'`` or ``'separate'`` projections.
        force: overwrite an existing ``dst``.

    Returns:
        ``dst``.

    Raises:
        FileExistsError: ``dst`` exists and ``force`` is False (nothing is overwritten).
        BackboneLoadError: ``src`` is not a ``tools/train.py`` checkpoint of a RATSViT (DINO or another model),
            ``which='student'`` of a model that has no student, or a ViT with ``finetune``.
    """
    dst = _writable(dst, force, parallel_qkv)
    w = read_backbone_weights(src, which)
    if w.kind not in ('dino', 'model'):
        raise BackboneLoadError(f'{src} is a {w.kind} file ({w.source}), not a DINO pretraining checkpoint '
                                '(tools/train.py with a configs/dino config): it has no teacher.backbone.* weights')
    if w.kind == 'model' and which != 'teacher':
        raise BackboneLoadError(f'{src} is a {w.source}: it has one backbone, no {which}; leave which as it is')
    pretrained = load_backbone(w)
    sd, config = pretrained.state_dict(), w.config
    if finetune:
        sd, config, _ = _with_branch(pretrained, w.config, parallel_qkv, src, dst)
    return _save(sd, config, dst, src, which=which if w.kind == 'dino' else None, pretraining=w.pretraining)


def finetune_backbone(src: PathLike, dst: PathLike, parallel_qkv: str = 'shared', prefix: str | None = None,
                      num_heads: int | None = None, force: bool = False) -> dict:
    """Write the fine-tuning form of any RATS backbone file: the parallel full-rank branch of every block added,
    zero output projection (a separate qkv starts as a copy of qkv), so that it computes the pretrained function.

    Args:
        src: any weights file :func:`~mmrats.apis.load_backbone` reads that holds a RATS backbone without the
            branch (of a DINO checkpoint: the teacher).
        dst: the file to write.
        parallel_qkv: ``'shared'`` or ``'separate'``.
        prefix, num_heads: as :func:`~mmrats.apis.read_backbone_weights`.
        force: overwrite an existing ``dst``.

    Returns:
        ``dict(path=dst, pretrained_tensors=N, added_tensors=M, max_difference=...)``: the largest difference
        between the two backbones' outputs on a random image.

    Raises:
        FileExistsError, BackboneLoadError: as :func:`extract_backbone`; also a ViT or a backbone that has the
            branch already.
    """
    dst = _writable(dst, force, parallel_qkv)
    w = read_backbone_weights(src, prefix=prefix, num_heads=num_heads)
    pretrained = load_backbone(w)
    sd, config, diff = _with_branch(pretrained, w.config, parallel_qkv, src, dst)
    _save(sd, config, dst, src)
    return dict(path=dst, pretrained_tensors=len(w.state_dict), added_tensors=len(sd) - len(w.state_dict),
                max_difference=diff)
