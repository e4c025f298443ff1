"""mmrats: RATS (Register Attention Transformers) for OpenMMLab."""
from .utils.torch_compat import allow_mmengine_checkpoints
from .version import __version__

allow_mmengine_checkpoints()

__all__ = ['__version__']
