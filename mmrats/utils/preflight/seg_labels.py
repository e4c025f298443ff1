"""The segmentation-layout class check: ``metainfo``, label files and label values.

A label PNG value the head has no class for fails in the loss (on a GPU as a
device-side assert), and an image without a label file or a dataset with no
images fails inside the dataloader. Here, for one mmseg dataset:

* ``metainfo``: classes, palette, and with a stock dataset type the subset rule
  of mmseg's ``label_map``;
* images without a label file, and an empty image list;
* label values outside ``[0, num_classes)`` that are not the ignore index
  (``reduce_zero_label`` applied as mmseg's ``LoadAnnotations`` does), on an
  evenly spaced sample of the label PNGs.
"""
from __future__ import annotations

import os
import os.path as osp
from collections.abc import Callable

import numpy as np

from .datasets import _classes, _default, _join
from .errors import ClassCheckError, short

SAMPLE = 32  # label PNGs read per segmentation dataset


def _list_files(folder: str, suffix: str) -> list[str]:
    """Paths under ``folder`` (recursively) ending in ``suffix``, sorted (as mmseg lists them)."""
    out = []
    for root, _, files in os.walk(folder):
        out += [osp.relpath(osp.join(root, f), folder) for f in files if f.endswith(suffix)]
    return sorted(out)


def _extensions(folder: str) -> str:
    counts: dict[str, int] = {}
    for _, _, files in os.walk(folder):
        for f in files:
            ext = osp.splitext(f)[1] or '(none)'
            counts[ext] = counts.get(ext, 0) + 1
    return ', '.join(f'{n} {e!r}' for e, n in sorted(counts.items(), key=lambda x: -x[1])[:4]) or 'no files'


def _label_map(key: str, ds: dict, cls, classes: tuple) -> dict[int, int] | None:
    """mmseg's ``label_map`` of dataset class ``cls`` for ``classes``, the one its data loading will apply.

    mmseg's own :meth:`BaseSegDataset.get_label_map` (a public classmethod) is called, not a copy: ``None``
    when ``classes`` equal the class's ``METAINFO`` classes (or it has none), else old index -> new index
    (255 for a class left out). Metainfo classes that differ from a stock type's must be a subset of them.

    Args:
        key: the dataset's config key, for the message.
        ds: the dataset config.
        cls: its registered class (a ``BaseSegDataset`` subclass).
        classes: the classes it will use (:func:`~.datasets._classes`).

    Raises:
        ClassCheckError: ``classes`` are not all classes of ``cls`` (mmseg raises a ``ValueError``).
    """
    try:
        return cls.get_label_map(classes)
    except ValueError as e:
        old = tuple((getattr(cls, 'METAINFO', None) or {}).get('classes') or ())
        odd = [c for c in classes if c not in set(old)]
        if not odd:  # a subclass's own get_label_map refused for another reason
            raise ClassCheckError(f'{key}: {cls.__name__}.get_label_map refuses metainfo.classes '
                                  f'{short(classes)}: {e}') from e
        raise ClassCheckError(
            f'{key}: metainfo.classes {short(classes)} are not all classes of {cls.__name__} {short(old)} (not '
            f'there: {short(odd)}), which mmseg refuses. For your own classes set {key}.type=\'BaseSegDataset\' '
            f'with metainfo=dict(classes=(...), palette=[...])') from None


def _transform(values: np.ndarray, reduce_zero_label: bool, label_map: dict | None) -> np.ndarray:
    """Label values as mmseg's ``LoadAnnotations`` turns them (uint8, reduce_zero_label, label_map).

    Our own copy of the arithmetic in ``LoadAnnotations._load_seg_map``: mmseg has no public function for
    it (that private method reads and decodes the whole PNG from ``results['seg_map_path']``), and here it
    runs on a label file's unique values only.

    Args:
        values: stored label values (``np.unique`` of a label PNG).
        reduce_zero_label: the dataset's ``reduce_zero_label``.
        label_map: :func:`_label_map` of the dataset, or ``None``.

    Returns:
        The class indices the loss sees, as ``int64``.
    """
    v = values.astype(np.uint8).astype(np.int64)
    if reduce_zero_label:
        v = np.where(v == 0, 255, v - 1)
        v = np.where(v == 254, 255, v)
    if label_map:
        v = np.array([label_map.get(int(x), int(x)) for x in v], dtype=np.int64)
    return v


def check_seg(cfg, key: str, ds: dict, cls, warn: Callable[[str], None], sample: int = SAMPLE) -> tuple | None:
    """Metainfo, label files and label values of one mmseg dataset; returns the classes it will use."""
    from PIL import Image
    classes = _classes(key, ds, cls)
    if classes is None:
        raise ClassCheckError(f"{key}: {cls.__name__} has no classes: set {key}.metainfo=dict(classes=(...), "
                              'palette=[...]) (one name and one RGB colour per class)')
    label_map = _label_map(key, ds, cls, classes)
    meta = ds.get('metainfo') or {}
    palette = meta.get('palette') if isinstance(meta, dict) else None
    if palette is not None and len(palette) != len(classes) and label_map is None:
        raise ClassCheckError(f'{key}.metainfo.palette has {len(palette)} colours for {len(classes)} classes: give '
                              'one RGB colour per class (or leave the palette out for random colours)')
    rzl = _default(cls, ds, 'reduce_zero_label', False)
    for i, t in enumerate(ds.get('pipeline') or []):
        if str(t.get('type', '')).endswith('LoadAnnotations') and t.get('reduce_zero_label') not in (None, rzl):
            raise ClassCheckError(
                f'{key}.pipeline[{i}] is LoadAnnotations(reduce_zero_label={t["reduce_zero_label"]}) but the dataset '
                f'has reduce_zero_label={rzl} (mmseg asserts they agree at the first label): set '
                f'{key}.reduce_zero_label and drop the argument from LoadAnnotations')
    root, prefix = ds.get('data_root') or '', ds.get('data_prefix') or {}
    img_dir, seg_dir = _join(root, prefix.get('img_path', '')), _join(root, prefix.get('seg_map_path', ''))
    img_suffix = _default(cls, ds, 'img_suffix', '.jpg')
    seg_suffix = _default(cls, ds, 'seg_map_suffix', '.png')
    if not img_dir or not osp.isdir(img_dir):
        return classes  # the data-root check names missing folders
    ann = _join(root, ds.get('ann_file') or '')
    if ann and osp.isfile(ann):
        with open(ann) as f:
            stems = [line.strip() for line in f if line.strip()]
        images = [s + img_suffix for s in stems]
        source = f'{key}.ann_file {ann!r}'
    else:
        images = _list_files(img_dir, img_suffix)
        stems = [i[:-len(img_suffix)] for i in images]
        source = f'{key}.img_suffix={img_suffix!r} in {img_dir!r} (it holds {_extensions(img_dir)})'
    if not images:
        raise ClassCheckError(f'{key}: the dataset is empty: no images match {source}; set {key}.img_suffix to '
                              "your images' extension")
    if not seg_dir or not osp.isdir(seg_dir):
        return classes
    labels = [osp.join(seg_dir, s + seg_suffix) for s in stems]
    lacking = [i for i, p in zip(images, labels) if not osp.isfile(p)]
    if lacking:
        raise ClassCheckError(
            f'{key}: {len(lacking)} of {len(images)} images have no label file, e.g. {lacking[0]!r} expects '
            f'{osp.join(seg_dir, stems[images.index(lacking[0])] + seg_suffix)!r} ({key}.seg_map_suffix='
            f'{seg_suffix!r}, {key}.data_prefix.seg_map_path={prefix.get("seg_map_path")!r})')
    num_classes = len(classes)
    ignore = _ignore_index(cfg)
    picks = sorted(set(np.linspace(0, len(labels) - 1, min(sample, len(labels))).round().astype(int).tolist()))
    bad: dict[int, list[str]] = {}
    seen: set[int] = set()
    for i in picks:
        with Image.open(labels[i]) as im:
            if im.mode not in ('L', 'P', '1', 'I', 'I;16', 'I;16B', 'I;16L'):
                raise ClassCheckError(
                    f'{key}: label {labels[i]!r} is a {im.mode} image: mmseg needs one channel of class indices '
                    '(mode L or P: the pixel value is the class), not colours; convert colour-coded masks first')
            raw = np.unique(np.asarray(im))
        mapped = _transform(raw, rzl, label_map)
        seen.update(mapped[raw <= 255].tolist())
        out = raw[(raw > 255) | ~np.isin(mapped, [*range(num_classes), ignore])]
        for v in out.tolist():
            bad.setdefault(int(v), []).append(osp.relpath(labels[i], seg_dir))
    if bad:
        files = sorted({f for fs in bad.values() for f in fs})
        rule = (f'reduce_zero_label=True: a stored value v is class v-1 and 0 becomes the ignore index, so the '
                f'valid stored values are 1..{num_classes}, 0 and 255' if rzl else
                f'reduce_zero_label=False: the valid values are 0..{num_classes - 1} and the ignore index {ignore}')
        raise ClassCheckError(
            f'{key}: label values {sorted(bad)} are outside the {num_classes} classes ({rule}) in {len(files)} of '
            f'{len(picks)} sampled label files, e.g. {short(files, 3)} under {seg_dir!r}. Fix the labels, or '
            f'{key}.metainfo.classes with model.decode_head.num_classes, or {key}.reduce_zero_label')
    used = sorted(seen - {ignore})
    if num_classes > 1 and ignore in seen and len(used) == 1:
        warn(f'{key}: the {len(picks)} sampled label files hold one class ({classes[used[0]]!r}) besides the ignore '
             f'index {ignore}: if {ignore} marks your objects (a 0/{ignore} mask), store them as class indices '
             f'(1 for {classes[1]!r}); the ignored pixels are not learned')
    return classes


def _ignore_index(cfg) -> int:
    head = (cfg.get('model') or {}).get('decode_head') or {}
    head = head[-1] if isinstance(head, (list, tuple)) else head
    return int(head.get('ignore_index', 255))
