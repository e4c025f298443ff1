"""Compatibility of mmengine 0.10.7 with torch >= 2.6.

``torch.load`` defaults to ``weights_only=True`` since torch 2.6, and mmengine
0.10.7 does not pass ``weights_only=False``. A checkpoint written by an
mmengine ``Runner`` stores mmengine objects in its ``message_hub`` (e.g.
``HistoryBuffer``) and numpy scalars/arrays in its meta, so ``--resume`` fails
with an ``UnpicklingError``. We allow-list exactly the classes such a
checkpoint holds instead of turning the safety check off globally.
"""
import numpy as np
import torch


def _safe_classes() -> list:
    from mmengine.logging import HistoryBuffer, MessageHub  # noqa: F401

    classes: list = [HistoryBuffer, np.dtype, np.ndarray]
    # numpy arrays and scalars are rebuilt through these functions.
    for mod, name in (('numpy.core.multiarray', '_reconstruct'), ('numpy._core.multiarray', '_reconstruct'),
                      ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar')):
        try:
            classes.append(getattr(__import__(mod, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    classes += [type(np.dtype(t)) for t in ('float64', 'float32', 'int64', 'int32', 'bool', 'uint8')]
    return classes


def allow_mmengine_checkpoints() -> None:
    """Allow-list the classes an mmengine checkpoint holds for ``torch.load``.

    Idempotent; a no-op on torch without ``add_safe_globals`` or without
    mmengine installed.
    """
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return
    try:
        torch.serialization.add_safe_globals(_safe_classes())
    except ImportError:
        return
