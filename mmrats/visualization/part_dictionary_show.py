"""The pictures of a labelled part dictionary on a split, written as PNG files (paper Fig. 10, Fig. 11, Fig. 4).

:func:`save_dictionary_pictures` is the ``show`` subcommand of
``tools/analysis/part_dictionary.py``: it chooses what to draw (the label
prototypes, the purest part entries, the first images), runs the backbone on
those images for their attention, and draws them with
:mod:`~mmrats.visualization.part_dictionary_pictures`.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from mmrats.evaluation.dictionary import (BACKGROUND, LabelledSplit, PartDictionary, RegisterRecords, batch_records,
                                          default_name, nearest_entry, part_heatmaps)
from mmrats.utils.images import normalize
from .part_dictionary_pictures import (cosine_matrix, draw_entry_overlays, draw_part_heatmaps,
                                       draw_prototype_similarity, label_prototypes)


@torch.no_grad()
def split_attention(backbone: nn.Module, split: LabelledSplit, indices: list[int],
                    device: str = 'cpu') -> tuple[np.ndarray, np.ndarray, Tensor, tuple[int, int]]:
    """Images, label maps, register attention ``(B, R, h * w)`` and the grid ``(h, w)`` of ``indices``."""
    images, labels = split.load(indices)
    _, attn, hw = batch_records(backbone, normalize(images).to(device), torch.from_numpy(labels), split.num_labels)
    return images, labels, attn, hw


def entry_overlay_rows(backbone: nn.Module, d: PartDictionary, split: LabelledSplit, records: RegisterRecords,
                       device: str = 'cpu', max_entries: int = 6) -> list[dict]:
    """Fig. 11 rows: the purest part entries (>= 3 registers), each in 3 images of different categories of
    one super-category where a register of the entry attends to the entry's part.

    Returns:
        Rows for :func:`draw_entry_overlays`: ``name``, ``images``, ``maps`` (the entry's registers'
        attention), ``masks`` (the entry's part) and ``captions``.
    """
    entry = nearest_entry(records.features, d.entries)
    label_of, names = d.names.label, split.label_names
    part_entries = [int(k) for k in torch.argsort(-d.names.purity * (d.names.count >= 3)) if label_of[k] > 0]
    rows = []
    for k in part_entries:
        imgs = records.image[(entry == k) & (records.part == label_of[k])].unique().numpy()  # fires on its part
        best = {}
        for i in imgs:
            sup = int(split.supercategory[i])
            best.setdefault(sup, {}).setdefault(int(split.category[i]), int(i))
        sup, cats = max(best.items(), key=lambda kv: len(kv[1]), default=(None, {}))
        if len(cats) < min(3, len(set(split.category[split.supercategory == sup])) if sup is not None else 3):
            continue
        chosen = list(cats.values())[:3]
        images, labs, attn, hw = split_attention(backbone, split, chosen, device)
        maps, masks, caps = [], [], []
        for j, i in enumerate(chosen):
            regs = records.register[(records.image == i) & (entry == k)]
            maps.append(attn[j, regs].amax(0).view(*hw).cpu().numpy())
            masks.append(labs[j] == int(label_of[k]))
            caps.append(f'{split.category_names[split.category[i]]} #{i}')
        rows.append(dict(name=f'entry {k}: {names[int(label_of[k])]} (purity {100 * float(d.names.purity[k]):.0f}%)',
                         images=list(images), maps=maps, masks=masks, captions=caps))
        if len(rows) >= max_entries:
            break
    return rows


def save_dictionary_pictures(backbone: nn.Module, d: PartDictionary, split: LabelledSplit,
                             records: RegisterRecords, show_dir: str | os.PathLike, device: str = 'cpu',
                             show_num: int = 4, entries: int = 6, title: str | None = None) -> list[str]:
    """Fig. 10 (``prototype_similarity.png``), Fig. 11 (``entry_overlays.png``) and the named part heatmaps
    of the first ``show_num`` images (``heatmaps_0000.png``, ...) of a labelled dictionary on ``split``.

    Args:
        backbone: the backbone the dictionary was built with.
        d: a labelled dictionary.
        split, records: the split and its register records (:func:`~mmrats.evaluation.dictionary.collect_records`).
        show_dir: the folder (created).
        device: where the backbone is.
        show_num: images with part heatmaps.
        entries: entries in the Fig.-11 overlays.
        title: of every picture; default ``'kmeans (K = 40)'``.

    Returns:
        The names of the files written (a picture without content is skipped).
    """
    if d.names is None:
        raise ValueError('the dictionary is not labelled yet: label it before drawing its pictures')
    show_dir = Path(show_dir)
    show_dir.mkdir(parents=True, exist_ok=True)
    names, written = split.label_names, []
    title = title or default_name(d)
    labels, protos = label_prototypes(d.entries.numpy(), d.names.label.numpy(), skip=(BACKGROUND,))
    if len(labels) >= 2:
        img = draw_prototype_similarity(cosine_matrix(protos), [names[p] for p in labels],
                                        f'{title}: cosine similarity of label prototypes')
        Image.fromarray(img).save(show_dir / 'prototype_similarity.png')
        written.append('prototype_similarity.png')
    rows = entry_overlay_rows(backbone, d, split, records, device, entries)
    if rows:
        Image.fromarray(draw_entry_overlays(rows, f'{title}: entries across one super-category')).save(
            show_dir / 'entry_overlays.png')
        written.append('entry_overlays.png')
    n = min(show_num, len(split))
    if n:
        entry = nearest_entry(records.features, d.entries)
        images, labs, attn, hw = split_attention(backbone, split, list(range(n)), device)
        for i in range(n):
            heat = part_heatmaps(entry[records.image == i], attn[i].view(-1, *hw).cpu(), d.names.label,
                                 skip=(BACKGROUND,))
            img = draw_part_heatmaps(images[i], heat.maps.numpy(), [names[p] for p in heat.parts],
                                     f'{title}: {split.category_names[split.category[i]]} #{i}', gt=labs[i])
            Image.fromarray(img).save(show_dir / f'heatmaps_{i:04d}.png')
            written.append(f'heatmaps_{i:04d}.png')
    return written
