"""Write the part-structured objects to disk: the PartImageNet layout (COCO json) and an mmseg layout.

PartImageNet layout (read unchanged by
:class:`~mmrats.datasets.part_datasets.PartImageNetParts` and
``tools/analysis/part_segmentation.py --dataset-type partimagenet``)::

    OUT/images/<split>/<category>/<category>_<index>.png
    OUT/annotations/<split>.json     COCO: images (+ category, objects with boxes),
                                     one annotation per (object, part type) with an
                                     uncompressed RLE mask, categories = the 11 part types

and, for Mask2Former on the part labels, the same images in the ADE20K layout
with one label PNG per image (0 background, ``k`` part type ``k``)::

    OUT/ade/images/<split>/<name>.png  OUT/ade/annotations/<split>/<name>.png

PNG keeps the pixels exact, so the on-the-fly dataset
(:class:`~mmrats.datasets.part_objects_dataset.PartObjectsDataset`) and the
written files are the same images. ``OUT/manifest.json`` records the
parameters; writing again with the same ones reuses the files.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

from .part_objects import SPLIT_IDS, PartObjectsConfig, PartObjectsSample, generate_part_objects
from .part_objects_catalogue import CATEGORIES, PART_NAMES, PART_TYPES

FORMAT_VERSION = 1


def rle_encode(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE of a boolean ``(H, W)`` mask (column-major runs, starting with zeros)."""
    h, w = mask.shape
    flat = np.asarray(mask, bool).T.ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    counts = np.diff(np.concatenate([[0], change, [flat.size]])).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return dict(size=[h, w], counts=counts)


def file_stem(sample: PartObjectsSample) -> str:
    """``<category>_<index>`` (PartImageNet-style ``<wnid>_<n>``)."""
    return f"{CATEGORIES[sample.category].name}_{sample.meta['index']:06d}"


def coco_entries(sample: PartObjectsSample, image_id: int, first_ann_id: int) -> tuple[dict, list[dict]]:
    """The COCO image entry and the part annotations (one per visible (object, part type)) of a sample."""
    h, w = sample.parts.shape
    cat = CATEGORIES[sample.category]
    image = dict(id=image_id, file_name=f'{file_stem(sample)}.png', height=h, width=w, category=cat.name,
                 supercategory=cat.supercategory,
                 objects=[dict(id=i + 1, category=CATEGORIES[c].name, bbox_xyxy=[float(v) for v in box])
                          for i, (c, box) in enumerate(zip(sample.categories, sample.boxes))])
    anns = []
    for obj in range(1, len(sample.categories) + 1):
        in_obj = sample.objects == obj
        for pid in np.unique(sample.parts[in_obj]):
            if pid == 0:
                continue
            m = in_obj & (sample.parts == pid)
            rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
            anns.append(dict(id=first_ann_id + len(anns), image_id=image_id, category_id=int(pid), object_id=obj,
                             segmentation=rle_encode(m), area=int(m.sum()), iscrowd=0,
                             bbox=[int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1),
                                   int(rows[-1] - rows[0] + 1)]))
    return image, anns


def part_categories() -> list[dict]:
    """COCO categories: the part types (ids 1..11) with their super-category."""
    return [dict(id=i + 1, name=p.name, supercategory=p.name.split(' ')[0]) for i, p in enumerate(PART_TYPES)]


def _config_record(cfg: PartObjectsConfig) -> dict:
    """The generation parameters as the manifest records them; the default colours are not named, so that the
    folders written before the colour control (issue #26) still match their manifest and are not rewritten."""
    record = asdict(cfg)
    if record['colour'] == 'informative':
        del record['colour']
    return record


def write_part_objects(out: str | Path, num_images: dict[str, int], seed: int = 0,
                       cfg: PartObjectsConfig | None = None, ade: bool = True) -> dict:
    """Write the splits of ``num_images`` (e.g. ``{'train': 2000, 'test': 300}``) under ``out``.

    Args:
        out: output folder (new, empty, or written before by this function).
        num_images: images per split (``'train'``, ``'val'``, ``'test'``).
        seed: dataset seed.
        cfg: generation parameters.
        ade: also write the ADE20K-layout copy for mmseg.

    Returns:
        The manifest (parameters, counts per split).

    Raises:
        FileExistsError: ``out`` holds files that this function did not write.
        ValueError: unknown split or negative count.
    """
    cfg = cfg or PartObjectsConfig()
    cfg.check()
    for split, n in num_images.items():
        if split not in SPLIT_IDS or n < 0:
            raise ValueError(f'num_images: unknown split {split!r} or negative count {n}; splits: {sorted(SPLIT_IDS)}')
    out = Path(out)
    params = dict(format_version=FORMAT_VERSION, seed=seed, num_images=dict(sorted(num_images.items())),
                  config=_config_record(cfg), ade=ade, parts=list(PART_NAMES), categories=[c.name for c in CATEGORIES])
    man_path = out / 'manifest.json'
    if man_path.is_file():
        old = json.loads(man_path.read_text())
        if old.get('params') == params and all((out / 'annotations' / f'{s}.json').is_file() for s in num_images):
            return old
    elif out.exists() and any(out.iterdir()):
        raise FileExistsError(f'{str(out)!r} is not empty and has no manifest.json of this writer; '
                              'choose a new or empty --out folder (nothing was overwritten)')
    counts = {}
    for split, n in num_images.items():
        images, anns = [], []
        for i in range(n):
            s = generate_part_objects(i, seed, split, cfg)
            entry, part_anns = coco_entries(s, i + 1, len(anns) + 1)
            images.append(entry)
            anns.extend(part_anns)
            folder = out / 'images' / split / CATEGORIES[s.category].name
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(s.image).save(folder / entry['file_name'])
            if ade:
                for sub, arr in (('images', s.image), ('annotations', s.parts)):
                    d = out / 'ade' / sub / split
                    d.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(arr).save(d / entry['file_name'])
        (out / 'annotations').mkdir(parents=True, exist_ok=True)
        coco = dict(info=dict(description='mmrats part-structured objects', seed=seed, split=split),
                    images=images, annotations=anns, categories=part_categories())
        (out / 'annotations' / f'{split}.json').write_text(json.dumps(coco))
        counts[split] = dict(images=n, part_annotations=len(anns))
    manifest = dict(params=params, splits=counts)
    man_path.write_text(json.dumps(manifest, indent=2))
    return manifest
