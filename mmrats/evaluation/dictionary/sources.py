"""Part-labelled splits for the dictionary: images, part label maps, image categories and names.

Two sources, both with label 0 = background and ``1..P-1`` the part labels:

* :func:`part_objects_split`: the procedural part-structured objects
  (:mod:`mmrats.datasets.part_objects`), drawn in memory; image category = the
  main object's category (9), super-category = its group (3).
* :func:`partimagenet_split`: a PartImageNet folder through
  :class:`~mmrats.datasets.part_datasets.PartImageNetParts` (also the
  part-structured objects written by ``tools/dataset_converters/make_part_objects.py``);
  image category = the json image's ``category`` if present, else the ImageNet
  class of its file name (``<wnid>_<n>``); super-category = the json image's
  ``supercategory`` if present, else the most frequent ``supercategory`` of its
  part annotations' categories (PartImageNet: Quadruped, Bird, ...).

Images are resized to ``img_size`` (bicubic) and label maps with the nearest
pixel centre (:func:`mmrats.utils.images.load_image`,
:func:`~mmrats.utils.images.resize_label`); a backbone takes them through
:func:`mmrats.utils.images.normalize`.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmrats.datasets.part_datasets import PartImageNetParts
from mmrats.utils.images import load_image, resize_label


@dataclass
class LabelledSplit:
    """A part-labelled split: ``load(indices) -> (images (B, S, S, 3) uint8 RGB, labels (B, S, S) int64)``."""

    name: str
    load: Callable[[list[int]], tuple[np.ndarray, np.ndarray]]
    label_names: list[str]
    category: np.ndarray
    category_names: list[str]
    supercategory: np.ndarray
    supercategory_names: list[str]
    img_size: int
    spec: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.category)

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def levels(self) -> dict[str, tuple[np.ndarray, list[str]]]:
        """Retrieval levels: ``supercategory`` (the paper's "both are birds") and ``category``."""
        return dict(supercategory=(self.supercategory, self.supercategory_names),
                    category=(self.category, self.category_names))


def part_objects_split(num_images: int, split: str = 'test', seed: int = 0, img_size: int = 96) -> LabelledSplit:
    """The first ``num_images`` images of a split of the part-structured objects, drawn in memory."""
    from mmrats.datasets.part_objects import PartObjectsConfig, generate_part_objects
    from mmrats.datasets.part_objects_catalogue import CATEGORIES, CATEGORY_NAMES, PART_NAMES, SUPERCATEGORIES

    if num_images < 1:
        raise ValueError(f'the part-objects split needs at least 1 image, got {num_images}')
    cfg = PartObjectsConfig(img_size=img_size)

    def load(indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
        samples = [generate_part_objects(int(i), seed, split, cfg) for i in indices]
        return np.stack([s.image for s in samples]), np.stack([s.parts for s in samples]).astype(np.int64)

    cats = np.arange(num_images) % len(CATEGORIES)  # the main object's category (generate_part_objects)
    sup = np.array([SUPERCATEGORIES.index(CATEGORIES[c].supercategory) for c in cats])
    return LabelledSplit(name=f'part-objects-{split}', load=load, label_names=['background', *PART_NAMES],
                         category=cats, category_names=list(CATEGORY_NAMES), supercategory=sup,
                         supercategory_names=list(SUPERCATEGORIES), img_size=img_size,
                         spec=dict(type='part-objects', split=split, seed=seed, num_images=num_images,
                                   img_size=img_size))


def partimagenet_split(root: str, split: str = 'train', img_size: int = 224,
                       max_images: int | None = None) -> LabelledSplit:
    """A PartImageNet split (COCO json) at ``img_size``; the first ``max_images`` images if given."""
    reader = PartImageNetParts(root, split)
    coco = json.loads(Path(reader.ann_file).read_text())
    cats = {c['id']: c for c in coco.get('categories', [])}
    ids = sorted(reader.category_label, key=reader.category_label.get)  # label id i + 1 = ids[i]
    label_names = ['background'] + [cats.get(c, {}).get('name', str(c)) for c in ids]
    by_file = {img['file_name']: img for img in coco['images']}
    n = len(reader) if max_images is None else min(len(reader), max_images)
    cat_names, sup_names, cat_of, sup_of = [], [], [], []
    for path, (_, _, anns) in reader.items[:n]:
        info = by_file.get(Path(path).name, {})
        cat = info.get('category') or Path(path).name.split('_')[0]
        sups = Counter(cats.get(a['category_id'], {}).get('supercategory', 'unknown') for a in anns)
        sup = info.get('supercategory') or (sups.most_common(1)[0][0] if sups else 'unknown')
        for value, names, out in ((cat, cat_names, cat_of), (sup, sup_names, sup_of)):
            if value not in names:
                names.append(value)
            out.append(names.index(value))

    def load(indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
        samples = [reader[i] for i in indices]
        return (np.stack([load_image(s.image_path, img_size) for s in samples]),
                np.stack([resize_label(s.label, img_size) for s in samples]).astype(np.int64))

    return LabelledSplit(name=f'{reader.name}-{split}', load=load, label_names=label_names,
                         category=np.array(cat_of, np.int64), category_names=cat_names,
                         supercategory=np.array(sup_of, np.int64), supercategory_names=sup_names,
                         img_size=img_size, spec=dict(type='partimagenet', root=str(root), split=split,
                                                      num_images=n, img_size=img_size))
