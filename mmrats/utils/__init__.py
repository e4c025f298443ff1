from .data_check import DataRootError, check_data_roots
from .torch_compat import allow_mmengine_checkpoints

__all__ = ['DataRootError', 'allow_mmengine_checkpoints', 'check_data_roots']
