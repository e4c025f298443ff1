"""The ``mmrats`` registry scope.

Every registry here is a child of mmengine's root registry of the same kind,
with scope ``mmrats`` and lazy-import ``locations``. A config of any toolbox
(mmseg, mmdet, mmpretrain) can therefore name ``type='mmrats.RATSViT'``:
mmengine imports ``mmrats.registry`` on seeing the ``mmrats.`` prefix, finds
this scope among the root's children, and imports the locations on lookup.
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmrats', locations=['mmrats.models'])
