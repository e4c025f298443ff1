"""The five part-discovery benchmarks of the paper's Table 1 (§4.2, Appendix E): where each lives, and its check.

Each :class:`PartBenchmark` names the reader of :mod:`.part_datasets` that
reads it, the folder under a data directory where the project expects it
(``data/`` by default, as the configs), the split and the number of images the
paper evaluates. :func:`open_benchmark` is the pre-flight: it builds the reader
and, unless told otherwise, checks that the folder holds the paper's whole
split; any problem is one :class:`PartDatasetError` line naming what is
missing and how to prepare it (``docs/part_benchmarks.md``).

COCO 2017 val and ImageNet val have no dense region annotations; the paper
uses SAM 2.1 masks as proxy ground truth, which
``tools/dataset_converters/sam_masks.py`` writes next to the images
(``<root>/sam2.1_masks/<split>/<name>.png``, read by :class:`.FolderParts`
with 0 = no mask, ignored **[choice]**).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .part_datasets import PartDataset, PartDatasetError, build_part_dataset

SAM_MASK_DIR = 'sam2.1_masks'  # under the dataset root, one sub-folder per split
SAM_SETTINGS = 'sam_settings.json'  # written by the mask tool beside the masks of a split
SAM_UNCOVERED = 0  # the label of pixels no SAM mask covers; ignored by the benchmark [choice]


@dataclass(frozen=True)
class PartBenchmark:
    """One column of Table 1.

    Attributes:
        key: the name on the command line (``coco``, ``ade20k``, ``imagenet``, ``imagenet-s``, ``partimagenet``).
        column: the column's name in the paper's table.
        kind: the reader (:data:`~mmrats.datasets.part_datasets.PART_DATASETS`).
        folder: where it lives under the data directory.
        split: the split the paper evaluates.
        num_images: the paper's image count for that split (App. E).
        split_images: the split's size as distributed, what the completeness check wants (it differs from
            the paper's count for ImageNet-S919: LUSSeg's validation split has 12,419 images, the paper
            says 10,767; default: ``num_images``).
        reader_args: more arguments of the reader.
        prepare: how to prepare it, in one sentence (the error's fix).
    """

    key: str
    column: str
    kind: str
    folder: str
    split: str
    num_images: int
    reader_args: dict = field(default_factory=dict)
    prepare: str = ''
    split_images: int | None = None

    @property
    def expected_images(self) -> int:
        """The image count of a complete folder."""
        return self.split_images or self.num_images

    @property
    def sam(self) -> bool:
        """Whether the ground truth is SAM 2.1 proxy masks."""
        return self.kind == 'folder'

    def reader_kwargs(self) -> dict:
        """The reader's arguments (split or image / mask folders)."""
        if self.sam:
            return dict(img_dir=self.split, mask_dir=f'{SAM_MASK_DIR}/{self.split}', ignore_value=SAM_UNCOVERED,
                        **self.reader_args)
        return dict(split=self.split, **self.reader_args)


_DOCS = 'see docs/part_benchmarks.md'
BENCHMARKS: dict[str, PartBenchmark] = {b.key: b for b in [
    PartBenchmark('coco', 'COCO', 'folder', 'coco', 'val2017', 5000,
                  prepare='unzip val2017.zip into <root>, then python tools/dataset_converters/sam_masks.py '
                          f'--images <root>/val2017 --checkpoint sam2.1_hiera_large.pt ({_DOCS})'),
    PartBenchmark('ade20k', 'ADE20K', 'ade20k', 'ade/ADEChallengeData2016', 'validation', 2000,
                  prepare=f'unzip ADEChallengeData2016.zip into the folder above <root> ({_DOCS})'),
    PartBenchmark('imagenet', 'IN', 'folder', 'imagenet', 'val', 50000,
                  prepare='put the ILSVRC2012 validation images in <root>/val (flat or in <wnid>/ folders), then '
                          'python tools/dataset_converters/sam_masks.py --images <root>/val --checkpoint '
                          f'sam2.1_hiera_large.pt ({_DOCS})'),
    PartBenchmark('imagenet-s', 'IN-S919', 'imagenet-s', 'ImageNetS919', 'validation', 10767,
                  prepare=f'build ImageNetS919 with the LUSSeg datapreparation script into <root> ({_DOCS})',
                  split_images=12419),
    PartBenchmark('partimagenet', 'PartIN', 'partimagenet', 'PartImageNet', 'test', 2408,
                  prepare=f'unzip PartImageNet (images/test, annotations/test.json) into <root> ({_DOCS})'),
]}


def benchmark_root(bench: PartBenchmark, data_dir: str | Path = 'data', roots: dict | None = None) -> Path:
    """The benchmark's folder: ``roots[bench.key]`` if given, else ``data_dir/bench.folder``."""
    return Path(roots[bench.key]) if roots and bench.key in roots else Path(data_dir) / bench.folder


def sam_settings(root: str | Path, split: str) -> dict | None:
    """The mask tool's settings of a split's SAM masks (None if there is no settings file)."""
    path = Path(root) / SAM_MASK_DIR / split / SAM_SETTINGS
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def open_benchmark(bench: PartBenchmark, root: str | Path, full: bool = True) -> PartDataset:
    """The pre-flight of one benchmark: its reader, or one line naming what is missing.

    Args:
        bench: the benchmark.
        root: its folder.
        full: require the paper's whole split (``bench.num_images`` images); False accepts any number
            (a subset, e.g. for a quick look; the table marks it).

    Raises:
        PartDatasetError: the folder is missing, an image lacks its label map, the split is incomplete,
            or SAM masks were written without their settings file.
    """
    fix = bench.prepare.replace('<root>', str(root))
    if not Path(root).is_dir():
        raise PartDatasetError(f'{bench.column} ({bench.key}) is not prepared: {root} does not exist; to prepare '
                               f'it: {fix}')
    try:
        reader = build_part_dataset(bench.kind, str(root), **bench.reader_kwargs())
    except PartDatasetError as e:
        raise PartDatasetError(f'{bench.column} ({bench.key}) is not prepared: {e}; to prepare it: {fix}') from None
    reader.name = bench.column
    if bench.sam and sam_settings(root, bench.split) is None:
        raise PartDatasetError(f'{bench.column} ({bench.key}): {Path(root) / SAM_MASK_DIR / bench.split} has no '
                               f'{SAM_SETTINGS}, so how its masks were made is unknown; write them with '
                               'tools/dataset_converters/sam_masks.py')
    if full and len(reader) != bench.expected_images:
        raise PartDatasetError(f'{bench.column} ({bench.key}) is incomplete: {len(reader):,} images with labels in '
                               f'{root}, its {bench.split} split has {bench.expected_images:,}; finish preparing '
                               'it, or pass --any-size to evaluate what is there')
    return reader
