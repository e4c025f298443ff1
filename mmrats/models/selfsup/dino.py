"""DINO self-distillation for RATS and the ViT baseline (paper §3.1, §3.2 "Training", App. E).

Student = backbone + projection neck, trained; teacher = an exponential moving
average of the student (no gradient). Every crop goes through the student, the
global crops through the teacher; :class:`~mmrats.models.heads.DINOHead`
computes the loss. Crops of equal size are concatenated into one backbone pass
(2 global crops: one pass; all local crops: one pass).

The global representation (spec "Pretraining objective"): the mean of the
final-layer (post-norm) registers for RATS; [CLS] for a ViT. With
``per_head_loss=True`` (paper Table 6) each head's own registers are averaged
(register ``i`` belongs to head ``i // (N / H)``), giving ``(B, H, C)``, and
the head computes one DINO loss per attention head.

The schedules live in hooks, which find this model with or without a
distributed wrapper: :class:`~mmrats.engine.hooks.DINOTeacherHook` (teacher
temperature, EMA momentum and the EMA update after every optimizer step) and
:class:`~mmrats.engine.hooks.FreezeLastLayerHook`.
"""
from __future__ import annotations

import copy

import torch
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from torch import Tensor, nn

from mmrats.models.utils.candidate_maps import candidate_maps, check_method, default_method
from mmrats.models.utils.global_repr import global_vector
from mmrats.models.utils.lastvit_aggregation import LaStViTAggregation
from mmrats.registry import MODELS


@MODELS.register_module()
class DINO(BaseSelfSupervisor):
    """DINO with an EMA teacher, multi-crop and a register (or [CLS]) global representation.

    Args:
        backbone: an ``mmrats.RATSViT`` config (``mode='rats'``: registers;
            ``mode='mhsa'`` with [CLS]: the DINO ViT).
        neck: the projection head, ``mmrats.DINONeck``.
        head: the loss, ``mmrats.DINOHead`` (``num_groups`` = heads with ``per_head_loss``).
        num_global_crops: how many of the views (the first ones) are global crops.
        global_repr: ``'auto'`` (registers' mean if the backbone has registers and
            no [CLS], else [CLS]), ``'registers'``, ``'cls'`` or ``'lastvit'`` (LaSt-ViT's
            stability-guided top-K aggregation of the final patch tokens, any backbone:
            :class:`~mmrats.models.utils.LaStViTAggregation`).
        per_head_loss: one loss per head over its registers (needs ``'registers'``).
        data_preprocessor: defaults to mmpretrain's ``SelfSupDataPreprocessor``.
        part_method: candidate maps of the validation pass (``mode='predict'``):
            ``'registers'``, ``'cls-attn'``, ``'register-attn'`` or None (the
            backbone's default, :func:`~mmrats.models.utils.candidate_maps.default_method`).
        predict_backbone: ``'teacher'`` (what is extracted after pretraining) or ``'student'``.
        lastvit: with ``global_repr='lastvit'``, the aggregation's ``dict(top_k=K, sigma=..., eps=...)``
            (K an int or a share of the patches; sigma the low-pass width in frequency bins).
        codebook: ``dict(num_entries=K, commitment_weight=..., diversity_weight=...)`` (the other
            arguments of :class:`~mmrats.models.selfsup.RegisterCodebook`): a learned dictionary of
            register entries trained with the backbone (paper §4.4, App. C.2) on the student's
            last-block registers of the global crops **[ours]**; its losses are added to DINO's
            (logged ``loss_dino``); the teacher keeps an EMA copy (``teacher.codebook``), the entries
            that go with the extracted teacher backbone. None (default): no codebook.
    """

    def __init__(self, backbone: dict, neck: dict, head: dict, num_global_crops: int = 2,
                 global_repr: str = 'auto', per_head_loss: bool = False,
                 data_preprocessor: dict | None = None, init_cfg: dict | None = None,
                 part_method: str | None = None, predict_backbone: str = 'teacher',
                 codebook: dict | None = None, lastvit: dict | None = None) -> None:
        super().__init__(backbone=backbone, neck=neck, head=head, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if global_repr == 'auto':
            global_repr = 'cls' if getattr(self.backbone, 'with_cls_token', False) else 'registers'
        if global_repr not in ('registers', 'cls', 'lastvit'):
            raise ValueError(f"DINO global_repr must be 'auto', 'registers', 'cls' or 'lastvit', got {global_repr!r}")
        if lastvit is not None and global_repr != 'lastvit':
            raise ValueError(f"DINO lastvit={lastvit!r} is used only with global_repr='lastvit' (got {global_repr!r})")
        self.lastvit = LaStViTAggregation(**(lastvit or {})) if global_repr == 'lastvit' else None
        if global_repr == 'registers' and not getattr(self.backbone, 'num_registers', 0):
            raise ValueError("DINO global_repr='registers' needs a backbone with registers "
                             "(model.backbone.num_registers > 0); a plain ViT uses global_repr='cls'")
        if global_repr == 'cls' and not getattr(self.backbone, 'with_cls_token', False):
            raise ValueError("DINO global_repr='cls' needs a backbone with a [CLS] token (mode='mhsa')")
        if per_head_loss:
            if global_repr != 'registers':
                raise ValueError('DINO per_head_loss=True needs the registers as global representation')
            if self.head.num_groups != self.backbone.num_heads:
                raise ValueError(f'DINO per_head_loss=True: set model.head.num_groups='
                                 f'{self.backbone.num_heads} (the backbone\'s heads), got {self.head.num_groups}')
        elif self.head.num_groups != 1:
            raise ValueError(f'model.head.num_groups={self.head.num_groups} needs per_head_loss=True')
        if num_global_crops < 1:
            raise ValueError(f'DINO num_global_crops must be >= 1, got {num_global_crops}')
        if predict_backbone not in ('teacher', 'student'):
            raise ValueError(f"DINO predict_backbone must be 'teacher' or 'student', got {predict_backbone!r}")
        if part_method is not None:
            check_method(self.backbone, part_method)
        self.part_method, self.predict_backbone = part_method, predict_backbone
        self.global_repr = global_repr
        self.per_head_loss = per_head_loss
        self.num_global_crops = num_global_crops
        self.teacher = nn.ModuleDict(dict(backbone=copy.deepcopy(self.backbone), neck=copy.deepcopy(self.neck)))
        self.codebook, self._codebook_inputs = None, None
        if codebook is not None:
            if not getattr(self.backbone, 'num_registers', 0):
                raise ValueError('DINO codebook needs a backbone with registers '
                                 '(model.backbone.num_registers > 0)')
            self.codebook = MODELS.build(dict(dict(type='mmrats.RegisterCodebook',
                                                   embed_dims=self.backbone.embed_dims), **codebook))
            self.teacher['codebook'] = copy.deepcopy(self.codebook)
        self.teacher.requires_grad_(False)
        self.teacher.eval()

    def init_weights(self) -> None:
        """Initialise the student, then start the teacher as its exact copy."""
        super().init_weights()
        self.teacher.backbone.load_state_dict(self.backbone.state_dict())
        self.teacher.neck.load_state_dict(self.neck.state_dict())
        if self.codebook is not None:
            self.teacher.codebook.load_state_dict(self.codebook.state_dict())

    def train(self, mode: bool = True) -> 'DINO':
        """The teacher always runs in eval mode (no drop path, as DINO's teacher)."""
        super().train(mode)
        self.teacher.eval()
        return self

    # ------------------------------------------------------------- features
    def global_features(self, backbone: nn.Module, x: Tensor) -> Tensor:
        """``(B, C)`` (or ``(B, H, C)`` per head) global representation of a batch of crops."""
        f = backbone.forward_features(x)
        if self._codebook_inputs is not None and backbone is self.backbone:  # the codebook's registers
            self._codebook_inputs.append(f['registers'])
        if self.per_head_loss:  # registers only (checked in __init__)
            b, n, c = f['registers'].shape
            return f['registers'].view(b, backbone.num_heads, n // backbone.num_heads, c).mean(2)
        return global_vector(f, self.global_repr, self.lastvit)

    def _multicrop(self, backbone: nn.Module, neck: nn.Module, crops: list[Tensor]) -> list[Tensor]:
        """Logits per crop; consecutive crops of the same size share one backbone pass."""
        out, start = [], 0
        while start < len(crops):
            end = start
            while end < len(crops) and crops[end].shape[-2:] == crops[start].shape[-2:]:
                end += 1
            feats = self.global_features(backbone, torch.cat(crops[start:end]))
            out.extend(neck(feats).chunk(end - start))
            start = end
        return out

    # ---------------------------------------------------------------- train
    def loss(self, inputs: list[Tensor], data_samples: list | None = None) -> dict[str, Tensor]:
        """DINO loss of one multi-crop batch.

        Args:
            inputs: the views, each ``(B, 3, h, w)``; the first ``num_global_crops`` are global.
            data_samples: unused (self-supervised).
        """
        if not isinstance(inputs, (list, tuple)) or len(inputs) <= self.num_global_crops:
            raise ValueError(f'DINO needs a list of more than num_global_crops={self.num_global_crops} views '
                             '(MultiView in the pipeline), got '
                             f'{len(inputs) if isinstance(inputs, (list, tuple)) else type(inputs).__name__}')
        global_crops = list(inputs[:self.num_global_crops])
        with torch.no_grad():
            teacher = self._multicrop(self.teacher.backbone, self.teacher.neck, global_crops)
        if self.codebook is None:
            student = self._multicrop(self.backbone, self.neck, list(inputs))
            return self.head.loss(student, teacher)
        self._codebook_inputs = []  # filled by global_features: the student's global crops come first
        try:
            student = self._multicrop(self.backbone, self.neck, list(inputs))
            n = len(inputs[0]) * self.num_global_crops  # the global crops' rows of the first passes
            registers = torch.cat(self._codebook_inputs)[:n] if len(self._codebook_inputs[0]) < n \
                else self._codebook_inputs[0][:n]
        finally:
            self._codebook_inputs = None
        losses = self.head.loss(student, teacher)
        losses['loss_dino'] = losses.pop('loss')  # mmengine sums every *loss* key into the logged `loss`
        return dict(losses, **self.codebook.loss(registers))

    # -------------------------------------------------------------- predict
    def forward(self, inputs, data_samples: list | None = None, mode: str = 'tensor'):
        """mmpretrain's modes plus ``'predict'``: the part-discovery validation pass (:meth:`predict`)."""
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        return super().forward(inputs, data_samples, mode)

    @torch.no_grad()
    def predict(self, inputs, data_samples: list | None = None) -> list:
        """Candidate part maps of every image (paper Eq. 7 and its baselines), for ``PartDiscoveryMetric``.

        Args:
            inputs: ``(B, 3, H, W)`` normalised images (or a one-view list).
            data_samples: the images' data samples (carrying ``gt_part_label``).

        Returns:
            The data samples with ``part_maps`` ``(M, h, w)`` set: the teacher's
            (or the student's) register-patch similarity, [CLS] attention per
            head or register attention (``part_method``).
        """
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError(f'DINO predict takes one view per image, got {len(inputs)} views')
            inputs = inputs[0]
        backbone = self.teacher.backbone if self.predict_backbone == 'teacher' else self.backbone
        maps = candidate_maps(backbone, inputs, self.part_method or default_method(backbone))
        if data_samples is None:
            from mmpretrain.structures import DataSample
            data_samples = [DataSample() for _ in range(len(maps))]
        for sample, m in zip(data_samples, maps):
            sample.set_field(m.cpu(), 'part_maps')
        return data_samples

    @torch.no_grad()
    def update_teacher(self, momentum: float) -> None:
        """EMA step ``teacher <- m teacher + (1 - m) student`` (parameters; buffers copied)."""
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f'EMA momentum must be in [0, 1], got {momentum}')
        for name in self.teacher.keys():  # backbone, neck (and codebook)
            student, teacher = getattr(self, name), self.teacher[name]
            s_params, t_params = list(student.parameters()), list(teacher.parameters())
            torch._foreach_mul_(t_params, momentum)
            torch._foreach_add_(t_params, s_params, alpha=1.0 - momentum)
            for t_buf, s_buf in zip(teacher.buffers(), student.buffers()):
                t_buf.copy_(s_buf)
