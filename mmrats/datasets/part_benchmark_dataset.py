"""A part-discovery benchmark as an mmengine dataset: the validation data of a DINO pretraining run (paper §4.5).

The paper (§4.5, Fig. 8) finds that part quality peaks around epochs 160-180
of the 300 and declines after, so a pretraining run evaluates part discovery
every few epochs and keeps the best checkpoint. This dataset gives that
validation loop the images and labels of any part benchmark reader of
:mod:`mmrats.datasets.part_datasets` (PartImageNet, ImageNet-S919, ADE20K, a
folder of label PNGs, the synthetic scenes), each image resized to
``img_size x img_size`` (bicubic; the labels with the nearest pixel centre) as
``tools/analysis/part_segmentation.py`` does, so that
:class:`~mmrats.evaluation.metrics.PartDiscoveryMetric` scores what that tool
would::

    val_dataloader = dict(batch_size=16, num_workers=4, sampler=dict(type='DefaultSampler', shuffle=False),
                          collate_fn=dict(type='default_collate'),
                          dataset=dict(type='mmrats.PartBenchmarkDataset', kind='partimagenet',
                                       data_root='data/PartImageNet', split='val', img_size=512,
                                       pipeline=[dict(type='PackInputs', algorithm_keys=['gt_part_label'])]))
    val_evaluator = dict(type='mmrats.PartDiscoveryMetric', top_k=[50], sigma=1.0)
"""
from __future__ import annotations

import numpy as np
from mmengine.dataset import BaseDataset

from mmrats.registry import DATASETS
from mmrats.utils.images import load_image, resize_label

from .part_datasets import PART_DATASETS, build_part_dataset
from .pipeline_scope import mmpretrain_scope


def spread_indices(total: int, num: int | None) -> list[int]:
    """``num`` indices spread evenly over ``range(total)`` (all of them if ``num`` is None or >= ``total``).

    The readers list their images sorted (by class folder for ImageNet-style data), so an even spread keeps
    every part of the benchmark in a subset, and the same one on every run.
    """
    if num is None or num >= total:
        return list(range(total))
    return sorted({int(i) for i in np.linspace(0, total - 1, int(num)).round()})


@DATASETS.register_module()
class PartBenchmarkDataset(BaseDataset):
    """The images and part labels of a part-benchmark reader, at one square size, for mmengine pipelines.

    Each item, before the pipeline, holds ``img`` (``(S, S, 3)`` uint8 **BGR**, as ``LoadImageFromFile``
    gives, for the configs' ``to_rgb`` data preprocessor), ``img_path``, ``img_shape``, ``ori_shape`` (the
    image's own size) and ``gt_part_label`` (``(S, S)`` int64 region ids, -1 = ignore). The pipeline
    starts after loading; ``PackInputs(algorithm_keys=['gt_part_label'])`` packs the labels.

    Args:
        kind: the reader: one of :data:`~mmrats.datasets.part_datasets.PART_DATASETS`
            (``partimagenet``, ``imagenet-s``, ``ade20k``, ``folder``, ``synthetic``).
        data_root: the benchmark's folder (the reader's ``root``).
        split: the reader's split (None: the reader's default, the paper's evaluation split).
        img_size: the square side images and labels are resized to.
        num_images: evaluate this many images spread evenly over the benchmark (None: all).
        reader_cfg: other keyword arguments of the reader (e.g. ``ann_file``, ``ignore_value``).
        pipeline: mmengine transforms.
        test_mode: mmengine's flag.
        lazy_init: mmengine's flag (True: the reader lists its files on first use).
    """

    def __init__(self, kind: str, data_root: str, split: str | None = None, img_size: int = 512,
                 num_images: int | None = None, reader_cfg: dict | None = None, pipeline: list | tuple = (),
                 test_mode: bool = True, lazy_init: bool = False) -> None:
        if kind not in PART_DATASETS:
            raise ValueError(f'PartBenchmarkDataset kind={kind!r}: choose one of {sorted(PART_DATASETS)}')
        if int(img_size) < 1:
            raise ValueError(f'PartBenchmarkDataset img_size must be >= 1, got {img_size}')
        if num_images is not None and int(num_images) < 1:
            raise ValueError(f'PartBenchmarkDataset num_images must be >= 1 or None (all), got {num_images}')
        self.kind, self.split, self.img_size = kind, split, int(img_size)
        self.num_images = None if num_images is None else int(num_images)
        self.reader_cfg = dict(reader_cfg or {})
        self.reader = None
        with mmpretrain_scope():
            super().__init__(ann_file='', data_root=data_root, pipeline=list(pipeline), test_mode=test_mode,
                             lazy_init=lazy_init, serialize_data=False)

    def load_data_list(self) -> list[dict]:
        """The reader's images (a :class:`~mmrats.datasets.part_datasets.PartDatasetError` if malformed)."""
        kwargs = dict(self.reader_cfg, **({} if self.split is None else dict(split=self.split)))
        self.reader = build_part_dataset(self.kind, self.data_root, **kwargs)
        return [dict(sample_idx=i, reader_idx=j, img_path=self.reader.items[j][0])
                for i, j in enumerate(spread_indices(len(self.reader), self.num_images))]

    def get_data_info(self, idx: int) -> dict:
        """Image ``idx`` and its labels at ``img_size``."""
        info = super().get_data_info(idx)
        sample = self.reader[info['reader_idx']]
        rgb = load_image(sample.image_path)
        s = self.img_size
        img = rgb if rgb.shape[:2] == (s, s) else load_image(rgb, s)
        info.update(img=img[..., ::-1].copy(), img_shape=(s, s), ori_shape=rgb.shape[:2],
                    gt_part_label=resize_label(sample.label, s).astype(np.int64))
        return info
