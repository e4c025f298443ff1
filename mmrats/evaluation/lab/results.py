"""Saved results of the lab-scale experiment: several runs merged into one, a saved run extended by ``--resume``."""
from __future__ import annotations

import json
from pathlib import Path

# What a run trained (issue #26's controls): the objective, the data variant and the augmentations. A run saved
# before they existed holds none of them: it was a DINO run on the default data with the default augmentations.
RECIPE = dict(objective='dino', data_variant='default', augment='default')


def recipe_of(results: dict) -> dict:
    """The objective, data variant and augmentations of a run (:data:`RECIPE`'s defaults where not recorded)."""
    return {k: results.get(k, v) for k, v in RECIPE.items()}


def _identity(results: dict) -> dict:
    """What two runs must share to be merged or continued: the setting, ``--cfg-options`` and :data:`RECIPE`."""
    return dict(setting=results.get('setting'), cfg_options=results.get('cfg_options'), **recipe_of(results))


def _recipe_mismatch(a: dict, b: dict) -> list[str]:
    """``"'<key>' (<b's> vs <a's>)"`` for every key of :func:`_identity` in which ``b`` differs from ``a``."""
    ia, ib = _identity(a), _identity(b)
    return [f'{k!r} ({ib[k]!r} vs {ia[k]!r})' for k in ia if ia[k] != ib[k]]


def merge_results(parts: list[dict], names: list[str]) -> dict:
    """The results of runs of one recipe with other seeds or other models as one.

    Runs may split the work by seed (one process per seed) or by model (one process per model); together they
    must hold every model for every seed once.

    Raises:
        ValueError: names what differs (setting, ``--cfg-options``, objective, data variant, augmentations,
            sizes), a model and seed held twice, or one missing.
    """
    for name, r in zip(names[1:], parts[1:]):
        diff = _recipe_mismatch(parts[0], r)
        if diff:
            raise ValueError(f'{name} differs from {names[0]} in {", ".join(diff)}: only runs of one recipe '
                             '(--setting, --cfg-options, --objective, --data-variant, --augment) can be merged')
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
    merged = dict(parts[0], **recipe_of(parts[0]))
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
        ValueError: the saved run has another setting, sizes (seeds apart), ``--cfg-options``, objective, data
            variant or augmentations.
    """
    old = json.loads(path.read_text())
    saved, wanted = _identity(old), _identity(fresh)
    for key in saved:
        if saved[key] != wanted[key]:
            raise ValueError(f'{path} was run with {key} {saved[key]!r}, not {wanted[key]!r}: resume with the '
                             'same options, or use another --work-dir')
    # the sizes of the steps the saved run holds must match; Mask2Former's may change while it has none
    free = ('seeds',) + (('m2f_train_images', 'm2f_iters') if not old['m2f'] else ())
    sizes = {k: v for k, v in json.loads(json.dumps(fresh['sizes'])).items() if k not in free}  # as saved
    saved = {k: v for k, v in old['sizes'].items() if k not in free}
    if saved != sizes:
        diff = sorted(k for k in sizes if saved.get(k) != sizes[k])
        raise ValueError(f'{path} was run with other sizes ({", ".join(f"{k}={saved.get(k)}" for k in diff)}): '
                         'resume with the same --setting, --epochs and --m2f-iters, or use another --work-dir')
    out = dict(old, **recipe_of(old))
    out['sizes'] = dict(fresh['sizes'], seeds=sorted(set(old['sizes']['seeds']) | set(fresh['sizes']['seeds'])))
    out['models'] = list(dict.fromkeys(old['models'] + fresh['models']))
    out['params'] = {**old.get('params', {}), **fresh['params']}
    return out
