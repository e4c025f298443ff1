"""Saved results of the lab-scale experiment: several runs merged into one, a saved run extended by ``--resume``."""
from __future__ import annotations

import json
from pathlib import Path


def merge_results(parts: list[dict], names: list[str]) -> dict:
    """The results of runs of one recipe with other seeds or other models as one.

    Runs may split the work by seed (one process per seed) or by model (one process per model); together they
    must hold every model for every seed once.

    Raises:
        ValueError: names what differs (setting, ``--cfg-options``, sizes), a model and seed held twice, or one
            missing.
    """
    for name, r in zip(names[1:], parts[1:]):
        for key in ('setting', 'cfg_options'):
            if r.get(key) != parts[0].get(key):
                raise ValueError(f'{name} differs from {names[0]} in {key!r} ({r.get(key)} vs {parts[0].get(key)}): '
                                 'only runs of one recipe can be merged')
        other = {k: v for k, v in r['sizes'].items() if k != 'seeds'}
        if other != {k: v for k, v in parts[0]['sizes'].items() if k != 'seeds'}:
            raise ValueError(f'{name} differs from {names[0]} in its sizes ({other}): only runs of one setting '
                             '(and --epochs) can be merged')
    held = [(m, s) for r in parts for m in r['models'] for s in r['sizes']['seeds']]
    twice = sorted({f'{m}/seed{s}' for m, s in held if held.count((m, s)) > 1})
    if twice:
        raise ValueError(f'{", ".join(twice)} appears in more than one run: merge runs of other seeds or models')
    models = list(dict.fromkeys(m for r in parts for m in r['models']))
    seeds = sorted({s for _, s in held})
    missing = [f'{m}/seed{s}' for m in models for s in seeds if (m, s) not in held]
    if missing:
        raise ValueError(f'no run holds {", ".join(missing)}: the merged runs must hold every model for every seed '
                         '(run them with --models and --seeds, then merge)')
    merged = dict(parts[0])
    merged['sizes'] = dict(parts[0]['sizes'], seeds=seeds)
    merged['models'] = models
    merged['params'] = {k: v for r in parts for k, v in r.get('params', {}).items()}
    for key in ('pretrain', 'parts', 'knn', 'diagnostics', 'm2f'):
        merged[key] = {k: v for r in parts for k, v in r[key].items()}
    for key in ('total_seconds', 'total_cpu_seconds'):
        merged[key] = round(sum(r.get(key, 0.0) for r in parts), 1)
    merged['merged_from'] = list(names)
    return merged


def resumed(path: Path, fresh: dict) -> dict:
    """``--resume``: the saved results of ``path`` extended to ``fresh``'s seeds and models.

    Raises:
        ValueError: the saved run has another setting, sizes (seeds apart) or ``--cfg-options``.
    """
    old = json.loads(path.read_text())
    for key in ('setting', 'cfg_options'):
        if old.get(key) != fresh[key]:
            raise ValueError(f'{path} was run with {key} {old.get(key)!r}, not {fresh[key]!r}: resume with the '
                             'same options, or use another --work-dir')
    # the sizes of the steps the saved run holds must match; Mask2Former's may change while it has none
    free = ('seeds',) + (('m2f_train_images', 'm2f_iters') if not old['m2f'] else ())
    sizes = {k: v for k, v in json.loads(json.dumps(fresh['sizes'])).items() if k not in free}  # as saved
    saved = {k: v for k, v in old['sizes'].items() if k not in free}
    if saved != sizes:
        diff = sorted(k for k in sizes if saved.get(k) != sizes[k])
        raise ValueError(f'{path} was run with other sizes ({", ".join(f"{k}={saved.get(k)}" for k in diff)}): '
                         'resume with the same --setting, --epochs and --m2f-iters, or use another --work-dir')
    out = dict(old)
    out['sizes'] = dict(fresh['sizes'], seeds=sorted(set(old['sizes']['seeds']) | set(fresh['sizes']['seeds'])))
    out['models'] = list(dict.fromkeys(old['models'] + fresh['models']))
    out['params'] = {**old.get('params', {}), **fresh['params']}
    return out
