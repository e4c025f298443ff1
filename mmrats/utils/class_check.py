"""Check that a config's classes, its head and its data agree, before the runner is built.

Fine-tuning on one's own data most often fails deep inside the dataloader: mmdet
keeps only the annotations whose category *name* is in ``metainfo.classes``,
drops every image left without one, and an empty dataset ends in
``ValueError: need at least one array to concatenate``; a head sized for
another dataset, or a label PNG value the head has no class for, fails in the
loss (on a GPU as a device-side assert). Here the annotation files are read
directly (never through mmdet/mmseg: a COCO json of hundreds of MB costs a
scan for its ids, not a full parse) and every problem is one line naming the
config keys to set:

* COCO layout: the file's category names vs ``metainfo.classes`` (none in
  common: an error; a partial overlap: a warning with the images and
  annotations that will be dropped); an empty dataset after mmdet's
  ``filter_cfg`` (``filter_empty_gt``, ``min_size``) names the filter.
* Segmentation layout: ``metainfo`` (classes, palette, and with a stock
  dataset type the subset rule of mmseg's ``label_map``), images without a label
  file, and label values outside ``[0, num_classes)`` that are not the ignore
  index (``reduce_zero_label`` applied as mmseg's ``LoadAnnotations`` does), on
  an evenly spaced sample of the label PNGs.
* The head: mmdet's ``panoptic_head.num_things_classes`` /
  ``num_stuff_classes`` (and ``panoptic_fusion_head``, ``loss_cls.class_weight``,
  ``test_cfg.max_per_image`` against ``num_queries`` x classes), mmseg's
  ``decode_head.num_classes`` (and ``auxiliary_head``, ``loss_cls.class_weight``),
  vs the number of classes the dataset will use.
"""
from __future__ import annotations

import functools
import inspect
import json
import os
import os.path as osp
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .data_check import SPLITS, PreflightError, _datasets

SAMPLE = 32  # label PNGs read per segmentation dataset


class ClassCheckError(PreflightError, ValueError):
    """The config's classes, its head and its data do not agree."""


def warn_stderr(msg: str) -> None:
    """The default ``warn``: one ``warning:`` line on stderr."""
    print(f'warning: {msg}', file=sys.stderr)


def short(names: Sequence, n: int = 5) -> str:
    """``('a', 'b', ... 75 more)``: a list shortened for a one-line message."""
    names = list(names)
    head = ', '.join(repr(x) for x in names[:n])
    if len(names) > n:
        return f'({head}, ... {len(names) - n} more)'
    return f'({head},)' if len(names) == 1 else f'({head})'


# ----------------------------------------------------------------------------- the dataset classes

def _dataset_class(ds: dict, scope: str | None):
    """The registered class of dataset config ``ds`` (``None`` if it cannot be imported)."""
    from mmengine.registry import DATASETS
    try:
        with DATASETS.switch_scope_and_registry(scope) as registry:
            return registry.get(ds.get('type'))
    except Exception:  # noqa: BLE001  (an unknown type is the runner's error to report)
        return None


def _is_subclass(cls, module: str, name: str) -> bool:
    try:
        base = getattr(__import__(module, fromlist=[name]), name)
    except ImportError:
        return False
    return isinstance(cls, type) and issubclass(cls, base)


def _default(cls, ds: dict, arg: str, fallback=None):
    """``ds[arg]``, else the default of ``arg`` in ``cls.__init__`` (its own or a base class's)."""
    if arg in ds:
        return ds[arg]
    for klass in cls.__mro__:
        p = inspect.signature(klass.__init__).parameters.get(arg) if '__init__' in vars(klass) else None
        if p is not None and p.default is not inspect.Parameter.empty:
            return p.default
    return fallback


def _classes(key: str, ds: dict, cls) -> tuple | None:
    """``metainfo.classes`` of the dataset config, else the dataset class's ``METAINFO`` classes."""
    meta = ds.get('metainfo') or {}
    classes = meta.get('classes') if isinstance(meta, dict) else None
    if isinstance(classes, str):
        raise ClassCheckError(f"{key}.metainfo.classes is the string {classes!r}, not a tuple of names: write "
                              f"classes=({classes!r},) (with the comma)")
    if classes is None:
        classes = (getattr(cls, 'METAINFO', None) or {}).get('classes')
    return tuple(classes) if classes is not None else None


def _join(root: str, path: str) -> str:
    return path if not root or not path or osp.isabs(path) else osp.join(root, path)


# ----------------------------------------------------------------------------- COCO layout

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


# ----------------------------------------------------------------------------- segmentation layout

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
    """mmseg's ``label_map``: metainfo.classes that differ from a stock type's must be a subset of them."""
    old = (getattr(cls, 'METAINFO', None) or {}).get('classes')
    if old is None or list(old) == list(classes):
        return None
    if not set(classes) <= set(old):
        odd = [c for c in classes if c not in set(old)]
        raise ClassCheckError(
            f'{key}: metainfo.classes {short(classes)} are not all classes of {cls.__name__} {short(old)} (not '
            f'there: {short(odd)}), which mmseg refuses. For your own classes set {key}.type=\'BaseSegDataset\' '
            f'with metainfo=dict(classes=(...), palette=[...])')
    return {i: (classes.index(c) if c in classes else 255) for i, c in enumerate(old)}


def _transform(values: np.ndarray, reduce_zero_label: bool, label_map: dict | None) -> np.ndarray:
    """Label values as mmseg's ``LoadAnnotations`` turns them (uint8, reduce_zero_label, label_map)."""
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


# ----------------------------------------------------------------------------- the heads

def _class_weight_error(key: str, head: dict, n: int) -> str | None:
    w = (head.get('loss_cls') or {}).get('class_weight')
    if isinstance(w, (list, tuple)) and len(w) != n + 1:
        return (f'{key}.loss_cls.class_weight has {len(w)} entries, Mask2Former needs num_classes + 1 = {n + 1} '
                f'(the last is the no-object weight): set it to [1.0] * {n} + [0.1]')
    return None


def check_det_head(cfg, key: str, classes: tuple, ds: dict) -> None:
    """mmdet: the head's class counts (and Mask2Former's class weights and top-k) vs the dataset's classes."""
    model = cfg.get('model') or {}
    meta = ds.get('metainfo') or {}
    things = len(meta.get('thing_classes') or classes) if 'stuff_classes' in meta else len(classes)
    stuff = len(meta.get('stuff_classes') or ()) if 'stuff_classes' in meta else 0
    head = model.get('panoptic_head')
    if isinstance(head, dict) and 'num_things_classes' in head:
        for name in ('panoptic_head', 'panoptic_fusion_head'):
            h = model.get(name) or {}
            got = (h.get('num_things_classes'), h.get('num_stuff_classes'))
            if None not in got and got != (things, stuff):
                raise ClassCheckError(
                    f'model.{name} has num_things_classes={got[0]}, num_stuff_classes={got[1]}, but {key} has '
                    f'{len(classes)} classes {short(classes)}: set model.panoptic_head and model.panoptic_fusion_head '
                    f'to num_things_classes={things}, num_stuff_classes={stuff} (and panoptic_head.loss_cls.'
                    f'class_weight=[1.0] * {things + stuff} + [0.1])')
        err = _class_weight_error('model.panoptic_head', head, things + stuff)
        if err:
            raise ClassCheckError(err)
        test_cfg = model.get('test_cfg') or {}
        k, q = test_cfg.get('max_per_image'), head.get('num_queries')
        if test_cfg.get('instance_on', False) and k and q and k > q * (things + stuff):
            raise ClassCheckError(
                f'model.test_cfg.max_per_image={k} is more than num_queries x classes = {q} x {things + stuff} = '
                f'{q * (things + stuff)} (mmdet takes the top max_per_image of those scores and would fail at the '
                f'first validation): set model.test_cfg.max_per_image={q * (things + stuff)} or lower')
        return
    for hk, h in _det_class_heads(model):
        if h['num_classes'] != len(classes):
            raise ClassCheckError(f'{hk}.num_classes={h["num_classes"]} but {key} has {len(classes)} classes '
                                  f'{short(classes)}: set {hk}.num_classes={len(classes)}')


def _det_class_heads(model: dict):
    for name in ('bbox_head', 'roi_head.bbox_head', 'roi_head.mask_head'):
        node = model
        for part in name.split('.'):
            node = node.get(part) if isinstance(node, dict) else None
        for i, h in enumerate(node if isinstance(node, (list, tuple)) else [node]):
            if isinstance(h, dict) and isinstance(h.get('num_classes'), int):
                yield f'model.{name}' + (f'[{i}]' if isinstance(node, (list, tuple)) else ''), h


def check_seg_head(cfg, key: str, classes: tuple) -> None:
    """mmseg: ``decode_head`` / ``auxiliary_head`` ``num_classes`` (and class weights) vs the dataset's classes."""
    model = cfg.get('model') or {}
    n = len(classes)
    for name in ('decode_head', 'auxiliary_head'):
        node = model.get(name)
        for i, h in enumerate(node if isinstance(node, (list, tuple)) else [node]):
            if not isinstance(h, dict) or not isinstance(h.get('num_classes'), int):
                continue
            hk = f'model.{name}' + (f'[{i}]' if isinstance(node, (list, tuple)) else '')
            if h['num_classes'] != n:
                raise ClassCheckError(
                    f'{hk}.num_classes={h["num_classes"]} but {key} has {n} classes {short(classes)}: set '
                    f'{hk}.num_classes={n}' + (f' and {hk}.loss_cls.class_weight=[1.0] * {n} + [0.1]'
                                               if 'Mask2Former' in str(h.get('type')) else ''))
            if 'Mask2Former' in str(h.get('type')):
                err = _class_weight_error(hk, h, n)
                if err:
                    raise ClassCheckError(err)


# ----------------------------------------------------------------------------- entry

def check_classes(cfg, splits: Sequence[str] = SPLITS, warn: Callable[[str], None] = warn_stderr,
                  sample: int = SAMPLE) -> None:
    """Run the class checks (module doc) on the datasets of ``splits``.

    Args:
        cfg: an mmengine ``Config`` whose data roots were checked
            (:func:`mmrats.utils.data_check.check_data_roots`).
        splits: the dataloaders to check.
        warn: called with each warning line (partial class overlap).
        sample: label PNGs read per segmentation dataset.

    Raises:
        ClassCheckError: the first problem, as one line.
    """
    scope = cfg.get('default_scope')
    for key, ds in _datasets(cfg, splits):
        cls = _dataset_class(ds, scope)
        if cls is None:
            continue
        if _is_subclass(cls, 'mmdet.datasets', 'CocoDataset') or _is_subclass(
                cls, 'mmdet.datasets', 'CocoPanopticDataset'):
            classes = check_coco(cfg, key, ds, cls, warn)
            if classes is not None:
                check_det_head(cfg, key, classes, ds)
        elif _is_subclass(cls, 'mmseg.datasets', 'BaseSegDataset'):
            classes = check_seg(cfg, key, ds, cls, warn, sample)
            check_seg_head(cfg, key, classes)
