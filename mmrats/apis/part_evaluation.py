"""Part discovery of a backbone on part datasets, scored as in the paper (§4.2 Table 1, §4.5 Table 5, Fig. 7)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from torch import nn

from mmrats.evaluation.part_benchmark import evaluate_part_dataset
from mmrats.evaluation.part_metrics import AVERAGING, METRICS
from mmrats.evaluation.part_report import dataset_line
from mmrats.evaluation.part_segmentation import PartSegmenter
from mmrats.visualization.part_dataset_pictures import PartPictures


def evaluate_parts(backbone: nn.Module, readers: Sequence, img_size: int = 512, top_k: int = 50,
                   method: str | None = None, sigma: float = 1.0, batch_size: int = 8, workers: int = 0,
                   max_images: int | None = None, name: str | None = None, arch: str = 'custom',
                   checkpoint: str | None = None, show_dir: str | Path | None = None, show_num: int = 8,
                   heads: Sequence[int] = (0, 1, 2), sweep_sizes: Sequence[int] = (), sweep_top_k: Sequence[int] = (),
                   progress: Callable = iter, log: Callable[[str], None] = print) -> dict:
    """Unsupervised part segmentation on every dataset, per image and averaged over images.

    Args:
        backbone: a ``RATSViT`` on the device to run on (:func:`~mmrats.apis.load_backbone`).
        readers: part dataset readers (:func:`mmrats.datasets.build_part_dataset`), one column each.
        img_size: the square input side (a multiple of the patch size).
        top_k, method, sigma: of the segmentation (:class:`~mmrats.evaluation.PartSegmenter`).
        batch_size, workers, max_images: of the data.
        name, arch, checkpoint: how the row is named in the summary (``arch``: the arch's name).
        show_dir, show_num, heads: pictures of the first images of each dataset (None: none).
        sweep_sizes, sweep_top_k: also score these input sizes (at ``top_k``) and these K (at ``img_size``).
        progress: wraps each data loader (e.g. a progress bar); log: where the per-dataset lines go.

    Returns:
        The summary: ``model``, ``settings``, ``datasets`` (scores at ``top_k`` with timing), ``row``
        (Table 1's average M2O and ARI) and ``sweep``; :func:`mmrats.evaluation.part_report.part_markdown`
        writes it as a table.
    """
    seg = PartSegmenter(backbone, method, top_k, sigma)
    device = next(backbone.parameters()).device
    kind = 'RATS' if backbone.mode == 'rats' else 'ViT'
    row_name = name or f"{kind}-{arch} ({Path(checkpoint).name if checkpoint else 'random init'})"
    top_ks = sorted({top_k, *sweep_top_k})
    summary = dict(model=dict(name=row_name, backbone=f'{kind}-{arch}/{backbone.patch_size}', arch=arch,
                              mode=backbone.mode, num_registers=backbone.num_registers, method=seg.method,
                              checkpoint=checkpoint, params=sum(p.numel() for p in backbone.parameters())),
                   settings=dict(img_size=img_size, top_k=top_k, sigma=sigma, batch_size=batch_size,
                                 max_images=max_images, device=str(device), averaging=AVERAGING,
                                 ground_truth='resized (nearest) to the input size'),
                   datasets={}, sweep={})
    log(f"{row_name}: {summary['model']['params']:,} parameters, method {seg.method}, {img_size}x{img_size}, "
        f'top-{top_k}, sigma {sigma}, device {device}')

    def run(reader, size: int, ks: list[int], pictures=None) -> dict:
        return evaluate_part_dataset(seg, reader, size, ks, batch_size, workers, max_images, device, pictures,
                                     progress)

    curves_k = {}
    for reader in readers:
        pictures = PartPictures(seg, reader, show_dir, show_num, heads, row_name, top_ks) if show_dir else None
        r = run(reader, img_size, top_ks, pictures)
        summary['datasets'][reader.name] = dict(r['per_k'][top_k], timing=r['timing'], root=str(reader.root))
        curves_k[reader.name] = {m: [r['per_k'][k][m] for k in top_ks] for m in METRICS}
        log(dataset_line(reader.name, r['per_k'][top_k], r['timing']))
    d = summary['datasets']
    summary['row'] = dict(avg_m2o=float(np.mean([v['m2o'] for v in d.values()])),
                          avg_ari=float(np.mean([v['ari'] for v in d.values()])))
    if sweep_top_k:
        summary['sweep']['top_k'] = dict(values=top_ks, img_size=img_size, curves=curves_k)
    if sweep_sizes:
        curves_r = {reader.name: {m: [] for m in METRICS} for reader in readers}
        for size in sweep_sizes:
            for reader in readers:
                r = run(reader, size, [top_k])['per_k'][top_k]
                for m in METRICS:
                    curves_r[reader.name][m].append(r[m])
            log(f'sweep {size}: ' + ', '.join(f"{n} M2O {c['m2o'][-1]:.1f} ARI {c['ari'][-1]:.1f}"
                                              for n, c in curves_r.items()))
        summary['sweep']['resolution'] = dict(values=list(sweep_sizes), top_k=top_k, curves=curves_r)
    return summary

