"""Silence the known warnings of this stack so that users see their own.

Each filter matches one message that the pinned stack (torch 2.14, mmengine
0.10.7, mmcv 2.1.0, setuptools < 82) prints on every run and that a user can
do nothing about.
"""
import warnings

KNOWN = (
    (UserWarning, r'pkg_resources is deprecated as an API'),
    (FutureWarning, r'`torch\.cuda\.amp\.'),
    (FutureWarning, r'torch\.nn\.utils\.weight_norm` is deprecated'),
    (UserWarning, r'The `clip_grad` of .* is deprecated'),
    (UserWarning, r'On January 1, 2023, MMCV will release v2\.0\.0'),
    # pycocotools 2.0.x on numpy 2 (mask.decode/encode): harmless, results are correct
    (DeprecationWarning, r"__array__ implementation doesn't accept a copy keyword"),
    (UserWarning, r'torch\.meshgrid: in an upcoming release'),
    # mmcv's adjust_contrast/brightness with the pillow backend (DINO's ColorJitter)
    (UserWarning, r"Only use 'alpha' for pillow backend"),
    # mmcv 2.1.0's photometric transforms on Pillow >= 11.3
    (DeprecationWarning, r"'mode' parameter is deprecated and will be removed in Pillow"),
    # mmdet 3.3 / mmseg 1.2 stock Mask2Former configs (our _base_) pass dropout=0.0 to mmcv's
    # MultiheadAttention: the same as attn_drop=proj_drop=0, the recipe as published
    (DeprecationWarning, r'The arguments `dropout` in MultiheadAttention has been deprecated'),
    # mmseg 1.2.2 calls its own deprecated build_loss inside its heads
    (UserWarning, r'``build_loss`` would be deprecated soon'),
    # mmseg's default runtime builds its visualization hook with draw=False and then warns about
    # that default; --show-dir turns drawing on
    (UserWarning, r'The draw is False, it means that the hook for visualization will not take effect'),
    # mmengine 0.10's MMDistributedDataParallel passes broadcast_buffers, which torch 2.14 deprecates
    (FutureWarning, r'`broadcast_buffers` is deprecated'),
    # DDP's performance hint when a 1x1 convolution's gradient comes with other strides than its
    # bucket (seen in CPU gloo runs of Mask2Former); the gradients and results are unaffected
    (UserWarning, r'Grad strides do not match bucket view strides'),
)


def filter_known_warnings() -> None:
    """Install the filters (idempotent)."""
    for category, message in KNOWN:
        warnings.filterwarnings('ignore', message=message, category=category)
