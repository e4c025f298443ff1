from .data_check import DataRootError, PreflightError, check_data_roots
from .preflight_check import preflight
from .torch_compat import allow_mmengine_checkpoints

__all__ = ['DataRootError', 'PreflightError', 'allow_mmengine_checkpoints', 'check_data_roots', 'preflight']
