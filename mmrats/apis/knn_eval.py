"""Is a pretraining run healthy? Weighted k-NN accuracy of a backbone on an ImageFolder, DINO's protocol.

DINO's first check of a run (``eval_knn.py``): the global representation of
every train image (the reference bank) and val image (the queries), one
centre view each (shorter side to 256, centre crop 224), L2-normalised, 20
neighbours, temperature 0.07; :func:`mmrats.evaluation.knn.knn_classify`.
DINO's references: ViT-S/16, vanilla 100 epochs 69.3 % top-1 (linear 74.0 %);
800 epochs 74.5 %.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mmrats.evaluation.knn import knn_classify
from mmrats.models.utils.global_repr import global_vector, resolve_global_repr
from mmrats.utils.images import center_crop, normalize

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


def image_folder(root: str | Path, max_per_class: int | None = None) -> tuple[list[Path], np.ndarray, list[str]]:
    """The images of ``root/<class>/*`` (classes and files sorted), their labels and the class names.

    Raises:
        FileNotFoundError: ``root`` is not a folder. ValueError: it has no class folder with images.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f'image folder {str(root)!r} does not exist (layout: ROOT/<class>/<image>)')
    classes, paths, labels = [], [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(f for f in d.iterdir() if f.suffix.lower() in IMG_EXTENSIONS)[:max_per_class]
        if files:
            labels += [len(classes)] * len(files)
            paths += files
            classes.append(d.name)
    if not classes:
        raise ValueError(f'image folder {str(root)!r} has no class folder with images ({", ".join(IMG_EXTENSIONS)})')
    return paths, np.array(labels), classes


@torch.no_grad()
def folder_features(backbone: nn.Module, paths: list[Path], img_size: int = 224, batch_size: int = 64,
                    global_repr: str = 'auto', progress: Callable = iter) -> torch.Tensor:
    """The global representation ``(N, C)`` of every image's centre view, on the CPU."""
    name = resolve_global_repr(backbone, global_repr)
    device = next(backbone.parameters()).device
    out = []
    for start in progress(range(0, len(paths), batch_size)):
        x = normalize(np.stack([center_crop(p, img_size) for p in paths[start:start + batch_size]])).to(device)
        out.append(global_vector(backbone.forward_features(x), name).float().cpu())
    return torch.cat(out)


def knn_evaluate(backbone: nn.Module, data_root: str | Path, train_split: str = 'train', val_split: str = 'val',
                 k: int = 20, temperature: float = 0.07, img_size: int = 224, batch_size: int = 64,
                 max_per_class: int | None = None, global_repr: str = 'auto', progress: Callable = iter) -> dict:
    """k-NN top-1 / top-5 of ``backbone`` with ``DATA_ROOT/<train_split>`` as references, ``<val_split>`` as queries.

    Raises:
        FileNotFoundError, ValueError: a split folder is missing, empty, or the splits' classes differ.
    """
    train_paths, train_labels, classes = image_folder(Path(data_root) / train_split, max_per_class)
    val_paths, val_labels, val_classes = image_folder(Path(data_root) / val_split, max_per_class)
    if val_classes != classes:
        extra = sorted(set(val_classes) - set(classes))
        raise ValueError(f'{Path(data_root) / val_split} has classes that {train_split} does not '
                         f'({", ".join(extra[:5]) or "other order"}): both splits need the same class folders')
    backbone.eval()
    train = folder_features(backbone, train_paths, img_size, batch_size, global_repr, progress)
    val = folder_features(backbone, val_paths, img_size, batch_size, global_repr, progress)
    res = knn_classify(train, train_labels, val, val_labels, k, temperature, num_classes=len(classes))
    return dict(res, num_classes=len(classes), img_size=img_size,
                global_repr=resolve_global_repr(backbone, global_repr), data_root=str(data_root))
