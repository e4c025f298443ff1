"""The global representation of a backbone: the one vector per image that DINO trains and k-NN reads.

``'cls'``: the [CLS] token (DINO ViT); ``'registers'``: the mean of the final
(post-norm) registers (RATS, paper §3.1: the registers replace [CLS]);
``'lastvit'``: LaSt-ViT's aggregate of the stable patch tokens
(:mod:`mmrats.models.utils.lastvit_aggregation`); ``'patch-mean'``: the mean
of every patch token (LaSt-ViT's mean-pool control); ``'auto'``: [CLS] where
the backbone has one, else the registers' mean, as ``mmrats.DINO`` chooses.
Defined once here, for the DINO algorithm, the diagnostics, the lab k-NN,
the benchmark and :func:`mmrats.apis.extract_features`.
"""
from __future__ import annotations

from torch import Tensor

from .lastvit_aggregation import LaStViTAggregation

GLOBAL_REPRS = ('auto', 'cls', 'registers', 'lastvit', 'patch-mean')


def resolve_global_repr(backbone, global_repr: str = 'auto') -> str:
    """``'auto'`` -> [CLS] if the backbone has one, else the registers' mean (as ``mmrats.DINO``).

    Raises:
        ValueError: the backbone lacks the token the choice needs.
    """
    if global_repr not in GLOBAL_REPRS:
        raise ValueError(f'global representation {global_repr!r}: choose one of {GLOBAL_REPRS}')
    if global_repr == 'auto':
        return 'cls' if backbone.with_cls_token else 'registers'
    if global_repr == 'cls' and not backbone.with_cls_token:
        raise ValueError("global representation 'cls' needs a backbone with [CLS] (mode='mhsa'); "
                         "use 'registers' or 'lastvit'")
    if global_repr == 'registers' and not backbone.num_registers:
        raise ValueError("global representation 'registers' needs a backbone with registers; use 'cls' or 'lastvit'")
    return global_repr


def global_vector(features: dict, global_repr: str, lastvit: LaStViTAggregation | None = None) -> Tensor:
    """``(B, C)`` global representation from ``RATSViT.forward_features`` output."""
    if global_repr == 'cls':
        return features['cls_token']
    if global_repr == 'registers':
        return features['registers'].mean(1)
    if global_repr == 'lastvit':
        if lastvit is None:
            raise ValueError("global representation 'lastvit' needs a LaStViTAggregation")
        return lastvit(features['patch_tokens'])
    if global_repr == 'patch-mean':  # LaSt-ViT's mean-pool control (every patch, K = L)
        return features['patch_tokens'].mean(1)
    raise ValueError(f'unresolved global representation {global_repr!r}')
