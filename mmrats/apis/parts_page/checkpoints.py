"""The checkpoints the parts page offers: the untrained model, what ``work_dirs/`` holds, any file by path.

Every choice is loaded with :func:`mmrats.apis.load_backbone` (a DINO checkpoint gives its EMA teacher, a
fine-tuning checkpoint its backbone, see :mod:`mmrats.apis.weights`); a few loaded models are kept in memory,
keyed by the file's path, size and modification time (a rewritten file is read again).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

from torch import nn

from ..weights import BackboneLoadError, load_backbone, untrained_backbone

UNTRAINED = 'untrained'
# What `make demo` writes: the DINO teacher of RATS on the bundled photos.
DEMO_BACKBONE = 'work_dirs/dino_demo/rats_teacher_backbone.pth'
MAKE_ONE = f'`make demo` trains one on the bundled photos (about 8 min on a CPU) and writes {DEMO_BACKBONE}'


def find_checkpoints(root: str | os.PathLike = 'work_dirs', limit: int = 200) -> list[str]:
    """The ``.pth`` files under ``root``, newest first (at most ``limit``); ``[]`` if ``root`` does not exist.

    Backbone files (``*backbone*.pth``, what the demo and the lab extract) come before training checkpoints of
    the same age order, so that the default choice is a backbone when there is one.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    files = [p for p in root.rglob('*.pth') if p.is_file()]
    files.sort(key=lambda p: ('backbone' not in p.name, -p.stat().st_mtime, str(p)))
    return [str(p) for p in files[:limit]]


class CheckpointChoices:
    """The page's checkpoint menu and a small cache of loaded backbones.

    Args:
        root: where trained checkpoints are looked for (``work_dirs/``).
        untrained: the ``RATSViT`` arguments of the untrained model (seed 0).
        device: where models go.
        cache_size: loaded backbones kept in memory.
    """

    def __init__(self, root: str | os.PathLike = 'work_dirs', untrained: dict | None = None,
                 device: str = 'cpu', cache_size: int = 3) -> None:
        self.root = Path(root)
        self.untrained = dict(untrained or dict(arch='small', img_size=224))
        self.device = device
        self.cache_size = cache_size
        self.extra: list[str] = []  # files added by path, kept in the menu
        self._cache: OrderedDict[tuple, nn.Module] = OrderedDict()

    @property
    def untrained_label(self) -> str:
        cfg = self.untrained
        what = f"{cfg.get('mode', 'rats').upper()}-{cfg.get('arch', 'small')}, {cfg.get('img_size', 224)} px"
        return f'{UNTRAINED} ({what}, random init, seed 0: not trained)'

    def choices(self) -> list[str]:
        """The menu: the trained checkpoints found, files added by path, then the untrained model."""
        found = [f for f in find_checkpoints(self.root) if f not in self.extra]
        return [*self.extra, *found, self.untrained_label]

    def default(self) -> tuple[str, str]:
        """A file added by path, else the first trained checkpoint found, else the untrained model.

        Returns:
            The choice and a note for the page (with the command that makes a checkpoint when there is none).
        """
        if self.extra:
            return self.extra[0], f'showing {self.extra[0]}'
        found = find_checkpoints(self.root)
        if found:
            return found[0], f'{len(found)} checkpoint(s) found in {self.root}/'
        return self.untrained_label, (f'No trained checkpoint in {self.root}/: showing the **untrained** model. '
                                      f'{MAKE_ONE}.')

    def add(self, path: str) -> str:
        """Load a file given by path (raises :class:`BackboneLoadError` with the reason) and put it in the menu."""
        path = path.strip().strip('"\'')
        if not path:
            raise BackboneLoadError('no path given: type the path of a weights file (.pth)')
        p = Path(path).expanduser()
        if not p.is_file():
            raise BackboneLoadError(f'weights file {path!r} does not exist' if not p.exists() else
                                    f'{path!r} is a folder, not a weights file')
        self.load(str(p))
        if str(p) not in self.extra:
            self.extra.insert(0, str(p))
        return str(p)

    def load(self, choice: str) -> nn.Module:
        """The backbone of a menu entry (cached).

        Raises:
            BackboneLoadError: the file is gone, holds no backbone, or its tensors do not fit.
        """
        if choice == self.untrained_label or choice == UNTRAINED:
            key = (UNTRAINED, tuple(sorted(self.untrained.items())))
        else:
            p = Path(choice)
            if not p.is_file():
                raise BackboneLoadError(f'weights file {choice!r} does not exist (any more)')
            st = p.stat()
            key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        model = (untrained_backbone(self.untrained, seed=0, device=self.device) if key[0] == UNTRAINED
                 else load_backbone(choice, device=self.device))
        self._cache[key] = model
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return model
