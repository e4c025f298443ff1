"""The synthetic scenes (ADE20K layout) as an mmseg dataset."""
import os.path as osp

from mmseg.datasets import BaseSegDataset

from mmrats.registry import DATASETS

from .synthetic_scenes import SEG_METAINFO

GENERATE_HINT = 'python tools/dataset_converters/make_synthetic_scenes.py --out data/synthetic'
LAYOUT = ('images/{training,validation}/*.jpg and annotations/{training,validation}/*.png '
          '(uint8 label PNGs: 0 unlabelled, class k stored as k + 1)')


@DATASETS.register_module()
class SyntheticSceneSegDataset(BaseSegDataset):
    """Semantic segmentation on the synthetic scenes of :mod:`mmrats.datasets.synthetic_scenes`.

    The ADE20K layout and convention: with ``reduce_zero_label=True`` the
    stored labels 1..7 become 0..6 (indices into ``CLASSES``) and 0 becomes
    255 (ignored). Config it like mmseg's ``ADE20KDataset``::

        dict(type='mmrats.SyntheticSceneSegDataset', data_root='data/synthetic/ade',
             data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'))

    Args:
        img_suffix: image file suffix.
        seg_map_suffix: label map suffix.
        reduce_zero_label: map label 0 to 255 and shift the others down by one.
        **kwargs: the rest of :class:`mmseg.datasets.BaseSegDataset`'s arguments.
    """

    METAINFO = SEG_METAINFO

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png', reduce_zero_label: bool = True,
                 **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)

    def load_data_list(self) -> list[dict]:
        """Check the folders first, then list them as :class:`BaseSegDataset` does.

        Raises:
            FileNotFoundError: ``data_root`` or its image/annotation folder does not exist.
        """
        root = self.data_root
        if root and not osp.isdir(root):
            raise FileNotFoundError(f'SyntheticSceneSegDataset: data_root {root!r} does not exist. Expected under '
                                    f'it: {LAYOUT}. Generate the demo data with: {GENERATE_HINT}')
        for key in ('img_path', 'seg_map_path'):
            path = self.data_prefix.get(key) or root
            if path and not osp.isdir(path):
                raise FileNotFoundError(f'SyntheticSceneSegDataset: {key} folder {path!r} does not exist. Expected '
                                        f'under data_root={root!r}: {LAYOUT}. Generate the demo data with: '
                                        f'{GENERATE_HINT}')
        return super().load_data_list()
