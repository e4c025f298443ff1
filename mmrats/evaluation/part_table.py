"""Table 1 of the paper (§4.2): its rows as published, and our rows in its format.

A row is M2O mIoU (%) on each of the five benchmarks, their average and the
average ARI. :data:`PAPER_TABLE1` holds the paper's rows (columns COCO,
ADE20K, IN, IN-S919, PartIN, Avg, ARI) so that a reproduction prints beside
them; :func:`table_markdown` writes our rows with the same columns, a benchmark
that was not evaluated being ``-`` (its average then covers fewer columns and
says so).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COLUMNS = ('COCO', 'ADE20K', 'IN', 'IN-S919', 'PartIN')

# (group, pretraining, backbone, #register, COCO, ADE20K, IN, IN-S919, PartIN, Avg, ARI), Table 1 as published.
PAPER_TABLE1 = (
    ('Standard ViT', 'DINOv1', 'ViT-S/16', 6, 8.53, 15.43, 11.21, 48.28, 25.58, 21.81, 8.7),
    ('Standard ViT', 'DINOv3', 'ViT-S/16', 6, 8.17, 13.69, 11.15, 50.25, 27.67, 22.19, 11.1),
    ('Standard ViT', 'DINOv1', 'ViT-B/16', 12, 8.55, 15.87, 11.05, 46.94, 25.82, 21.65, 7.9),
    ('Standard ViT', 'DINOv3', 'ViT-B/16', 12, 10.49, 18.46, 14.13, 56.43, 32.57, 26.41, 12.3),
    ('Mamba with Register', 'DINOv1', 'Mam.R-B/16', 12, 10.07, 18.95, 13.44, 55.54, 30.11, 25.62, 12.8),
    ('Superpixel', 'SPFormer', 'ViT-S/16', 6, 8.37, 14.65, 12.10, 51.92, 27.21, 22.85, 11.5),
    ('Superpixel', 'SPiT', 'ViT-B/16', 12, 8.41, 12.89, 12.37, 53.47, 27.83, 23.00, 8.5),
    ('Slot', 'AdaSlot', 'ViT-B/16', 33, 12.31, 23.87, 15.49, 54.83, 30.74, 27.45, 19.3),
    ('Ours', 'DINOv1', 'RATS-S/16', 6, 9.91, 17.02, 13.97, 58.84, 33.93, 26.73, 20.4),
    ('Ours', 'DINOv1', 'RATS-B/16', 12, 12.99, 21.45, 17.31, 67.89, 41.06, 32.14, 22.0),
    ('Ours', 'DINOv1', 'RATS-B/16', 33, 16.89, 27.52, 21.32, 73.62, 46.94, 37.26, 21.1),
    ('Ours', 'DINOv1', 'RATS-S/16', 96, 17.31, 26.98, 21.87, 73.18, 46.43, 37.15, 21.7),
    ('Ours', 'DINOv1', 'RATS-B/16', 192, 19.32, 30.77, 23.47, 75.39, 48.77, 39.54, 19.6),
)


def table_row(model: dict, scores: dict[str, dict], columns: Sequence[str] = COLUMNS) -> dict:
    """One row: M2O, O2O and ARI per evaluated column, average M2O and ARI over the evaluated columns.

    Args:
        model: the model's description (``name``, ``backbone``, ``num_registers``, ...).
        scores: per column name, the dataset's scores (``m2o``, ``o2o``, ``ari``, ``num_images``).
        columns: the table's columns in order.
    """
    done = [c for c in columns if c in scores]
    avg = (lambda m: float(np.mean([scores[c][m] for c in done])) if done else None)
    return dict(model=model, m2o={c: scores[c]['m2o'] for c in done}, o2o={c: scores[c]['o2o'] for c in done},
                ari={c: scores[c]['ari'] for c in done}, num_images={c: scores[c]['num_images'] for c in done},
                avg_m2o=avg('m2o'), avg_o2o=avg('o2o'), avg_ari=avg('ari'), columns=done,
                complete=len(done) == len(columns))


def _cell(v: float | None, digits: int = 2) -> str:
    return '-' if v is None else f'{v:.{digits}f}'


def table_markdown(rows: Sequence[dict], columns: Sequence[str] = COLUMNS, paper: bool = True) -> str:
    """Our rows in Table 1's format, then (``paper``) the paper's rows to compare with.

    ``Avg`` and ``ARI`` are over the evaluated columns; a row missing a column carries ``*`` on both.
    """
    head = '| Method | Backbone | #Register | ' + ' | '.join(columns) + ' | Avg | ARI |'
    rule = '|---' * (len(columns) + 5) + '|'
    lines = ['## Table 1 (M2O mIoU %, average M2O, average ARI)', '', head, rule]
    for r in rows:
        m = r['model']
        mark = '' if r['complete'] else '*'
        lines.append(f"| {m['name']} | {m['backbone']} | {m['num_registers']} | "
                     + ' | '.join(_cell(r['m2o'].get(c)) for c in columns)
                     + f" | {_cell(r['avg_m2o'])}{mark} | {_cell(r['avg_ari'], 1)}{mark} |")
    if any(not r['complete'] for r in rows):
        lines += ['', '`*`: averaged over the evaluated benchmarks only; not comparable with the paper\'s Avg.']
    lines += ['', '| Method | Dataset | images | M2O | O2O | ARI |', '|---|---|---|---|---|---|']
    for r in rows:
        lines += [f"| {r['model']['name']} | {c} | {r['num_images'][c]:,} | {r['m2o'][c]:.2f} | {r['o2o'][c]:.2f} | "
                  f"{r['ari'][c]:.2f} |" for c in r['columns']]
    if paper:
        lines += ['', '### The paper\'s Table 1 (as published)', '', head.replace('Method', 'Method (pretraining)'),
                  rule]
        for _group, pre, backbone, nreg, *vals in PAPER_TABLE1:
            *m2o, avg, ari = vals
            lines.append(f'| {pre} | {backbone} | {nreg} | ' + ' | '.join(f'{v:.2f}' for v in m2o)
                         + f' | {avg:.2f} | {ari:.1f} |')
    return '\n'.join(lines) + '\n'
