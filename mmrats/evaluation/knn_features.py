"""The images and features of DINO's k-NN evaluation (``eval_knn.py``): ImageFolder splits, centre views, vectors.

One implementation for :func:`mmrats.apis.knn_evaluate` (a whole run's check
after training) and :class:`mmrats.engine.hooks.KNNValidationHook` (the
check during pretraining): the train split (the reference bank) and the val
split (the queries) are read as ``root/<class>/<image>`` with classes and
files sorted, optionally the first ``N`` files of each class; every image
gives one centre view (shorter side to ``256 / 224`` of the crop, bicubic,
then the central square; :func:`mmrats.utils.images.center_crop`), batched
by a torch ``DataLoader`` so that decoding runs in worker processes; the
backbone's global representation (RATS: the registers' mean; ViT: [CLS];
:mod:`mmrats.models.utils.global_repr`) is the feature, which
:func:`mmrats.evaluation.knn.knn_classify` L2-normalises.

Under distributed training each rank takes the images ``rank::world_size``
(:func:`shard`) and the ranks' features are put back into the order of one
process (:func:`gather_in_order`), so every rank holds the same bank.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from mmengine import dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from mmrats.models.utils.global_repr import global_vector, resolve_global_repr
from mmrats.utils.images import center_crop, normalize

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')


def image_folder(root: str | Path, max_per_class: int | None = None) -> tuple[list[Path], np.ndarray, list[str]]:
    """The images of ``root/<class>/*`` (classes and files sorted), their labels and the class names.

    Args:
        root: the split's folder.
        max_per_class: the first ``N`` files (sorted by name) of each class; None: all.

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


def knn_splits(data_root: str | Path, train_split: str = 'train', val_split: str = 'val',
               max_per_class: int | None = None, val_max_per_class: int | None = None) -> dict:
    """The bank and the queries of DINO's k-NN: ``DATA_ROOT/<train_split>`` and ``DATA_ROOT/<val_split>``.

    Args:
        data_root: the folder holding both splits.
        train_split, val_split: their folder names.
        max_per_class: the first ``N`` train images of each class; None: all.
        val_max_per_class: the same for the val split; None: all.

    Returns:
        ``dict(train_paths, train_labels, val_paths, val_labels, classes)``.

    Raises:
        FileNotFoundError, ValueError: a split folder is missing, empty, or the splits' classes differ.
    """
    train_paths, train_labels, classes = image_folder(Path(data_root) / train_split, max_per_class)
    val_paths, val_labels, val_classes = image_folder(Path(data_root) / val_split, val_max_per_class)
    if val_classes != classes:
        extra = sorted(set(val_classes) - set(classes))
        raise ValueError(f'{Path(data_root) / val_split} has classes that {train_split} does not '
                         f'({", ".join(extra[:5]) or "other order"}): both splits need the same class folders')
    return dict(train_paths=train_paths, train_labels=train_labels, val_paths=val_paths, val_labels=val_labels,
                classes=classes)


class CentreViews(Dataset):
    """DINO's evaluation view of each image: ``(3, S, S)`` normalised float32 (as the configs normalise)."""

    def __init__(self, paths: Sequence[str | Path], img_size: int = 224) -> None:
        self.paths, self.img_size = list(paths), img_size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> Tensor:
        return normalize(center_crop(self.paths[i], self.img_size))[0]


@torch.no_grad()
def folder_features(backbone: nn.Module, paths: Sequence[str | Path], img_size: int = 224, batch_size: int = 64,
                    global_repr: str = 'auto', progress: Callable = iter, num_workers: int = 0,
                    lastvit: nn.Module | None = None, autocast_dtype: torch.dtype | None = None) -> Tensor:
    """The global representation ``(N, C)`` float32 of every image's centre view, on the backbone's device.

    Args:
        backbone: a ``RATSViT`` (put in eval mode by the caller).
        paths: the images, in the order of the rows.
        img_size: the crop (DINO: 224, from the shorter side resized to 256).
        batch_size: images per forward pass.
        global_repr: see :func:`~mmrats.models.utils.global_repr.resolve_global_repr`.
        progress: wraps the batches (a progress bar).
        num_workers: ``DataLoader`` processes that read and crop the images (0: this process).
        lastvit: the aggregation of ``global_repr='lastvit'`` (a DINO model's ``lastvit``).
        autocast_dtype: run the backbone under ``torch.autocast`` in this dtype (a bf16 run); None: float32.
    """
    name = resolve_global_repr(backbone, global_repr)
    device = next(backbone.parameters()).device
    loader = DataLoader(CentreViews(paths, img_size), batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=device.type == 'cuda')
    cast = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype is not None else nullcontext()
    out = []
    for x in progress(loader):
        with cast:
            f = global_vector(backbone.forward_features(x.to(device, non_blocking=True)), name, lastvit)
        out.append(f.float())
    if not out:  # no image (a rank whose share is empty)
        return torch.zeros(0, backbone.embed_dims, device=device)
    return torch.cat(out)


def shard(items: Sequence, rank: int, world_size: int) -> list:
    """This rank's share of ``items``: every ``world_size``-th from ``rank`` (``rank::world_size``)."""
    return list(items[rank::world_size])


def gather_in_order(local: Tensor, total: int, world_size: int) -> Tensor:
    """Every rank's :func:`shard` features ``(n_r, C)`` put back in the order of one process: ``(total, C)``.

    Rank ``r``'s ``j``-th row is item ``j * world_size + r``. Each rank pads its rows to ``ceil(total /
    world_size)`` (the collective needs equal shapes), mmengine's ``all_gather`` returns every rank's rows in
    rank order, and interleaving them row by row restores the items' order; the padding lands after ``total``
    and is cut.
    """
    rows = -(-total // world_size)
    padded = local.new_zeros((rows, *local.shape[1:]))
    padded[:len(local)] = local
    parts = dist.all_gather(padded)
    return torch.stack(parts, 1).flatten(0, 1)[:total]


def sharded_features(backbone: nn.Module, paths: Sequence[str | Path], **kwargs) -> Tensor:
    """:func:`folder_features` of all ``paths``, each rank computing its :func:`shard`; every rank gets all rows."""
    rank, world_size = dist.get_dist_info()
    if world_size == 1:
        return folder_features(backbone, paths, **kwargs)
    local = folder_features(backbone, shard(paths, rank, world_size), **kwargs)
    return gather_in_order(local, len(paths), world_size)
