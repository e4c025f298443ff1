"""The report of a part-segmentation evaluation: Table 1's row, per-dataset details and sweeps (markdown)."""
from __future__ import annotations

from .part_metrics import AVERAGING, METRICS


def dataset_line(name: str, scores: dict, timing: dict) -> str:
    """One console line: a dataset's scores and throughput."""
    skipped = f", {scores['num_skipped']} all-ignored skipped" if scores['num_skipped'] else ''
    return (f"{name}: M2O {scores['m2o']:.1f}  O2O {scores['o2o']:.1f}  ARI {scores['ari']:.1f}  "
            f"({scores['num_images']} images{skipped}); {timing['images']} images in {timing['seconds']:.1f} s = "
            f"{timing['images_per_s']:.2f} images/s end to end (model + segmentation "
            f"{timing['model_images_per_s']:.2f} images/s) -> 2,000 images at {timing['img_size']}: "
            f"{timing['seconds_for_2000_images'] / 60:.1f} min")


def part_markdown(summary: dict) -> str:
    """Table-1-style row, per-dataset details, sweep tables of :func:`mmrats.apis.evaluate_parts`' summary."""
    names = list(summary['datasets'])
    d = summary['datasets']
    lines = [f"## Part segmentation: {summary['model']['name']}", '',
             f"{summary['settings']['img_size']}x{summary['settings']['img_size']}, method "
             f"{summary['model']['method']}, top-{summary['settings']['top_k']}, sigma {summary['settings']['sigma']}; "
             f'{AVERAGING}.', '',
             '| Method | Backbone | #Register | ' + ' | '.join(names) + ' | Avg | ARI |',
             '|---' * (len(names) + 5) + '|',
             f"| {summary['model']['name']} | {summary['model']['backbone']} | {summary['model']['num_registers']} | "
             + ' | '.join(f"{d[n]['m2o']:.1f}" for n in names)
             + f" | {summary['row']['avg_m2o']:.1f} | {summary['row']['avg_ari']:.1f} |", '',
             '| Dataset | images | M2O | O2O | ARI | images/s | 2,000 images |', '|---|---|---|---|---|---|---|']
    for n in names:
        t = d[n]['timing']
        lines.append(f"| {n} | {d[n]['num_images']} | {d[n]['m2o']:.1f} | {d[n]['o2o']:.1f} | {d[n]['ari']:.1f} | "
                     f"{t['images_per_s']:.2f} | {t['seconds_for_2000_images'] / 60:.1f} min |")
    for key, label in (('resolution', 'resolution'), ('top_k', 'top-K')):
        sw = summary.get('sweep', {}).get(key)
        if sw:
            lines += ['', f'### Sweep over {label}', '', '| Dataset | metric | ' + ' | '.join(map(str, sw['values']))
                      + ' |', '|---' * (len(sw['values']) + 2) + '|']
            lines += [f'| {n} | {m} | ' + ' | '.join(f'{v:.1f}' for v in sw['curves'][n][m]) + ' |'
                      for n in names for m in METRICS]
    return '\n'.join(lines) + '\n'
