"""The lab experiment's controls (issue #26; docs/lab_scale.md, "Controls"): what a run trains on, and how.

Three choices, recorded in every ``lab_results.json`` (:data:`mmrats.evaluation.lab.RECIPE`):

* ``objective``: ``'dino'`` (``configs/lab/dino_*``) or ``'supervised'`` (``configs/lab/supervised_*``:
  the same backbones trained to name the main object's category, :mod:`mmrats.apis.lab_supervised`);
* ``data_variant``: ``'default'``, or ``'colour-uninformative'``: the part objects with every part type's
  hue, saturation and brightness drawn from the same ranges (``PartObjectsConfig(colour='uninformative')``),
  for training, validation and the held-out evaluation alike;
* ``augment``: ``'default'``, or ``'no-colour'``: the training views without their colour transforms
  (colour jitter, grayscale, solarisation; :data:`COLOUR_TRANSFORMS`); the geometric ones (crops, flip) and
  the Gaussian blur are kept. Blur is kept because it changes no colour: it removes fine texture, as a
  smaller crop does, and the control asks whether *colour* is what the networks match across views.
"""
from __future__ import annotations

import json
from pathlib import Path

from mmengine.config import Config

from mmrats.evaluation.lab import DATA_VARIANTS, RECIPE

OBJECTIVES = ('dino', 'supervised')
AUGMENTS = ('default', 'no-colour')
COLOUR_TRANSFORMS = ('ColorJitter', 'RandomGrayscale', 'Solarize')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def check_recipe(recipe: dict | None) -> dict:
    """``recipe`` with :data:`~mmrats.evaluation.lab.RECIPE`'s defaults filled in.

    Raises:
        ValueError: an unknown key or value.
    """
    out = dict(RECIPE, **(recipe or {}))
    choices = dict(objective=OBJECTIVES, data_variant=tuple(DATA_VARIANTS), augment=AUGMENTS)
    for key, value in out.items():
        if key not in choices or value not in choices[key]:
            raise ValueError(f'lab recipe {key}={value!r}: choose one of {choices.get(key, tuple(choices))}')
    return out


def _is_colour(t: dict) -> bool:
    return str(t.get('type', '')).split('.')[-1] in COLOUR_TRANSFORMS


def without_colour(pipeline: list) -> list:
    """A copy of a pipeline without :data:`COLOUR_TRANSFORMS`, at any depth (``MultiView``'s views,
    ``RandomApply`` / ``Compose``'s transforms); a wrapper left with nothing to apply goes too."""
    out = []
    for t in pipeline:
        if isinstance(t, (list, tuple)):  # one view of MultiView
            out.append(without_colour(list(t)))
            continue
        if _is_colour(t):
            continue
        t = dict(t)
        if 'transforms' in t:
            inner = without_colour(list(t['transforms']))
            if not inner:
                continue
            t['transforms'] = inner
        out.append(t)
    return out


def apply_recipe(cfg: Config, recipe: dict | None) -> Config:
    """The data variant (every loader's dataset) and the augmentations (the training pipeline) of ``recipe``."""
    recipe = check_recipe(recipe)
    colour = DATA_VARIANTS[recipe['data_variant']]
    if colour != 'informative':
        for key in LOADERS:
            if cfg.get(key):
                ds = cfg[key].dataset
                ds.gen_cfg = dict(ds.get('gen_cfg') or {}, colour=colour)
    if recipe['augment'] == 'no-colour':
        ds = cfg.train_dataloader.dataset
        ds.pipeline = without_colour(list(ds.pipeline))
    return cfg


def check_data_root(data_root: str, data_variant: str) -> None:
    """Refuse a Mask2Former data folder written for another data variant (the writer would rewrite it in place,
    under the feet of the processes that share it).

    Raises:
        ValueError: ``data_root/manifest.json`` records other colours than ``data_variant``'s.
    """
    manifest = Path(data_root) / 'manifest.json'
    if not manifest.is_file():
        return
    held = json.loads(manifest.read_text()).get('params', {}).get('config', {}).get('colour', 'informative')
    if held != DATA_VARIANTS[data_variant]:
        name = {v: k for k, v in DATA_VARIANTS.items()}.get(held, held)
        raise ValueError(f'{data_root} holds the {name!r} part objects, not {data_variant!r}: pass another '
                         '--data-root (or none: WORK_DIR/data)')
