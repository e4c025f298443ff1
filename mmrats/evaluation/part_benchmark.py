"""Part segmentation of a backbone on one part dataset, timed (paper §4.2 Table 1, §4.5 Table 5).

Every image of a reader (:mod:`mmrats.datasets.part_datasets`) is resized to
``size x size`` (bicubic; the ground truth with the nearest pixel centre),
normalised as the configs do, segmented by a :class:`PartSegmenter` at every
``K`` of ``top_ks`` from one forward pass, and scored per image (many-to-one
and one-to-one mIoU, ARI), averaged over images. The throughput of the whole
loop and of the model + segmentation alone are measured with it.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import torch

from mmrats.utils.images import load_image, normalize, resize_label

from .part_metrics import PartMetricAccumulator
from .part_segmentation import PartSegmenter


class ResizedParts(torch.utils.data.Dataset):
    """A part reader at ``size x size``: normalised image ``(3, S, S)``, uint8 image ``(S, S, 3)``, label ``(S, S)``."""

    def __init__(self, reader, size: int, max_images: int | None = None) -> None:
        self.reader, self.size = reader, size
        self.n = len(reader) if max_images is None else min(len(reader), max_images)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        s = self.reader[i]
        img = load_image(s.image_path, self.size)
        return normalize(img)[0], torch.from_numpy(img), torch.from_numpy(resize_label(s.label, self.size))


@torch.no_grad()
def evaluate_part_dataset(segmenter: PartSegmenter, reader, size: int, top_ks: list[int], batch_size: int = 8,
                          workers: int = 0, max_images: int | None = None, device: str | torch.device = 'cpu',
                          on_batch: Callable | None = None, progress: Callable = iter) -> dict:
    """Metrics of every ``K`` of ``top_ks`` at ``size``, with the throughput.

    Args:
        segmenter: the backbone's part segmenter (on ``device``).
        reader: a part dataset reader (``reader[i].image_path``, ``reader[i].label``).
        size: the square input side.
        top_ks: the ``K`` to score.
        batch_size, workers: of the data loader.
        max_images: the first this many images only.
        device: where the images go.
        on_batch: called as ``on_batch(x, images, labels, outs)`` after each batch (e.g. to draw pictures);
            its time is not counted.
        progress: wraps the loader (e.g. a progress bar).

    Returns:
        ``dict(per_k={K: metrics + effective_top_k + num_maps}, timing=dict(images, seconds, images_per_s,
        model_images_per_s, seconds_for_2000_images, img_size, device, batch_size, threads))``.
    """
    data = ResizedParts(reader, size, max_images)
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, num_workers=workers)
    accs = {k: PartMetricAccumulator() for k in top_ks}
    # warm-up, not timed; tells how many candidate maps there are
    num_maps = segmenter(torch.zeros(1, 3, size, size, device=device), [None])[0].maps.shape[1]
    model_s, side_s, t0 = 0.0, 0.0, time.perf_counter()
    for x, img, gt in progress(loader):
        t1 = time.perf_counter()
        outs = segmenter(x.to(device), top_ks)
        labels = [o.labels.cpu().numpy() for o in outs]
        model_s += time.perf_counter() - t1
        for k, lab in zip(top_ks, labels):
            accs[k].update(lab, gt.numpy())
        if on_batch is not None:
            t2 = time.perf_counter()
            on_batch(x, img, gt, outs)
            side_s += time.perf_counter() - t2
    total_s = time.perf_counter() - t0 - side_s
    n = len(data)
    res = {k: dict(acc.result(), effective_top_k=min(k, num_maps), num_maps=num_maps) for k, acc in accs.items()}
    timing = dict(images=n, seconds=total_s, images_per_s=n / total_s, model_images_per_s=n / max(model_s, 1e-9),
                  seconds_for_2000_images=2000 * total_s / max(n, 1), img_size=size, device=str(device),
                  batch_size=batch_size, threads=torch.get_num_threads())
    return dict(per_k=res, timing=timing)
