"""The head check: the class counts of a model's heads vs the dataset's classes.

A head sized for another dataset fails in the loss, often as a device-side
assert on a GPU. Checked here:

* mmdet: ``panoptic_head.num_things_classes`` / ``num_stuff_classes`` (and
  ``panoptic_fusion_head``, ``loss_cls.class_weight``, ``test_cfg.max_per_image``
  against ``num_queries`` x classes), else ``num_classes`` of ``bbox_head``,
  ``roi_head.bbox_head`` and ``roi_head.mask_head``;
* mmseg: ``decode_head.num_classes`` (and ``auxiliary_head``,
  ``loss_cls.class_weight``).
"""
from __future__ import annotations

from .errors import ClassCheckError, short


def _class_weight_error(key: str, head: dict, n: int) -> str | None:
    w = (head.get('loss_cls') or {}).get('class_weight')
    if isinstance(w, (list, tuple)) and len(w) != n + 1:
        return (f'{key}.loss_cls.class_weight has {len(w)} entries, Mask2Former needs num_classes + 1 = {n + 1} '
                f'(the last is the no-object weight): set it to [1.0] * {n} + [0.1]')
    return None


def check_det_head(cfg, key: str, classes: tuple, ds: dict) -> None:
    """mmdet: the head's class counts (and Mask2Former's class weights and top-k) vs the dataset's classes."""
    model = cfg.get('model') or {}
    meta = ds.get('metainfo') or {}
    things = len(meta.get('thing_classes') or classes) if 'stuff_classes' in meta else len(classes)
    stuff = len(meta.get('stuff_classes') or ()) if 'stuff_classes' in meta else 0
    head = model.get('panoptic_head')
    if isinstance(head, dict) and 'num_things_classes' in head:
        for name in ('panoptic_head', 'panoptic_fusion_head'):
            h = model.get(name) or {}
            got = (h.get('num_things_classes'), h.get('num_stuff_classes'))
            if None not in got and got != (things, stuff):
                raise ClassCheckError(
                    f'model.{name} has num_things_classes={got[0]}, num_stuff_classes={got[1]}, but {key} has '
                    f'{len(classes)} classes {short(classes)}: set model.panoptic_head and model.panoptic_fusion_head '
                    f'to num_things_classes={things}, num_stuff_classes={stuff} (and panoptic_head.loss_cls.'
                    f'class_weight=[1.0] * {things + stuff} + [0.1])')
        err = _class_weight_error('model.panoptic_head', head, things + stuff)
        if err:
            raise ClassCheckError(err)
        test_cfg = model.get('test_cfg') or {}
        k, q = test_cfg.get('max_per_image'), head.get('num_queries')
        if test_cfg.get('instance_on', False) and k and q and k > q * (things + stuff):
            raise ClassCheckError(
                f'model.test_cfg.max_per_image={k} is more than num_queries x classes = {q} x {things + stuff} = '
                f'{q * (things + stuff)} (mmdet takes the top max_per_image of those scores and would fail at the '
                f'first validation): set model.test_cfg.max_per_image={q * (things + stuff)} or lower')
        return
    for hk, h in _det_class_heads(model):
        if h['num_classes'] != len(classes):
            raise ClassCheckError(f'{hk}.num_classes={h["num_classes"]} but {key} has {len(classes)} classes '
                                  f'{short(classes)}: set {hk}.num_classes={len(classes)}')


def _det_class_heads(model: dict):
    for name in ('bbox_head', 'roi_head.bbox_head', 'roi_head.mask_head'):
        node = model
        for part in name.split('.'):
            node = node.get(part) if isinstance(node, dict) else None
        for i, h in enumerate(node if isinstance(node, (list, tuple)) else [node]):
            if isinstance(h, dict) and isinstance(h.get('num_classes'), int):
                yield f'model.{name}' + (f'[{i}]' if isinstance(node, (list, tuple)) else ''), h


def check_seg_head(cfg, key: str, classes: tuple) -> None:
    """mmseg: ``decode_head`` / ``auxiliary_head`` ``num_classes`` (and class weights) vs the dataset's classes."""
    model = cfg.get('model') or {}
    n = len(classes)
    for name in ('decode_head', 'auxiliary_head'):
        node = model.get(name)
        for i, h in enumerate(node if isinstance(node, (list, tuple)) else [node]):
            if not isinstance(h, dict) or not isinstance(h.get('num_classes'), int):
                continue
            hk = f'model.{name}' + (f'[{i}]' if isinstance(node, (list, tuple)) else '')
            if h['num_classes'] != n:
                raise ClassCheckError(
                    f'{hk}.num_classes={h["num_classes"]} but {key} has {n} classes {short(classes)}: set '
                    f'{hk}.num_classes={n}' + (f' and {hk}.loss_cls.class_weight=[1.0] * {n} + [0.1]'
                                               if 'Mask2Former' in str(h.get('type')) else ''))
            if 'Mask2Former' in str(h.get('type')):
                err = _class_weight_error(hk, h, n)
                if err:
                    raise ClassCheckError(err)
