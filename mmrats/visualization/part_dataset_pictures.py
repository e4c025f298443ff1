"""Pictures of part segmentation over a dataset: one overlay per image (and RATS compress attention per head)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from mmrats.evaluation.part_metrics import METRICS, part_scores
from mmrats.models.utils.candidate_maps import compress_attention_maps

from .part_pictures import draw_head_attention, draw_part_segmentation


class PartPictures:
    """Writes the pictures of the first ``num`` images of a dataset, batch by batch.

    An ``on_batch`` callback of :func:`mmrats.evaluation.part_benchmark.evaluate_part_dataset`:
    ``SHOW_DIR/<dataset>_<index>_<image stem>.png`` (image, ground truth, segmentation and kept maps,
    titled with the image's scores) and, for RATS, ``..._heads.png`` (last-block compress attention of
    ``heads``, Appendix D).

    Args:
        segmenter: the :class:`~mmrats.evaluation.PartSegmenter` whose results are drawn.
        reader: the dataset reader (its ``name`` and ``items``).
        show_dir: the folder (made if needed).
        num: pictures at most.
        heads: the heads of the compress-attention pictures (those past the backbone's are left out).
        row_name: the model's name in the titles.
        top_ks: the K of each segmentation in a batch's ``outs``; the segmenter's own K is drawn.
    """

    def __init__(self, segmenter, reader, show_dir: str | Path, num: int = 8, heads: Sequence[int] = (0, 1, 2),
                 row_name: str = '', top_ks: Sequence[int] = ()) -> None:
        self.seg, self.reader, self.dir, self.num, self.row_name = segmenter, reader, Path(show_dir), num, row_name
        self.top_ks = list(top_ks)
        self.heads = [h for h in heads if h < segmenter.backbone.num_heads]
        self.shown = 0

    def __call__(self, x, images, gts, outs) -> None:
        """Draw the batch's first images (``outs``: one segmentation per K of ``top_ks``)."""
        if self.shown >= self.num:
            return
        n = min(self.num - self.shown, len(x))
        out = outs[self.top_ks.index(self.seg.top_k)] if self.seg.top_k in self.top_ks else outs[0]
        self.dir.mkdir(parents=True, exist_ok=True)
        backbone = self.seg.backbone
        device = next(backbone.parameters()).device
        comp = compress_attention_maps(backbone, x[:n].to(device)).cpu().numpy() if backbone.mode == 'rats' else None
        images, gts = images[:n].numpy(), gts[:n].numpy()
        for i in range(n):
            j = self.shown + i
            stem = f'{self.reader.name}_{j:04d}_{Path(self.reader.items[j][0]).stem}'
            lab = out.labels[i].cpu().numpy()
            s = part_scores(lab, gts[i])
            score = 'all ignored' if s is None else ', '.join(f'{m.upper()} {100 * s[m]:.1f}' for m in METRICS)
            title = (f'{self.row_name} on {self.reader.name}, {self.seg.method}, top-{self.seg.top_k}, '
                     f'sigma {self.seg.sigma}: {score}')
            Image.fromarray(draw_part_segmentation(images[i], lab, out.maps[i].cpu().numpy(),
                                                   out.indices[i].cpu().numpy(), gts[i], title)).save(
                self.dir / f'{stem}.png')
            if comp is not None and self.heads:
                Image.fromarray(draw_head_attention(images[i], comp[i], self.heads, 2,
                                                    f'{self.row_name}: last-block compress attention')).save(
                    self.dir / f'{stem}_heads.png')
        self.shown += n
