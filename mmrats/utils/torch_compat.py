"""Compatibility of mmengine 0.10.7 with torch >= 2.6.

``torch.load`` defaults to ``weights_only=True`` since torch 2.6, and mmengine
0.10.7 does not pass ``weights_only=False``. A checkpoint written by an
mmengine ``Runner`` stores mmengine objects in its ``message_hub`` (e.g.
``HistoryBuffer``) and numpy scalars/arrays in its meta, so ``--resume`` fails
with an ``UnpicklingError``. We allow-list exactly the classes such a
checkpoint holds instead of turning the safety check off globally.

One more obstacle: ``HistoryBuffer.__getstate__`` pickles its statistics
methods (``min``, ``max``, ...) as ``getattr(HistoryBuffer, 'min')``, and
allow-listing ``getattr`` would let a checkpoint call arbitrary code. Those
methods are registered on the class at import time (and re-registered by
``__init__``), so pickling them carries nothing; mmrats drops them from the
pickled state. Checkpoints written with mmrats imported resume with
``weights_only=True``; an older one written without it needs
``torch.load(..., weights_only=False)`` once, if its source is trusted.
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


def _history_buffer_state(self) -> dict:
    """``HistoryBuffer`` state without its (import-time registered) statistics methods."""
    state = self.__dict__.copy()
    state.pop('statistics_methods', None)
    return state


def allow_mmengine_checkpoints() -> None:
    """Make mmengine checkpoints loadable by ``torch.load(weights_only=True)``.

    Allow-lists the classes an mmengine checkpoint holds and keeps
    ``HistoryBuffer`` from pickling functions. Idempotent; a no-op on torch
    without ``add_safe_globals`` or without mmengine installed.
    """
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return
    try:
        from mmengine.logging import HistoryBuffer
        torch.serialization.add_safe_globals(_safe_classes())
    except ImportError:
        return
    HistoryBuffer.__getstate__ = _history_buffer_state
