"""The part-structured objects as an mmengine / mmpretrain dataset, drawn in memory on the fly.

Nothing is read from disk: item ``i`` is
:func:`~mmrats.datasets.part_objects.generate_part_objects` ``(i, seed, split)``,
so a DINO config can pretrain on any number of images without writing them,
and a validation loop gets the same pixels as the files of
:func:`~mmrats.datasets.part_objects_writer.write_part_objects`.
"""
from __future__ import annotations

from mmengine.dataset import BaseDataset

from mmrats.registry import DATASETS

from .part_objects import SPLIT_IDS, PartObjectsConfig, generate_part_objects
from .part_objects_catalogue import CATEGORY_NAMES, PART_NAMES
from .pipeline_scope import mmpretrain_scope


@DATASETS.register_module()
class PartObjectsDataset(BaseDataset):
    """Procedural part-structured objects (one image per index), for ``mmpretrain`` pipelines.

    Each item, before the pipeline, holds ``img`` (``(H, W, 3)`` uint8 **BGR**,
    as ``LoadImageFromFile`` would give), ``img_shape``, ``ori_shape``,
    ``gt_label`` (the main object's category), ``gt_part_label`` (``(H, W)``
    int64 part-type ids, 0 = background), ``gt_object_label`` (object ids),
    ``gt_bboxes`` (``(n, 4)`` xyxy) and ``gt_categories``. The pipeline starts
    at the augmentations (no loading step)::

        dict(type='mmrats.PartObjectsDataset', num_images=4000, split='train', seed=0,
             pipeline=[dict(type='MultiView', ...), dict(type='PackInputs')])

    For a part-discovery validation pass, pack the labels with
    ``dict(type='PackInputs', algorithm_keys=['gt_part_label'])``.

    Args:
        num_images: length of the dataset.
        split: ``'train'``, ``'val'`` or ``'test'`` (independent image streams).
        seed: dataset seed.
        img_size: image side in pixels.
        gen_cfg: other :class:`~mmrats.datasets.part_objects.PartObjectsConfig` fields.
        pipeline: mmengine transforms.
        test_mode: mmengine's flag.
        lazy_init: mmengine's flag.
    """

    METAINFO = dict(classes=CATEGORY_NAMES, part_classes=('background', *PART_NAMES))

    def __init__(self, num_images: int, split: str = 'train', seed: int = 0, img_size: int = 96,
                 gen_cfg: dict | None = None, pipeline: list | tuple = (), test_mode: bool = False,
                 lazy_init: bool = False) -> None:
        if int(num_images) < 1:
            raise ValueError(f'PartObjectsDataset num_images must be >= 1, got {num_images}')
        if split not in SPLIT_IDS:
            raise ValueError(f'PartObjectsDataset split must be one of {sorted(SPLIT_IDS)}, got {split!r}')
        try:
            self.gen_cfg = PartObjectsConfig(img_size=img_size, **(gen_cfg or {}))
            self.gen_cfg.check()
        except (TypeError, ValueError) as e:
            raise ValueError(f'PartObjectsDataset gen_cfg: {e}') from None
        self.num_images, self.split, self.seed = int(num_images), split, int(seed)
        with mmpretrain_scope():
            super().__init__(ann_file='', data_root='', pipeline=list(pipeline), test_mode=test_mode,
                             lazy_init=lazy_init, serialize_data=False)

    def load_data_list(self) -> list[dict]:
        """One entry per index; the pixels are drawn in :meth:`get_data_info`."""
        return [dict(sample_idx=i) for i in range(self.num_images)]

    def get_data_info(self, idx: int) -> dict:
        """Draw image ``idx`` and its ground truth."""
        info = super().get_data_info(idx)
        s = generate_part_objects(info['sample_idx'], self.seed, self.split, self.gen_cfg)
        h, w = s.parts.shape
        info.update(img=s.image[..., ::-1].copy(), img_shape=(h, w), ori_shape=(h, w), gt_label=s.category,
                    gt_part_label=s.parts.astype('int64'), gt_object_label=s.objects.astype('int64'),
                    gt_bboxes=s.boxes, gt_categories=list(s.categories))
        return info
