"""Backbone files from DINO pretraining checkpoints (paper §3.1: the teacher is what DINO evaluates and transfers)."""
from __future__ import annotations

from pathlib import Path

import torch

from mmrats.models.utils.ckpt_convert import verified_finetune_state_dict

from .weights import BackboneLoadError, PathLike, load_backbone, read_backbone_weights

PARALLEL_QKV = ('shared', 'separate')


def extract_backbone(src: PathLike, dst: PathLike, which: str = 'teacher', finetune: bool = False,
                     parallel_qkv: str = 'shared', force: bool = False) -> Path:
    """Write the teacher (or student) backbone of a DINO pretraining checkpoint as a backbone file.

    ``dst`` holds ``state_dict`` (the ``RATSViT`` keys) and ``meta.backbone`` (its config), which
    :func:`~mmrats.apis.load_backbone` and ``init_cfg=dict(type='Pretrained', checkpoint=dst)`` read.
    The backbone is rebuilt from the config saved in ``src`` and loaded strictly.

    Args:
        src: a ``tools/train.py`` checkpoint of a DINO config.
        dst: the file to write.
        which: ``'teacher'`` or ``'student'``.
        finetune: (RATS only) add the parallel full-rank branch for dense fine-tuning, with a zero output
            projection, so that ``dst`` computes exactly the pretrained function (checked on a random image):
            what the Mask2Former configs load.
        parallel_qkv: the branch's ``'shared'`` or ``'separate'`` projections.
        force: overwrite an existing ``dst``.

    Returns:
        ``dst``.

    Raises:
        FileExistsError: ``dst`` exists and ``force`` is False (nothing is overwritten).
        BackboneLoadError: ``src`` is not a DINO checkpoint of a RATSViT, or a ViT with ``finetune``.
    """
    dst = Path(dst)
    if dst.exists() and not force:
        raise FileExistsError(f'{dst} exists; pass force=True (--force) to overwrite it')
    if parallel_qkv not in PARALLEL_QKV:
        raise BackboneLoadError(f'parallel_qkv={parallel_qkv!r}: choose one of {PARALLEL_QKV}')
    w = read_backbone_weights(src, which)
    if w.kind != 'dino':
        raise BackboneLoadError(f'{src} is a {w.kind} file ({w.source}), not a DINO pretraining checkpoint '
                                '(tools/train.py with a configs/dino config): it has no teacher.backbone.* weights')
    pretrained = load_backbone(src, which)
    sd, cfg = pretrained.state_dict(), dict(type='mmrats.RATSViT', **w.config)
    if finetune:
        try:
            sd, _ = verified_finetune_state_dict(pretrained, w.config, parallel_qkv,
                                                 source=f'{dst} (fine-tuning backbone)')
        except ValueError as e:
            raise BackboneLoadError(f'{src}: {e}') from None
        cfg.update(parallel_branch=True, parallel_qkv=parallel_qkv)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(state_dict=sd, meta=dict(backbone=cfg, converted_from=str(src), which=which)), dst)
    return dst
