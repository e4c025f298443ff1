"""Readers of the part-discovery benchmarks (paper §4.1, Appendix E): (image path, label map) pairs.

Each reader lists its files on construction and raises :class:`PartDatasetError`
(naming the path it looked at and the layout it expects) when the root is
missing or malformed; ``reader[i]`` returns a :class:`PartSample` whose
``label`` is an ``(H, W)`` int64 map of region ids at the image's own size,
with pixels to ignore set to :data:`~mmrats.evaluation.part_metrics.IGNORE_INDEX`
(-1). Region ids only need to be distinct within an image (the metrics are
label-permutation invariant).

* :class:`ADE20KParts`: mmseg's ADE20K layout; label 0 ("other", unlabelled)
  is ignored, as in mmseg's ``reduce_zero_label``.
* :class:`SyntheticScenesParts`: the embedded synthetic scenes
  (:mod:`mmrats.datasets.synthetic_scenes`), same layout and convention.
* :class:`PartImageNetParts`: PartImageNet's COCO-style json; pixels covered
  by no part are background, one more region **[choice]**.
* :class:`ImageNetSParts`: ImageNet-S919 PNG masks, id ``R + 256 G``;
  1000 ("ignored part") is ignored, 0 (background / other category) is a region.
* :class:`FolderParts`: a folder of images with one label PNG per image
  (e.g. SAM-generated masks for COCO or ImageNet, the paper's proxy ground
  truth); a configurable value is ignored.
"""
import json
import os.path as osp
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IGNORE_INDEX = -1  # == mmrats.evaluation.part_metrics.IGNORE_INDEX
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')


class PartDatasetError(FileNotFoundError):
    """A part-segmentation dataset root is missing or does not have the expected layout."""


@dataclass
class PartSample:
    """One evaluation image: its path and its ``(H, W)`` int64 label map (-1 = ignore)."""

    image_path: str
    label: np.ndarray


def _images_in(folder: Path, recursive: bool = False) -> list[Path]:
    files = folder.rglob('*') if recursive else folder.iterdir()
    return sorted(p for p in files if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_label_png(path: str | Path, rgb_ids: bool = False) -> np.ndarray:
    """A label PNG as int64: single channel as is; RGB as ``R + 256 G + 65536 B`` if ``rgb_ids``."""
    arr = np.asarray(Image.open(path))
    if arr.ndim == 3:
        if not rgb_ids:
            raise PartDatasetError(f'label map {path} has {arr.shape[2]} channels; expected a single-channel '
                                   'PNG of region ids (or pass rgb_ids=True to read R + 256 G + 65536 B)')
        arr = arr[..., :3].astype(np.int64)
        return arr[..., 0] + 256 * arr[..., 1] + 65536 * arr[..., 2]
    return arr.astype(np.int64)


class PartDataset:
    """Base reader: ``self.items`` is a list of ``(image path, annotation ref)``; subclasses load labels."""

    name = 'dataset'
    layout = ''

    def __init__(self, root: str) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            self._fail(f'data root {str(self.root)!r} does not exist')
        self.items: list[tuple[str, object]] = []

    def _fail(self, what: str) -> None:
        raise PartDatasetError(f'{type(self).__name__}: {what}. Expected: {self.layout}')

    def _require_dir(self, path: Path) -> Path:
        if not path.is_dir():
            self._fail(f'folder {str(path)!r} does not exist')
        return path

    def _pair_by_stem(self, img_dir: Path, ann_dir: Path, ann_suffix: str = '.png',
                      recursive: bool = False) -> list[tuple[str, object]]:
        """Images of ``img_dir`` with their ``ann_dir/<relative stem><ann_suffix>``; all must exist."""
        images = _images_in(img_dir, recursive)
        if not images:
            self._fail(f'no images ({"/".join(IMAGE_SUFFIXES)}) in {str(img_dir)!r}')
        items, missing = [], []
        for img in images:
            ann = (ann_dir / img.relative_to(img_dir)).with_suffix(ann_suffix)
            (items if ann.is_file() else missing).append((str(img), ann))
        if missing:
            self._fail(f'{len(missing)} of {len(images)} images have no label map, e.g. '
                       f'{str(missing[0][1])!r} for {missing[0][0]!r}')
        return items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> PartSample:
        path, ref = self.items[i]
        return PartSample(path, self.load_label(ref))

    def load_label(self, ref) -> np.ndarray:
        raise NotImplementedError


class ADE20KParts(PartDataset):
    """ADE20K (mmseg layout): ``root/images/<split>/*.jpg`` + ``root/annotations/<split>/*.png``.

    ``root`` may also be the folder holding ``ADEChallengeData2016``. Label 0
    is ignored; labels 1..150 are the regions.

    Args:
        root: the ``ADEChallengeData2016`` folder (or its parent).
        split: ``'validation'`` (the paper's 2,000 images) or ``'training'``.
    """

    name = 'ADE20K'
    layout = ('<root>/images/<split>/*.jpg and <root>/annotations/<split>/*.png (uint8, 0 = unlabelled), '
              'root being ADEChallengeData2016 (mmseg layout)')

    def __init__(self, root: str, split: str = 'validation') -> None:
        super().__init__(root)
        if not (self.root / 'images').is_dir() and (self.root / 'ADEChallengeData2016').is_dir():
            self.root = self.root / 'ADEChallengeData2016'
        img_dir = self._require_dir(self.root / 'images' / split)
        ann_dir = self._require_dir(self.root / 'annotations' / split)
        self.items = self._pair_by_stem(img_dir, ann_dir)

    def load_label(self, ref) -> np.ndarray:
        label = read_label_png(ref)
        label[label == 0] = IGNORE_INDEX
        return label


class SyntheticScenesParts(ADE20KParts):
    """The embedded synthetic scenes (:func:`~mmrats.datasets.synthetic_scenes.write_dataset`).

    Args:
        root: the dataset folder (holding ``ade/``) or its ``ade`` folder.
        split: ``'validation'`` or ``'training'``.
    """

    name = 'synthetic'
    layout = ('<root>/ade/images/<split>/*.jpg and <root>/ade/annotations/<split>/*.png, written by '
              'python tools/dataset_converters/make_synthetic_scenes.py --out <root>')

    def __init__(self, root: str, split: str = 'validation') -> None:
        ade = Path(root) / 'ade'
        super().__init__(str(ade) if ade.is_dir() else root, split)


class PartImageNetParts(PartDataset):
    """PartImageNet (He et al. 2022) from its COCO-style json.

    Every part annotation (polygons or RLE) is rasterised with its category id
    (later annotations drawn over earlier ones); pixels without a part are the
    background region **[choice]**.

    Args:
        root: the PartImageNet folder.
        split: ``'test'`` (the paper's), ``'val'`` or ``'train'``.
        ann_file: the json, if not at one of the standard places.
        img_dir: the image folder, if not at one of the standard places.
    """

    name = 'PartImageNet'
    layout = ('<root>/annotations/<split>.json (or <root>/annotations/<split>/<split>.json, <root>/<split>.json; '
              'COCO format: images, annotations with polygon/RLE segmentation, categories) and the images under '
              '<root>/images/<split>/ or <root>/<split>/ (optionally in <wnid>/ subfolders)')

    def __init__(self, root: str, split: str = 'test', ann_file: str | None = None,
                 img_dir: str | None = None) -> None:
        super().__init__(root)
        r = self.root
        ann_cands = [Path(ann_file)] if ann_file else [r / 'annotations' / f'{split}.json',
                                                       r / 'annotations' / split / f'{split}.json',
                                                       r / f'{split}.json']
        ann = next((p for p in ann_cands if p.is_file()), None)
        if ann is None:
            self._fail(f'no annotation json at {[str(p) for p in ann_cands]}')
        img_cands = [Path(img_dir)] if img_dir else [r / 'images' / split, r / split]
        folder = next((p for p in img_cands if p.is_dir()), None)
        if folder is None:
            self._fail(f'no image folder at {[str(p) for p in img_cands]}')
        try:
            coco = json.loads(ann.read_text())
            images, anns = coco['images'], coco['annotations']
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            self._fail(f'{str(ann)!r} is not a COCO json with "images" and "annotations" ({e})')
        self.ann_file = str(ann)
        per_image: dict[int, list[dict]] = {img['id']: [] for img in images}
        for a in anns:
            per_image.setdefault(a['image_id'], []).append(a)
        cat_ids = sorted({c['id'] for c in coco.get('categories', [])} | {a['category_id'] for a in anns})
        self.category_label = {c: i + 1 for i, c in enumerate(cat_ids)}  # 0 = background
        for img in images:
            name = img['file_name']
            path = folder / name
            if not path.is_file():
                path = folder / name.split('_')[0] / name  # ImageNet-style <wnid>/<wnid>_<n>.JPEG
            if not path.is_file():
                self._fail(f'image {name!r} of {str(ann)!r} is neither at {str(folder / name)!r} nor at {str(path)!r}')
            self.items.append((str(path), (int(img['height']), int(img['width']), per_image[img['id']])))

    def load_label(self, ref) -> np.ndarray:
        from pycocotools import mask as mask_util

        h, w, anns = ref
        label = np.zeros((h, w), np.int64)
        for a in anns:
            seg = a.get('segmentation')
            if not seg:
                continue
            if isinstance(seg, list):  # polygons
                rle = mask_util.merge(mask_util.frPyObjects(seg, h, w))
            elif isinstance(seg.get('counts'), list):  # uncompressed RLE
                rle = mask_util.frPyObjects(seg, h, w)
            else:
                rle = seg
            label[mask_util.decode(rle).astype(bool)] = self.category_label[a['category_id']]
        return label


class ImageNetSParts(PartDataset):
    """ImageNet-S919 (Gao et al. 2022): ``root/<split>/<wnid>/*.JPEG`` + ``root/<split>-segmentation/<wnid>/*.png``.

    Class id ``R + 256 G`` of the RGB mask; 1000 ("ignored part") is ignored,
    0 (background / other category) is a region.

    Args:
        root: the ``ImageNetS919`` folder.
        split: ``'validation'`` (the paper's) or ``'train-semi'``.
    """

    name = 'ImageNet-S919'
    layout = ('<root>/<split>/<wnid>/*.JPEG and <root>/<split>-segmentation/<wnid>/*.png (RGB, id = R + 256 G, '
              '1000 = ignored), root being ImageNetS919 (LUSSeg layout)')
    IGNORED = 1000

    def __init__(self, root: str, split: str = 'validation') -> None:
        super().__init__(root)
        img_dir = self._require_dir(self.root / split)
        ann_dir = self._require_dir(self.root / f'{split}-segmentation')
        self.items = self._pair_by_stem(img_dir, ann_dir, recursive=True)

    def load_label(self, ref) -> np.ndarray:
        arr = np.asarray(Image.open(ref).convert('RGB')).astype(np.int64)
        label = arr[..., 0] + 256 * arr[..., 1]
        label[label == self.IGNORED] = IGNORE_INDEX
        return label


class FolderParts(PartDataset):
    """A folder of images with one label PNG per image (e.g. SAM masks as proxy ground truth).

    ``root/<img_dir>/<name>.<jpg|png|...>`` and ``root/<mask_dir>/<name>.png``
    (sub-folders mirrored). A single-channel PNG (8 or 16 bit) holds region
    ids; an RGB PNG is read as ``R + 256 G + 65536 B`` (one colour per region).

    Args:
        root: the folder.
        img_dir: image sub-folder.
        mask_dir: label sub-folder.
        ignore_value: stored id to ignore (None: none).
    """

    name = 'folder'
    layout = ('<root>/images/<name>.jpg (any of ' + '/'.join(IMAGE_SUFFIXES) + ') and <root>/masks/<name>.png '
              '(one label PNG per image: single-channel region ids, or RGB with one colour per region)')

    def __init__(self, root: str, img_dir: str = 'images', mask_dir: str = 'masks',
                 ignore_value: int | None = 255) -> None:
        super().__init__(root)
        self.layout = self.layout.replace('/images/', f'/{img_dir}/').replace('/masks/', f'/{mask_dir}/')
        self.ignore_value = ignore_value
        self.items = self._pair_by_stem(self._require_dir(self.root / img_dir),
                                        self._require_dir(self.root / mask_dir), recursive=True)

    def load_label(self, ref) -> np.ndarray:
        label = read_label_png(ref, rgb_ids=True)
        if self.ignore_value is not None:
            label[label == self.ignore_value] = IGNORE_INDEX
        return label


PART_DATASETS = {'ade20k': ADE20KParts, 'partimagenet': PartImageNetParts, 'imagenet-s': ImageNetSParts,
                 'folder': FolderParts, 'synthetic': SyntheticScenesParts}


def build_part_dataset(kind: str, root: str, **kwargs) -> PartDataset:
    """A reader by name: ``ade20k``, ``partimagenet``, ``imagenet-s``, ``folder`` or ``synthetic``.

    Raises:
        ValueError: unknown ``kind``.
        PartDatasetError: ``root`` is missing or malformed (the message names the expected layout).
    """
    if kind not in PART_DATASETS:
        raise ValueError(f'unknown part dataset type {kind!r}; choose one of {sorted(PART_DATASETS)}')
    if not osp.isdir(root):
        cls = PART_DATASETS[kind]
        raise PartDatasetError(f'{cls.__name__}: data root {root!r} does not exist. Expected: {cls.layout}')
    return PART_DATASETS[kind](root, **kwargs)
