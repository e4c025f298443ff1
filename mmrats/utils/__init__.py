from .preflight import DataRootError, PreflightError, check_data_roots, preflight
from .torch_compat import allow_mmengine_checkpoints

__all__ = ['DataRootError', 'PreflightError', 'allow_mmengine_checkpoints', 'check_data_roots', 'preflight']
