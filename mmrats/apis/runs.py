"""Config runs with mmengine's ``Runner``: the steps the demo and the lab experiment share.

The configs ship with the repository (``configs/``); :func:`repo_config`
finds them from the installed package (the set-up installs it editable).
"""
from __future__ import annotations

import copy
import json
import os.path as osp
from pathlib import Path

from mmengine.config import Config
from mmengine.runner import Runner

from mmrats.utils.run_config import unique_visualizer

REPO = Path(__file__).resolve().parents[2]
MONITORS = ('loss', 'teacher_entropy', 'teacher_kl_uniform')  # DINO's loss and collapse monitors


def repo_config(path: str) -> str:
    """A config of the repository by its path from the repository root (e.g. ``configs/demo/...py``)."""
    full = REPO / path
    if not full.is_file():
        raise FileNotFoundError(f'config {path} is not in {REPO}: the configs ship with the repository '
                                '(install mmrats from its clone: pip install -e .)')
    return str(full)


def load_config(path: str, options: dict | None = None) -> Config:
    """A repository config (:func:`repo_config`), with ``--cfg-options``-style ``options`` merged."""
    cfg = Config.fromfile(repo_config(path))
    if options:
        cfg.merge_from_dict(options, allow_list_keys=True)
    return cfg


def stretch_schedule(cfg: Config, epochs: int) -> Config:
    """The DINO configs' schedules (warm-up, cosine lr, weight decay) stretched to ``epochs``.

    The warm-up keeps its length up to half the run; a run of one epoch has none. The weight-decay schedule
    is optional (the lab's supervised configs keep theirs constant).
    """
    cfg.train_cfg.max_epochs = epochs
    warmup, cosine, *wd = cfg.param_scheduler
    warm = min(warmup.end, epochs // 2)
    warmup.end = warm
    cosine.update(begin=warm, end=epochs, T_max=max(1, epochs - warm))
    for w in wd:
        w.end = epochs
    cfg.param_scheduler = ([warmup] if warm else []) + [cosine, *wd]
    return cfg


def with_progress_bar(cfg: Config) -> Config:
    """Add the console progress bar (one line per stage on a quiet console; ``mmrats.ProgressBarHook``)."""
    cfg.custom_hooks = [*cfg.get('custom_hooks', []), dict(type='mmrats.ProgressBarHook')]
    return cfg


def scalars(log_dirs: list[str], last_epoch: int | None = None, monitors: tuple[str, ...] = MONITORS,
            val_prefix: str = 'parts/') -> tuple[list[dict], list[dict]]:
    """Per-epoch means of the training ``monitors`` (DINO's by default), and the validation rows (their keys
    starting with ``val_prefix``: part discovery by default), of a run's log folders.

    A resumed run logs into a new timestamped folder: ``log_dirs`` are read oldest first and a later
    folder's rows replace those of the epochs (validation steps) it ran again; rows after ``last_epoch``
    (of an older, longer run in the same work dir) are left out. One folder: that run alone.
    """
    by_epoch: dict[int, list[dict]] = {}
    by_step: dict[int, dict] = {}
    for log_dir in log_dirs:
        fresh: dict[int, list[dict]] = {}
        for line in (Path(log_dir) / 'vis_data' / 'scalars.json').read_text().splitlines():
            r = json.loads(line)
            if 'loss' in r and 'epoch' in r:
                fresh.setdefault(r['epoch'], []).append(r)
            elif any(k.startswith(val_prefix) for k in r):
                by_step[r['step']] = {k: v for k, v in r.items() if k.startswith(val_prefix) or k == 'step'}
        by_epoch.update(fresh)
    last = float('inf') if last_epoch is None else last_epoch
    epochs = [dict(epoch=e, **{k: sum(r[k] for r in by_epoch[e]) / len(by_epoch[e]) for k in monitors})
              for e in sorted(by_epoch) if e <= last]
    return epochs, [by_step[k] for k in sorted(by_step) if k <= last]


def test_untrained(cfg: Config) -> dict:
    """Metrics of the randomly initialised model of ``cfg`` (the same seed as its training run)."""
    cfg = copy.deepcopy(cfg)  # a shallow copy would share the visualizer name with the caller's other runs
    cfg.work_dir = osp.join(cfg.work_dir, 'untrained')
    cfg.load_from, cfg.resume = None, False
    unique_visualizer(cfg)
    return Runner.from_cfg(cfg).test()


def train_and_test(cfg: Config, show_dir: str | None = None) -> tuple[dict, str | None]:
    """Train, then evaluate the trained model on the test split.

    With ``show_dir``, the test pass also draws every test image with its prediction; returns the metrics
    and the folder the pictures went to.
    """
    cfg = copy.deepcopy(cfg)
    unique_visualizer(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    pictures = _draw_test_predictions(runner, show_dir) if show_dir else None
    return runner.test(), pictures


def _draw_test_predictions(runner: Runner, show_dir: str) -> str:
    """Turn on the toolbox's visualization hook for the test pass only (not the validation during training);
    mmdet writes into ``show_dir``, mmseg into the run's ``vis_data/vis_image``."""
    for hook in runner.hooks:
        if type(hook).__name__.endswith('VisualizationHook'):
            hook.draw, hook.interval = True, 1
            if hasattr(hook, 'test_out_dir'):  # mmdet
                hook.test_out_dir = osp.abspath(show_dir)
                return hook.test_out_dir
    return osp.join(runner.log_dir, 'vis_data', 'vis_image')
