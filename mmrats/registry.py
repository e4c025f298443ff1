"""The ``mmrats`` registry scope.

Every registry here is a child of mmengine's root registry of the same kind,
with scope ``mmrats`` and lazy-import ``locations``. A config of any toolbox
(mmseg, mmdet, mmpretrain) can therefore name ``type='mmrats.RATSViT'``:
mmengine imports ``mmrats.registry`` on seeing the ``mmrats.`` prefix, finds
this scope among the root's children, and imports the locations on lookup.
"""
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import Registry

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mmrats', locations=['mmrats.models'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mmrats', locations=['mmrats.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mmrats', locations=['mmrats.datasets'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mmrats', locations=['mmrats.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mmrats', locations=['mmrats.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry('optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
                                      scope='mmrats', locations=['mmrats.engine'])
