"""Tables of the lab-scale experiment, mean ± std over seeds (``tools/lab/lab_experiment.py``, docs/lab_scale.md)."""
from __future__ import annotations

import numpy as np

from mmrats.datasets.part_objects_catalogue import CATEGORY_NAMES

from .results import RECIPE, recipe_of

CHANCE = 100.0 / len(CATEGORY_NAMES)  # category accuracy of a guess (%)
MAPS = {'registers': 'register-patch cosine (Eq. 7)', 'cls-attn': '[CLS] attention, one map per head',
        'register-attn': 'register attention'}
NAMES = {'rats': 'RATS ({} registers)', 'vit': 'ViT ([CLS])', 'vitreg': 'ViT + {} registers',
         'rats-codebook': 'RATS ({} registers) + codebook',
         'rats-codebook-large': 'RATS ({} registers) + large codebook',
         'vit-lastvit': 'ViT (LaSt-ViT aggregate)'}
# where each model's config keeps its number of registers (a --cfg-options change of it renames the rows)
REGISTER_KEYS = {'vitreg': 'model.backbone.num_registers'}


def label(model: str, results: dict) -> str:
    """The row and legend name of ``model`` in a run, with the register count the run gave it."""
    key = REGISTER_KEYS.get(model, 'model.backbone.arch.num_registers')
    return NAMES[model].format(results.get('cfg_options', {}).get(key, 16))


def _ms(values: list[float], digits: int = 1) -> str:
    v = np.asarray(values, float)
    if len(v) == 0:
        return '-'
    return f'{v.mean():.{digits}f} ± {v.std(ddof=1) if len(v) > 1 else 0.0:.{digits}f}'


def seeds_of(results: dict) -> list[int]:
    return list(results['sizes']['seeds'])


def near_chance(accuracy: float) -> bool:
    """Issue #26's flag: a held-out category accuracy (%) below twice chance (2 x 11.1 %)."""
    return accuracy < 2 * CHANCE


def _trained(results: dict) -> str:
    """What the trained rows are called: DINO's ``pretrained``, the supervised control's ``supervised``."""
    return 'supervised' if recipe_of(results)['objective'] == 'supervised' else 'pretrained'


def markdown(results: dict) -> str:
    """All tables of a results dict."""
    seeds, models, ks = seeds_of(results), results['models'], [str(k) for k in results['sizes']['top_ks']]
    n = len(seeds)
    params = ', '.join(f'{label(m, results)} {c:,}' for m, c in results['params'].items())
    recipe, trained = recipe_of(results), _trained(results)
    lines = [f"# Lab-scale experiment ({results['setting']} setting, {n} seed{'s' * (n > 1)}: "
             f"{', '.join(map(str, seeds))}; mean ± std over seeds)", '']
    if recipe != RECIPE:
        lines += ['Recipe (issue #26 controls): '
                  + ', '.join(f'{k.replace("_", " ")} `{v}`' for k, v in recipe.items()), '']
    lines += [f'Backbone parameters: {params}', '',
              '## Part discovery on the held-out test images (M2O / O2O / ARI, %)', '',
              '| backbone | weights | maps | ' + ' | '.join(f'M2O top-{k}' for k in ks) + ' | O2O top-8 | ARI top-8 |',
              '|---' * (len(ks) + 5) + '|']
    for m in models:
        for state in ('pretrained', 'untrained'):
            rows = [results['parts'].get(f'{m}/seed{s}/{state}') for s in seeds]
            rows = [r for r in rows if r]
            if not rows:
                continue
            k8 = '8' if '8' in ks else ks[-1]
            lines.append(f"| {label(m, results)} | {_state(state, trained)} | "
                         f"{rows[0]['method']} ({rows[0]['num_maps']}) | "
                         + ' | '.join(_ms([r['per_k'][k]['m2o'] for r in rows]) for k in ks)
                         + f" | {_ms([r['per_k'][k8]['o2o'] for r in rows])}"
                         + f" | {_ms([r['per_k'][k8]['ari'] for r in rows])} |")
    supervised = trained == 'supervised'
    lines += ['', '## k-NN top-1 on the categories (global representation, k = 10, %)', '',
              f'| backbone | {trained} | untrained |' + ' linear head, held-out test (chance 11.1) |' * supervised,
              '|---|---|---|' + '---|' * supervised]
    for m in models:
        vals = {st: [results['knn'][f'{m}/seed{s}/{st}'] for s in seeds if f'{m}/seed{s}/{st}' in results['knn']]
                for st in ('pretrained', 'untrained')}
        lines.append(f"| {label(m, results)} | {_ms(vals['pretrained'])} | {_ms(vals['untrained'])} |"
                     + f' {_accuracy(results, m)} |' * supervised)
    lines += ['', '## Diagnostics of the candidate maps (test images)', '',
              '| backbone | weights | map similarity (mean pairwise cosine) | regions used at top-16 | '
              'attention entropy (nats) | per head | part NMI (%) | part purity (%) | maps used |',
              '|---|---|---|---|---|---|---|---|---|']
    for m in models:
        for state in ('pretrained', 'untrained'):
            d = [results['diagnostics'][f'{m}/seed{s}/{state}'] for s in seeds
                 if f'{m}/seed{s}/{state}' in results['diagnostics']]
            if d:
                heads = [x['attention_entropy_per_head'] for x in d if 'attention_entropy_per_head' in x]
                spec = [x['specialisation'] for x in d if 'specialisation' in x]
                per_head = ' / '.join(f'{v:.2f}' for v in np.mean(heads, 0)) if heads else '-'
                lines.append(f"| {label(m, results)} | {_state(state, trained)} | "
                             f"{_ms([x['map_similarity'] for x in d], 3)} | "
                             f"{_ms([x['regions_used'] for x in d])} | {_ms([x['attention_entropy'] for x in d], 2)} | "
                             f"{per_head} | {_ms([x['nmi'] for x in spec])} | {_ms([x['purity'] for x in spec])} | "
                             f"{_ms([x['maps_used'] for x in spec])} |")
    lines += ['', 'Per head: the entropy of each head (mean over seeds). Part NMI / purity: each object patch goes '
              'to its highest candidate map; the normalised mutual information between map index and part type, '
              'and the share of each map\'s patches in its most frequent part type, over all test images (100: '
              'every map always takes one part type). Maps used: the effective number of maps that win patches.']
    lines += _supervised_table(results) if supervised else _dino_table(results)
    resumed = [f"{k} (from epoch {r['resumed_from_epoch']})" for k, r in results['pretrain'].items()
               if 'resumed_from_epoch' in r]
    if resumed:
        lines += ['', f"{'Training' if supervised else 'Pretraining'} continued after an interruption "
                  '(`--resume`), its times count the continued part only: ' + ', '.join(resumed) + '.']
    if results.get('m2f'):
        lines += ['', f"## Mask2Former on the part labels ({results['sizes']['m2f_iters']} iterations, test mIoU, %)",
                  '', '| initialisation | queries | mIoU | mAcc |', '|---|---|---|---|']
        for v in ('rats-regq', 'rats-learned', 'vit-learned'):
            rs = [results['m2f'][f'{v}/seed{s}'] for s in seeds if f'{v}/seed{s}' in results['m2f']]
            if rs:
                bb, q = v.split('-')
                init = 'supervised backbone' if supervised else 'DINO teacher'
                lines.append(f"| {label(bb, results)} {init} | {'registers' if q == 'regq' else 'learned'} | "
                             f"{_ms([r['mIoU'] for r in rs])} | {_ms([r['mAcc'] for r in rs])} |")
    if results.get('cfg_options'):
        lines += ['', 'Recipe changes given to every model alike (`--cfg-options`): '
                  + ', '.join(f'`{k}={v}`' for k, v in results['cfg_options'].items()) + '.']
    if 'merged_from' in results:
        lines += ['', f"Merged from {len(results['merged_from'])} runs (one per group of seeds or models); "
                  'the times below are sums over the runs, whether they ran one after the other or side by side.']
    if 'total_seconds' in results:
        lines += ['', time_line(results)]
    return '\n'.join(lines) + '\n'


def _state(state: str, trained: str) -> str:
    return trained if state == 'pretrained' else state


def _runs(results: dict, m: str) -> list[dict]:
    return [results['pretrain'][f'{m}/seed{s}'] for s in seeds_of(results) if f'{m}/seed{s}' in results['pretrain']]


def _accuracy(results: dict, m: str) -> str:
    """The held-out category accuracy of a model's supervised runs, flagged when it is near chance."""
    acc = [r['accuracy'] for r in _runs(results, m) if 'accuracy' in r]
    if not acc:
        return '-'
    flag = f' **near chance** (< {2 * CHANCE:.1f})' if near_chance(float(np.mean(acc))) else ''
    return _ms(acc) + flag


def _first_last(runs: list[dict], key: str, rows: str = 'epochs', digits: int = 2) -> str:
    if not all(r[rows] and key in r[rows][0] for r in runs):
        return '-'
    return f"{_ms([r[rows][0][key] for r in runs], digits)} -> {_ms([r[rows][-1][key] for r in runs], digits)}"


def _supervised_table(results: dict) -> list[str]:
    """The supervised control's training (issue #26): loss, accuracies, and the held-out test accuracy."""
    lines = ['', '## Supervised training (mean of the first and the last epoch; accuracy in %)', '',
             '| backbone | iterations | wall (s) | CPU (s) | loss first -> last | training-batch accuracy first -> '
             'last | val accuracy first -> last | held-out test accuracy (chance 11.1) |',
             '|---|---|---|---|---|---|---|---|']
    for m in results['models']:
        runs = _runs(results, m)
        if runs:
            lines.append(f"| {label(m, results)} | {runs[0]['iters']} | {_ms([r['seconds'] for r in runs], 0)} | "
                         f"{_ms([r.get('cpu_seconds', float('nan')) for r in runs], 0)} | "
                         f"{_first_last(runs, 'loss')} | {_first_last(runs, 'accuracy_top-1', digits=1)} | "
                         f"{_first_last(runs, 'accuracy/top1', 'val', 1)} | {_accuracy(results, m)} |")
    near = [label(m, results) for m in results['models'] if 'near chance' in _accuracy(results, m)]
    if near:
        lines += ['', f"**Near chance** (held-out accuracy below {2 * CHANCE:.1f} %): {', '.join(near)}: the "
                  'classifier has not learned the categories; train longer (`--epochs`) before reading its maps.']
    return lines


def _dino_table(results: dict) -> list[str]:
    """DINO's training: loss and collapse monitors, validation part discovery."""
    lines = ['', '## DINO pretraining (mean of the first and the last epoch)', '',
             '| backbone | iterations | wall (s) | CPU (s) | loss first -> last | teacher entropy first -> last | '
             'KL to uniform first -> last | val M2O (top-8) first -> last |', '|---|---|---|---|---|---|---|---|']
    for m in results['models']:
        runs = _runs(results, m)
        if not runs:
            continue
        val = [r['val'] for r in runs if r['val']]
        vm = (f"{_ms([v[0]['parts/m2o'] for v in val])} -> {_ms([v[-1]['parts/m2o'] for v in val])}" if val else '-')
        lines.append(f"| {label(m, results)} | {runs[0]['iters']} | {_ms([r['seconds'] for r in runs], 0)} | "
                     f"{_ms([r.get('cpu_seconds', float('nan')) for r in runs], 0)} | {_first_last(runs, 'loss')} | "
                     f"{_first_last(runs, 'teacher_entropy')} | {_first_last(runs, 'teacher_kl_uniform')} | {vm} |")
    return lines


def time_line(results: dict) -> str:
    """The run's total wall and CPU time, with what the thread count means for reading them."""
    threads = results['threads']
    if threads == 1:
        reading = '1 thread per process: a process alone keeps one core busy, wall time about CPU time'
    else:
        reading = (f'{threads} threads per process; on the idle 2-core CPU a process alone has a wall time '
                   'of about CPU time / 2')
    return (f"Total wall time {results['total_seconds'] / 60:.1f} min, CPU time "
            f"{results.get('total_cpu_seconds', float('nan')) / 60:.1f} min ({reading}).")
