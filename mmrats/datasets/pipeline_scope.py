"""The registry scope the datasets' pipelines are built in when no runner has set one."""
from __future__ import annotations

import contextlib

from mmengine.registry import DefaultScope


def mmpretrain_scope() -> contextlib.AbstractContextManager:
    """mmpretrain's scope if none is current (a dataset built outside a runner), else nothing.

    The datasets' pipelines name mmpretrain's transforms (``MultiView``, ``PackInputs``): inside a runner the
    config's ``default_scope`` finds them; outside one (a test, a notebook) they are looked up in mmpretrain.
    """
    if DefaultScope.get_current_instance() is None:
        return DefaultScope.overwrite_default_scope('mmpretrain')
    return contextlib.nullcontext()
