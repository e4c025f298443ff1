"""mmrats: RATS (Register Attention Transformers) for OpenMMLab."""
from .utils.known_warnings import filter_known_warnings

filter_known_warnings()  # before mmengine is imported below

from .utils.numpy_compat import patch_mmcv_adjust_hue  # noqa: E402
from .utils.torch_compat import allow_mmengine_checkpoints  # noqa: E402
from .version import __version__  # noqa: E402

allow_mmengine_checkpoints()
patch_mmcv_adjust_hue()  # ColorJitter with a negative hue on numpy 2

__all__ = ['__version__']
