"""The COCO-layout class check: a COCO json's categories vs ``metainfo.classes``.

mmdet keeps only the annotations whose category *name* is in
``metainfo.classes``, drops every image left without one, and an empty dataset
ends deep in the dataloader in ``ValueError: need at least one array to
concatenate``. Here the annotation file is read directly (never through mmdet:
a COCO json of hundreds of MB costs a scan for its ids, not a full parse):

* the file's category names vs ``metainfo.classes``: none in common is an
  error; a partial overlap a warning with the images and annotations that will
  be dropped;
* an empty dataset after mmdet's ``filter_cfg`` (``filter_empty_gt``,
  ``min_size``) names the filter.
"""
from __future__ import annotations

import functools
import json
import os
import os.path as osp
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .datasets import SPLITS, _classes, _datasets, _join
from .errors import ClassCheckError, short


@dataclass
class CocoSummary:
    """What the class check needs of a COCO json: category names, image sizes, annotation ids."""
    categories: dict[int, str]
    images: dict[int, tuple[int, int]]  # id -> (width, height)
    ann_image: np.ndarray  # image id of every annotation (panoptic: of every segment)
    ann_category: np.ndarray  # its category id


_IDS = re.compile(r'"(image_id|category_id)"\s*:\s*(-?\d+)')


def _top_array(text: str, name: str, decoder: json.JSONDecoder) -> tuple[list, tuple[int, int]] | None:
    m = re.search(r'"%s"\s*:\s*\[' % name, text)
    if m is None:
        return None
    value, end = decoder.raw_decode(text, m.end() - 1)
    return value, (m.start(), end)


def _scan_coco(text: str) -> CocoSummary | None:
    """The fast path: decode ``categories`` and ``images`` only, regex-scan the annotation ids.

    Returns ``None`` (use a full parse) unless every annotation shows exactly one
    ``image_id`` and one ``category_id`` (COCO instances; not the panoptic layout).
    """
    dec = json.JSONDecoder()
    cats, imgs = _top_array(text, 'categories', dec), _top_array(text, 'images', dec)
    if cats is None or imgs is None:
        return None
    (cat_list, cat_span), (img_list, img_span) = cats, imgs
    if not all(isinstance(c, dict) and 'id' in c and 'name' in c for c in cat_list) or \
            not all(isinstance(i, dict) and 'id' in i for i in img_list):
        return None
    start = text.find('"annotations"')
    # the ids outside the two decoded arrays (findall over slices: no match objects to keep)
    cuts = sorted([cat_span, img_span])
    pieces, pos = [], max(start, 0)
    for a, b in cuts:
        if b > pos:
            pieces.append(text[pos:max(a, pos)])
            pos = b
    pieces.append(text[pos:])
    tokens = [t for piece in pieces for t in _IDS.findall(piece)]
    if start < 0 and tokens or len(tokens) % 2:
        return None
    names = [t[0] for t in tokens]
    if any({a, b} != {'image_id', 'category_id'} for a, b in zip(names[::2], names[1::2])):
        return None
    values = np.array([int(t[1]) for t in tokens], dtype=np.int64).reshape(-1, 2)
    img_first = np.array([n == 'image_id' for n in names[::2]], dtype=bool)
    ann_image = np.where(img_first, values[:, 0], values[:, 1]) if len(values) else np.zeros(0, np.int64)
    ann_cat = np.where(img_first, values[:, 1], values[:, 0]) if len(values) else np.zeros(0, np.int64)
    return CocoSummary({int(c['id']): str(c['name']) for c in cat_list},
                       {int(i['id']): (int(i.get('width', 0)), int(i.get('height', 0))) for i in img_list},
                       ann_image, ann_cat)


def _parse_coco(text: str) -> CocoSummary:
    """The full parse (the panoptic layout, or a file the scan does not recognise)."""
    data = json.loads(text)
    pairs = []
    for a in data.get('annotations') or []:
        if 'segments_info' in a:  # panoptic: one entry per image, a category per segment
            pairs += [(a['image_id'], s['category_id']) for s in a['segments_info']]
        else:
            pairs.append((a['image_id'], a['category_id']))
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return CocoSummary({int(c['id']): str(c['name']) for c in data.get('categories') or []},
                       {int(i['id']): (int(i.get('width', 0)), int(i.get('height', 0)))
                        for i in data.get('images') or []}, arr[:, 0], arr[:, 1])


@functools.lru_cache(maxsize=8)
def _coco_summary_cached(path: str, mtime: float, size: int) -> CocoSummary:
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        summary = _scan_coco(text)
    except ValueError:  # malformed at the scanned arrays: let the full parse say where
        summary = None
    return summary if summary is not None else _parse_coco(text)


def coco_summary(path: str) -> CocoSummary:
    """Categories, image sizes and annotation (image id, category id) pairs of a COCO json (cached)."""
    st = os.stat(path)
    return _coco_summary_cached(osp.abspath(path), st.st_mtime, st.st_size)


def _metainfo_keys(cfg, kind: Callable[[dict], bool]) -> str:
    keys = [f'{k}.metainfo' for k, ds in _datasets(cfg, SPLITS) if kind(ds)]
    return ', '.join(dict.fromkeys(keys))


def check_coco(cfg, key: str, ds: dict, cls, warn: Callable[[str], None]) -> tuple | None:
    """Class and filter checks of one COCO-layout dataset; returns the classes it will use."""
    ann = _join(ds.get('data_root') or '', ds.get('ann_file') or '')
    classes = _classes(key, ds, cls)
    if not ann or not osp.isfile(ann) or classes is None:
        return classes
    try:
        s = coco_summary(ann)
    except (ValueError, KeyError, TypeError) as e:
        raise ClassCheckError(f'{key}.ann_file {ann!r} is not a COCO annotation file ({type(e).__name__}: {e})')
    names = list(s.categories.values())
    kept_ids = [i for i, n in s.categories.items() if n in set(classes)]
    train_filter = None if ds.get('test_mode', False) else ds.get('filter_cfg')
    head = _det_head_hint(cfg)
    if not kept_ids and names:
        drop = f'all {len(s.ann_category):,} annotations' + (
            f' and all {len(s.images):,} images' if train_filter and train_filter.get('filter_empty_gt') else '')
        keys = _metainfo_keys(cfg, lambda d: 'ann_file' in d)
        raise ClassCheckError(
            f'{key}: none of the {len(classes)} metainfo.classes {short(classes)} is a category of {ann} '
            f'({len(names)} categories {short(names)}), so mmdet would drop {drop}. Set metainfo=dict(classes=(...)) '
            f'to your category names in {keys}, and the head to that many classes ({head})')
    kept = np.isin(s.ann_category, kept_ids)
    with_ann = set(s.ann_image.tolist())
    with_kept = set(s.ann_image[kept].tolist())
    missing = [c for c in classes if c not in set(names)]
    dropped_names = [n for n in names if n not in set(classes)]
    if dropped_names or missing:
        parts = []
        if dropped_names:
            n_ann = int((~kept).sum())
            lost = [i for i in s.images if i in with_ann and i not in with_kept]
            imgs = (f'{len(lost):,} of {len(s.images):,} images (left without annotations; '
                    f'{key}.filter_cfg.filter_empty_gt=True)' if train_filter and train_filter.get('filter_empty_gt')
                    else '0 images (this dataset does not filter images)')
            parts.append(f'{len(dropped_names)} of the {len(names)} categories of {ann} are not in metainfo.classes '
                         f'{short(dropped_names)}: {n_ann:,} of {len(s.ann_category):,} annotations will be dropped, '
                         f'and {imgs}')
        if missing:
            parts.append(f'{len(missing)} of metainfo.classes have no category in the file {short(missing)} '
                         '(the head learns them from no example)')
        warn(f'{key}: ' + '; '.join(parts))
    if not s.images:
        raise ClassCheckError(f'{key}: {ann} lists no images: the dataset would be empty')
    if train_filter:
        left = list(s.images)
        if train_filter.get('filter_empty_gt', False):
            left = [i for i in left if i in with_kept]
            if not left:
                raise ClassCheckError(
                    f'{key}.filter_cfg.filter_empty_gt=True drops all {len(s.images):,} images of {ann}: none has an '
                    f'annotation of metainfo.classes ({int(kept.sum()):,} such annotations in the file). Annotate '
                    f'the images, or set {key}.filter_cfg.filter_empty_gt=False')
        min_size = train_filter.get('min_size', 0) or 0
        if min_size and not any(min(s.images[i]) >= min_size for i in left):
            largest = max(min(s.images[i]) for i in left)
            raise ClassCheckError(
                f'{key}.filter_cfg.min_size={min_size} drops all {len(left):,} remaining images of {ann} (the '
                f'largest has a {largest}-pixel short side, by its width/height in the json): set '
                f'{key}.filter_cfg.min_size={largest} or lower')
    return classes


def _det_head_hint(cfg) -> str:
    model = cfg.get('model') or {}
    if 'panoptic_head' in model:
        return ('model.panoptic_head.num_things_classes, num_stuff_classes=0, loss_cls.class_weight=[1.0] * N + '
                '[0.1], and model.panoptic_fusion_head.num_things_classes, num_stuff_classes')
    return 'its num_classes'
