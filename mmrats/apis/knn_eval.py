"""Is a pretraining run healthy? Weighted k-NN accuracy of a backbone on an ImageFolder, DINO's protocol.

DINO's first check of a run (``eval_knn.py``): the global representation of
every train image (the reference bank) and val image (the queries), one
centre view each (shorter side to 256, centre crop 224), L2-normalised, 20
neighbours, temperature 0.07; :func:`mmrats.evaluation.knn.knn_classify`.
DINO's references: ViT-S/16, vanilla 100 epochs 69.3 % top-1 (linear 74.0 %);
800 epochs 74.5 %. The images and features are
:mod:`mmrats.evaluation.knn_features`, which the k-NN validation during
pretraining (:class:`mmrats.engine.hooks.KNNValidationHook`) reads as well.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import nn

from mmrats.evaluation.knn import knn_classify
from mmrats.evaluation.knn_features import IMG_EXTENSIONS, folder_features, image_folder, knn_splits
from mmrats.models.utils.global_repr import resolve_global_repr

__all__ = ['IMG_EXTENSIONS', 'folder_features', 'image_folder', 'knn_evaluate']


def knn_evaluate(backbone: nn.Module, data_root: str | Path, train_split: str = 'train', val_split: str = 'val',
                 k: int = 20, temperature: float = 0.07, img_size: int = 224, batch_size: int = 64,
                 max_per_class: int | None = None, global_repr: str = 'auto', progress: Callable = iter,
                 val_max_per_class: int | None = None, num_workers: int = 0) -> dict:
    """k-NN top-1 / top-5 of ``backbone`` with ``DATA_ROOT/<train_split>`` as references, ``<val_split>`` as queries.

    Args:
        max_per_class: the first ``N`` images of each class (None: all), of both splits unless
            ``val_max_per_class`` is given.
        val_max_per_class: the val split's own ``N``; None: ``max_per_class``.
        num_workers: ``DataLoader`` processes that read the images (0: this one).

    Raises:
        FileNotFoundError, ValueError: a split folder is missing, empty, or the splits' classes differ.
    """
    val_max = max_per_class if val_max_per_class is None else val_max_per_class
    split = knn_splits(data_root, train_split, val_split, max_per_class, val_max)
    backbone.eval()
    kw = dict(img_size=img_size, batch_size=batch_size, global_repr=global_repr, progress=progress,
              num_workers=num_workers)
    train = folder_features(backbone, split['train_paths'], **kw)
    val = folder_features(backbone, split['val_paths'], **kw)
    res = knn_classify(train, split['train_labels'], val, split['val_labels'], k, temperature,
                       num_classes=len(split['classes']))
    return dict(res, num_classes=len(split['classes']), img_size=img_size,
                global_repr=resolve_global_repr(backbone, global_repr), data_root=str(data_root))
