"""A hook for ``test_dino_chain.py::test_two_process_dino_pretraining`` (imported by the run's config
through ``custom_imports``): every rank records each update of the DINO center (its own batch mean of the
teacher logits, the center before and after) and saves them as ``WORK_DIR/center_rank{RANK}.pt``."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS


@HOOKS.register_module()
class DINOCenterProbeHook(Hook):
    priority = 'LOWEST'

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        head, inner = model.head, model.head.update_center
        self.records = []

        def recorded_update(teacher):
            local, before = teacher.mean(0).clone(), head.center.clone()  # this rank's batch mean
            inner(teacher)
            self.records.append(dict(local=local, before=before, after=head.center.clone(),
                                     momentum=head.center_momentum))

        head.update_center = recorded_update

    def after_train(self, runner) -> None:
        torch.save(self.records, osp.join(runner.work_dir, f'center_rank{get_rank()}.pt'))
