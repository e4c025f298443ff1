"""k-NN validation during DINO pretraining: DINO's ``eval_knn.py`` protocol on a subset of ImageNet.

Every ``interval`` epochs (and after the last one), the *teacher* backbone's
global representation (RATS: the registers' mean; ViT: [CLS]; the DINO
model's ``global_repr``) of one centre view per image (shorter side 256,
centre crop 224) is computed for the first ``max_per_class`` images of each
class of ``DATA_ROOT/train`` (the bank) and the first ``val_max_per_class``
of ``DATA_ROOT/val`` (the queries); 20 neighbours vote with weight
``exp(cos / 0.07)`` (:func:`mmrats.evaluation.knn.knn_classify`). The run
logs ``knn/top1`` and ``knn/top5`` (the log, the message hub and the
visualizer's ``scalars.json``, step = the epoch). The images and features
are :mod:`mmrats.evaluation.knn_features`, as :func:`mmrats.apis.knn_evaluate`
reads them, so the hook's number is that function's on the same subset.

On a subset the bank is small (20 of ImageNet's ~1,300 images per class),
so the accuracy is lower than, and not comparable with, the full protocol
(DINO ViT-S/16: 69.3 % after 100 epochs): it tracks a run's progress; the
full protocol is ``tools/analysis/knn_eval.py``.

Distributed: each rank extracts ``rank::world_size`` of the images, the
features are gathered back into one order, and every rank classifies the
same bank, so all ranks log the same numbers.
"""
from __future__ import annotations

import time

import torch
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import AmpOptimWrapper

from mmrats.evaluation.knn import knn_classify
from mmrats.evaluation.knn_features import knn_splits, sharded_features
from mmrats.registry import HOOKS


@HOOKS.register_module()
class KNNValidationHook(Hook):
    """Weighted k-NN accuracy of the DINO teacher on a subset of ImageNet, every ``interval`` epochs.

    Args:
        interval: epochs between two validations; 0 switches the hook off (and its data check).
        data_root: holds ``<train_split>/<class>/<image>`` and ``<val_split>/<class>/<image>``;
            None: the training set's ``data_root`` (``train_dataloader.dataset``, through wrappers).
        train_split, val_split: the bank's and the queries' folders.
        max_per_class: the bank: the first ``N`` train images (sorted by name) of each class; None: all.
        val_max_per_class: the queries: the first ``N`` val images of each class; None: all.
        k: neighbours (DINO: 20). temperature: of the votes (DINO: 0.07).
        img_size: the centre crop (DINO: 224, from the shorter side resized to 256).
        batch_size: images per forward pass (per rank).
        num_workers: ``DataLoader`` processes per rank that read and crop the images.
        backbone: ``'teacher'`` (DINO's evaluation) or ``'student'``.
        at_end: also after the last epoch when it is not a multiple of ``interval``.
        autocast: run the backbone in the dtype of the run's ``AmpOptimWrapper`` (bf16 / fp16), if it has one.
    """

    priority = 'BELOW_NORMAL'  # after the teacher's EMA step, before the checkpoint is saved

    def __init__(self, interval: int = 10, data_root: str | None = None, train_split: str = 'train',
                 val_split: str = 'val', max_per_class: int | None = 20, val_max_per_class: int | None = 10,
                 k: int = 20, temperature: float = 0.07, img_size: int = 224, batch_size: int = 64,
                 num_workers: int = 8, backbone: str = 'teacher', at_end: bool = True, autocast: bool = True) -> None:
        if interval < 0:
            raise ValueError(f'KNNValidationHook interval must be >= 0 (0: off), got {interval}')
        for name, value in (('max_per_class', max_per_class), ('val_max_per_class', val_max_per_class)):
            if value is not None and value < 1:
                raise ValueError(f'KNNValidationHook {name} must be >= 1 or None (all), got {value}')
        if k < 1 or temperature <= 0 or img_size < 1 or batch_size < 1 or num_workers < 0:
            raise ValueError(f'KNNValidationHook needs k >= 1, temperature > 0, img_size >= 1, batch_size >= 1 '
                             f'and num_workers >= 0, got {k}, {temperature}, {img_size}, {batch_size}, {num_workers}')
        if backbone not in ('teacher', 'student'):
            raise ValueError(f"KNNValidationHook backbone must be 'teacher' or 'student', got {backbone!r}")
        self.interval, self.data_root, self.at_end, self.autocast = interval, data_root, at_end, autocast
        self.train_split, self.val_split = train_split, val_split
        self.max_per_class, self.val_max_per_class = max_per_class, val_max_per_class
        self.k, self.temperature, self.img_size = k, temperature, img_size
        self.batch_size, self.num_workers, self.backbone = batch_size, num_workers, backbone
        self.split: dict | None = None
        self.root: str | None = None

    # ------------------------------------------------------------------ checks
    def before_train(self, runner) -> None:
        """List the subset once and check it exists, so a missing folder stops the run before it trains."""
        if not self.interval:
            return
        key = config_key(runner)
        root = self.data_root or train_data_root(runner.cfg)
        if root is None:
            raise ValueError(f'KNNValidationHook ({key}): no data_root, and train_dataloader.dataset has none; '
                             f'set --cfg-options {key}.data_root=PATH, or switch it off with '
                             f'--cfg-options {key}.interval=0')
        self._backbone(runner)  # the model has what is evaluated
        try:
            self.split = knn_splits(root, self.train_split, self.val_split, self.max_per_class,
                                    self.val_max_per_class)
        except (FileNotFoundError, ValueError) as e:
            raise type(e)(f'KNNValidationHook ({key}, the k-NN validation during pretraining): {e}. It reads '
                          f'DATA_ROOT/{self.train_split}/<class>/<image> and DATA_ROOT/{self.val_split}/<class>/'
                          f'<image> with DATA_ROOT = {str(root)!r}: set --cfg-options {key}.data_root=PATH, or '
                          f'switch it off with --cfg-options {key}.interval=0') from None
        self.root = str(root)
        s = self.split
        runner.logger.info(f'k-NN validation every {self.interval} epochs: {len(s["train_paths"])} train / '
                           f'{len(s["val_paths"])} val images of {len(s["classes"])} classes from {self.root} '
                           f'({self.backbone}, k={self.k}, T={self.temperature}, centre crop {self.img_size})')

    def _backbone(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if self.backbone == 'student':
            return model, model.backbone
        teacher = getattr(model, 'teacher', None)
        if teacher is None or 'backbone' not in teacher:
            raise ValueError(f"KNNValidationHook backbone='teacher' needs a DINO model (model.teacher.backbone); "
                             f"{type(model).__name__} has none: use backbone='student'")
        return model, teacher['backbone']

    # -------------------------------------------------------------- evaluation
    def after_train_epoch(self, runner) -> None:
        if not self.interval:
            return
        if self.every_n_epochs(runner, self.interval) or (self.at_end and self.is_last_train_epoch(runner)):
            self.evaluate(runner)

    def evaluate(self, runner) -> dict:
        """k-NN of the model now; logs ``knn/top1`` and ``knn/top5`` at step ``runner.epoch + 1``."""
        if self.split is None:
            self.before_train(runner)
        model, backbone = self._backbone(runner)
        s, start = self.split, time.perf_counter()
        kw = dict(img_size=self.img_size, batch_size=self.batch_size, num_workers=self.num_workers,
                  global_repr=getattr(model, 'global_repr', 'auto'), lastvit=getattr(model, 'lastvit', None),
                  autocast_dtype=amp_dtype(runner) if self.autocast else None)
        was_training = runner.model.training
        runner.model.eval()
        try:
            with torch.no_grad():
                bank = sharded_features(backbone, s['train_paths'], **kw)
                queries = sharded_features(backbone, s['val_paths'], **kw)
        finally:
            runner.model.train(was_training)
        res = knn_classify(bank, s['train_labels'], queries, s['val_labels'], self.k, self.temperature,
                           num_classes=len(s['classes']))
        scalars = {'knn/top1': res['top1'], 'knn/top5': res['top5']}
        for name, value in scalars.items():
            runner.message_hub.update_scalar(name, value)
        epoch = runner.epoch + 1
        runner.visualizer.add_scalars(scalars, step=epoch)
        runner.logger.info(f'Epoch(knn) [{epoch}]  knn/top1: {res["top1"]:.4f}  knn/top5: {res["top5"]:.4f}  '
                           f'({res["num_train"]} train / {res["num_test"]} val images, k={res["k"]}, '
                           f'{self.backbone} {kw["global_repr"]}, {dist.get_world_size()} rank(s), '
                           f'{time.perf_counter() - start:.1f} s)')
        return res


def amp_dtype(runner) -> torch.dtype | None:
    """The autocast dtype of the run's optimizer wrapper (bf16 / fp16 for an ``AmpOptimWrapper``), else None."""
    wrapper = getattr(runner, 'optim_wrapper', None)
    if not isinstance(wrapper, AmpOptimWrapper):
        return None
    return wrapper.cast_dtype or torch.float16  # autocast's own default on CUDA


def train_data_root(cfg) -> str | None:
    """``train_dataloader.dataset.data_root``, looked up through dataset wrappers (``dataset.dataset``)."""
    ds = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    while 'data_root' not in ds and isinstance(ds.get('dataset'), dict):
        ds = ds['dataset']
    return ds.get('data_root')


def config_key(runner) -> str:
    """Where the hook sits in the config: ``custom_hooks.<i>`` (the key for ``--cfg-options``)."""
    for i, h in enumerate(runner.cfg.get('custom_hooks') or []):
        if isinstance(h, dict) and str(h.get('type', '')).split('.')[-1] == 'KNNValidationHook':
            return f'custom_hooks.{i}'
    return 'custom_hooks.<index of mmrats.KNNValidationHook>'
