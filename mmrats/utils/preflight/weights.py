"""Check the weight files a run names before the runner is built.

A missing or broken checkpoint otherwise surfaces only after the whole runner
(model, datasets, hooks) is built, at the end of a long log. Here every place a
run can name a weights file is checked first, cheaply (file type and the first
and last bytes, never a full load), and a problem is one line naming the
config key, the path and the converter that makes such a file:

* ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` anywhere in
  ``model`` (the backbone's, a neck's or head's, or the whole model's), and the
  legacy ``pretrained=PATH`` keys;
* ``load_from`` (also what ``--resume PATH`` and ``tools/test.py CHECKPOINT``
  set).

URLs and other ``scheme://`` names (``https://``, ``torchvision://``,
``open-mmlab://``, ...) are left to mmengine's checkpoint loaders.
"""
import os
import os.path as osp
import re
from collections.abc import Iterator

from .errors import PreflightError

URL = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*://')
PRETRAINED_TYPES = ('Pretrained', 'PretrainedInit')
CONVERTERS = 'tools/model_converters'
RATSVIT_TYPES = ('RATSViT', 'LinearProbeRATSViT')  # backbones that load RATSViT weights files
WHOLE_MODEL = ('a whole-model checkpoint written by tools/train.py (WORK_DIR/iter_N.pth, epoch_N.pth or '
               'best_*.pth); backbone-only weights go to model.backbone.init_cfg.checkpoint instead')


class WeightsError(PreflightError, FileNotFoundError):
    """A weights file that the config or the command line names is missing or not a torch checkpoint."""


def _open(path: str):
    """``open(path, 'rb')``; a separate name so that tests can simulate an unreadable file as root."""
    return open(path, 'rb')


def checkpoint_problem(path: str) -> str | None:
    """What is wrong with the local checkpoint file ``path``, or ``None`` if it looks loadable.

    Cheap: the file type, then its first 10 and last 1,024 bytes. ``torch.save``
    writes a zip archive (``PK\\x03\\x04`` ... end-of-archive record ``PK\\x05\\x06``;
    a file without that record was cut short) or, in the legacy format, a
    pickle stream (``\\x80`` and a protocol number 2-5).
    """
    if not osp.lexists(path):
        return 'does not exist'
    if osp.isdir(path):
        return 'is a folder, not a checkpoint file'
    if not osp.exists(path):
        return 'is a broken symbolic link'
    if not osp.isfile(path):
        return 'is not a regular file'
    try:
        with _open(path) as f:
            head = f.read(10)
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - 1024))
            tail = f.read()
    except OSError as e:
        return f'cannot be read ({e.strerror or e})'
    if size == 0:
        return 'is empty (0 bytes)'
    if head.startswith(b'PK\x03\x04'):
        if b'PK\x05\x06' not in tail:
            return (f'is a truncated torch checkpoint (a zip archive of {size:,} bytes without its end record: '
                    'the download or save stopped early)')
        return None
    if head[:1] == b'\x80' and len(head) > 1 and 2 <= head[1] <= 5:
        return None
    if head.lstrip()[:1] == b'<':
        what = 'an HTML page: a failed download?'
    elif head[8:10] == b'{"':  # an 8-byte little-endian header length, then a JSON header
        what = 'a safetensors file: load it with safetensors.torch.load_file and torch.save the dict'
    else:
        what = f'it starts with {head[:8]!r}'
    return f'is not a torch checkpoint ({what}; torch.save writes a zip archive or a pickle)'


def _module_name(mod: dict) -> str:
    return str(mod.get('type', '')).split('.')[-1]


def converter_hint(key: str, path: str, owner: dict | None) -> str:
    """Which file ``key`` expects, and the converter (``tools/model_converters``) that makes it.

    Args:
        key: the config key (``model.backbone.init_cfg.checkpoint``, ``load_from``, ...).
        path: the path the config gives (used in the suggested command).
        owner: the module config the ``init_cfg`` belongs to (``None`` for whole-model keys).
    """
    if owner is None or key.startswith('model.init_cfg'):
        return f'it expects {WHOLE_MODEL}'
    if _module_name(owner) not in RATSVIT_TYPES:
        return (f'it expects weights for {owner.get("type")!r} (download or convert them; the converters in '
                f'{CONVERTERS}/ make RATSViT backbones)')
    if owner.get('mode', 'rats') == 'mhsa':
        return (f'convert an official DINO or timm ViT checkpoint with: python {CONVERTERS}/vit2ratsvit.py '
                f'SRC.pth {path}')
    if owner.get('parallel_branch', False):
        return (f'make it from a RATS DINO pretraining checkpoint (tools/train.py with a configs/dino config) with: '
                f'python {CONVERTERS}/dino2backbone.py SRC.pth {path} --finetune; or from a RATS backbone without '
                f'the parallel branch with: python {CONVERTERS}/rats2finetune.py SRC.pth {path}')
    return (f'extract it from a RATS DINO pretraining checkpoint (tools/train.py with a configs/dino config) with: '
            f'python {CONVERTERS}/dino2backbone.py SRC.pth {path}')


def model_checkpoints(model: dict | None, key: str = 'model') -> Iterator[tuple[str, str, dict | None]]:
    """``(config key, path, owner module cfg)`` of every weights file named inside a model config.

    Walks nested dicts and lists: ``init_cfg`` of type ``Pretrained`` (a dict or
    a list of them) and ``pretrained=PATH`` strings. The owner of
    ``model.pretrained`` (mmseg's legacy key) is the backbone it initialises.
    """
    if isinstance(model, dict):
        init = model.get('init_cfg')
        for i, ic in enumerate(init if isinstance(init, (list, tuple)) else [init]):
            if isinstance(ic, dict) and _module_name(ic) in PRETRAINED_TYPES and isinstance(ic.get('checkpoint'), str):
                sub = f'{key}.init_cfg' + (f'[{i}]' if isinstance(init, (list, tuple)) else '')
                yield f'{sub}.checkpoint', ic['checkpoint'], (None if key == 'model' else model)
        if isinstance(model.get('pretrained'), str):
            owner = model.get('backbone') if key == 'model' else model
            yield f'{key}.pretrained', model['pretrained'], owner if isinstance(owner, dict) else None
        for k, v in model.items():
            if k != 'init_cfg':
                yield from model_checkpoints(v, f'{key}.{k}')
    elif isinstance(model, (list, tuple)):
        for i, v in enumerate(model):
            yield from model_checkpoints(v, f'{key}[{i}]')


def check_checkpoint(key: str, path: str, owner: dict | None = None) -> None:
    """Raise :class:`WeightsError` (one line: key, path, converter) if ``path`` is not a loadable local file."""
    if not isinstance(path, str) or not path or URL.match(path):
        return
    problem = checkpoint_problem(path)
    if problem is None:
        return
    where = '' if osp.isabs(path) else f' (relative to {os.getcwd()})'
    named = f'{key} {path!r}' if key.startswith('--') or key.isupper() else f'{key} = {path!r}'
    raise WeightsError(f'{named}{where} {problem}: {converter_hint(key, path, owner)}')


def check_weights(cfg, load_from_key: str = 'load_from', model: bool = True) -> None:
    """Check every weights file a run will load (see the module doc).

    Args:
        cfg: an mmengine ``Config`` (or dict).
        load_from_key: how to name ``cfg.load_from`` in the message: ``'load_from'``,
            ``'--resume'`` or ``'CHECKPOINT'`` (tools/test.py's argument).
        model: also check the model's ``init_cfg`` files (training initialises the
            model from them; testing loads ``load_from`` only).

    Raises:
        WeightsError: the first missing or unreadable file.
    """
    if model:
        for key, path, owner in model_checkpoints(cfg.get('model')):
            check_checkpoint(key, path, owner)
    load_from = cfg.get('load_from')
    if load_from:
        check_checkpoint(load_from_key, load_from)
