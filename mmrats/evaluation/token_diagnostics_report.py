"""The markdown report of the token diagnostics: one table row per model, and a run's full report.

The input is the ``results.json`` dict that ``tools/analysis/token_diagnostics.py`` writes (``name``,
``global_repr``, ``model``, ``settings``, ``norms``, ``pib``, ``masking``, ``parts``, ``seconds``).
"""
from __future__ import annotations

import math

__all__ = ['TABLE_HEAD', 'fmt', 'markdown', 'row_markdown', 'table_markdown']

TABLE_HEAD = ('| model | global repr. | outliers, last block (%) | PiB part-objects (chance) '
              '| LaSt-ViT votes in boxes (%) | PiB COCO layout (chance) | k-NN top-1 | Δ top removed '
              '| Δ bottom removed | Δ random removed | M2O top-8 |\n|---|---|---|---|---|---|---|---|---|---|---|')


def fmt(v, spec='.1f') -> str:
    """``v`` formatted, ``-`` for None or NaN."""
    return '-' if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def row_markdown(res: dict) -> str:
    """The run's row of :data:`TABLE_HEAD`."""
    m = res['masking']
    last = res['norms']['part-objects'][-2]['outliers']
    return (f"| {res['name']} | {res['global_repr']} | {fmt(100 * last['share'])} | "
            f"{fmt(res['pib']['part-objects']['pib'])} ({fmt(res['pib']['part-objects']['pib_chance'])}) | "
            f"{fmt(res['pib']['part-objects']['vote_share_in_boxes'])} | "
            + (f"{fmt(res['pib']['coco']['pib'])} ({fmt(res['pib']['coco']['pib_chance'])}) | " if 'coco' in res['pib']
               else '- | ')
            + f"{fmt(m['clean'])} | {fmt(m['top'] - m['clean'], '+.1f')} | {fmt(m['bottom'] - m['clean'], '+.1f')} | "
            f"{fmt(m['random'] - m['clean'], '+.1f')} | "
            + (f"{fmt(res['parts']['m2o'])} |" if res.get('parts') else '- |'))


def table_markdown(results: list[dict]) -> str:
    """One table of several runs' rows."""
    return TABLE_HEAD + '\n' + '\n'.join(row_markdown(r) for r in results) + '\n'


def markdown(res: dict) -> str:
    """A run's report: the model, the settings, its table row, and the token norms per layer of each dataset."""
    s = res['settings']
    lines = [f"## Token diagnostics: {res['name']}", '',
             f"{res['model']['kind']}, {res['model']['params']:,} parameters, "
             f"checkpoint `{res['model']['checkpoint']}` "
             f"({res['model']['source']}); global representation **{res['global_repr']}**"
             + (f" (LaSt-ViT top_k={s['lastvit']['top_k']}, sigma={s['lastvit']['sigma']})" if res['global_repr']
                == 'lastvit' else '') + '.',
             f"{s['num_images']} test images at {s['img_size']} px, {s['knn_train']} k-NN references (k={s['knn_k']}), "
             f"{s['mask_ratio']:.0%} of the patches ({res['masking']['num_masked']}) removed in the masking test.", '',
             TABLE_HEAD, row_markdown(res), '']
    for name, layers in res['norms'].items():
        lines += [f'### Token norms per layer ({name})', '',
                  '| layer | patch mean | patch p99 | patch max | registers mean | [CLS] | Otsu cut '
                  '| above the cut (%) | upper/lower mean | bimodal | outlier share (%) |',
                  '|---|---|---|---|---|---|---|---|---|---|---|']
        for r in layers:
            o = r['outliers']
            lines.append(f"| {r['layer']} | {fmt(r['patch_mean'], '.2f')} | {fmt(r['patch_p99'], '.2f')} | "
                         f"{fmt(r['patch_max'], '.2f')} | {fmt(r['register_mean'], '.2f')} | {fmt(r['cls'], '.2f')} | "
                         f"{fmt(o.get('otsu_cut', o['threshold']), '.2f')} | "
                         f"{fmt(None if o.get('upper_share') is None else 100 * o['upper_share'])} | "
                         f"{fmt(o.get('ratio'), '.2f')} | "
                         f"{o['bimodal']} | {fmt(100 * o['share'])} |")
        lines.append('')
    lines += [f"Time: {res['seconds']['total']:.0f} s (" + ', '.join(f'{k} {v:.0f} s' for k, v in res['seconds'].items()
                                                          if k != 'total') + ').']
    return '\n'.join(lines) + '\n'
