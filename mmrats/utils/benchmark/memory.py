"""The GPU memory a DINO pretraining config needs per GPU, predicted from a small-batch measurement on any device.

Two parts make the peak of a training iteration:

* **batch-independent state**, counted from the parameters: the weights of
  student and EMA teacher (float32: autocast keeps the master weights in
  float32), the student's gradients (all of them, as if every one were
  allocated at the peak: an upper bound, the peak falls early in the backward
  pass when few are), AdamW's two moments and DDP's gradient buckets (one more
  gradient-sized buffer: mmengine's ``MMDistributedDataParallel`` keeps DDP's
  default ``gradient_as_bucket_view=False``);
* **activations**, measured: one forward + backward of the config's real model
  (backbone, projection neck, DINO loss, teacher forward on the global crops)
  on the config's real crops (every view of its ``MultiView``, at its
  ``RandomResizedCrop`` size), at two small batches, in the run's dtype
  (bf16 autocast where the config trains in bf16). The peak of live tensor
  bytes (:func:`~.timing.peak_memory`) at batch ``b1`` and ``b2`` gives the
  bytes per sample (the slope) and what does not grow with the batch (the
  intercept; beyond the gradients it may hold, the ``workspace``: e.g.
  autocast's bf16 copies of the weights).

The prediction at the config's batch per GPU ``B`` is
``weights + gradients + AdamW + DDP buckets + workspace + B x slope``: the allocator's
``max_memory_allocated``; the CUDA context (about 0.5-1 GB) and fragmentation
come on top. Where a GPU is present the same step at the real batch gives the
measured ``max_memory_allocated`` beside it (:func:`measured_cuda_peak`).
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch

from .timing import peak_memory

GIB = 2 ** 30


def view_sizes(cfg) -> list[int]:
    """The crop side of every view of the config's ``MultiView`` (e.g. ``[224, 224, 96 x 10]``).

    Raises:
        ValueError: the train pipeline has no ``MultiView`` with a ``RandomResizedCrop`` first in each view.
    """
    ds = cfg.train_dataloader.dataset
    while 'pipeline' not in ds and 'dataset' in ds:
        ds = ds.dataset
    multi = next((t for t in ds.get('pipeline', []) if t.get('type') == 'MultiView'), None)
    if multi is None:
        raise ValueError('train_dataloader.dataset.pipeline has no MultiView: not a DINO multi-crop config')
    sizes = []
    for n, views in zip(multi.num_views, multi.transforms):
        crop = views[0]
        if crop.get('type') != 'RandomResizedCrop':
            raise ValueError(f'MultiView views start with {crop.get("type")!r}, expected RandomResizedCrop')
        side = crop.scale if isinstance(crop.scale, int) else max(crop.scale)
        sizes += [int(side)] * int(n)
    return sizes


def train_dtype(cfg, device: str) -> torch.dtype | None:
    """The autocast dtype the config trains in on ``device`` (None: float32)."""
    wrapper = cfg.optim_wrapper
    if wrapper.get('type') != 'AmpOptimWrapper':
        return None
    name = str(wrapper.get('dtype') or 'float16')
    dtype = dict(bfloat16=torch.bfloat16, float16=torch.float16).get(name)
    if dtype is torch.float16 and device == 'cpu':  # CPU autocast's float16 is emulated: measure in bf16
        return torch.bfloat16
    return dtype


def _views(sizes: list[int], batch: int, device: str) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [torch.randn(batch, 3, s, s, generator=g).to(device) for s in sizes]


def dino_step(model, sizes: list[int], batch: int, dtype: torch.dtype | None, device: str):
    """One forward + backward of ``model.loss`` on random views (gradients cleared after)."""
    views = _views(sizes, batch, device)

    def step() -> None:
        with torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None):
            losses = model.loss(views)
            loss = sum(v for k, v in losses.items() if 'loss' in k)
        loss.backward()
        model.zero_grad(set_to_none=True)
    return step


@dataclass
class MemoryPrediction:
    """Predicted peak GPU memory of one DINO training iteration at ``batch`` per GPU (bytes unless said)."""

    batch: int
    dtype: str
    with_cp: bool | int
    student_params: int
    teacher_params: int
    weights: int
    grads: int
    adamw: int
    ddp_buckets: int
    workspace: int
    per_sample: int
    measured_batches: tuple[int, int]

    @property
    def activations(self) -> int:
        return self.per_sample * self.batch

    @property
    def peak(self) -> int:
        return self.weights + self.grads + self.adamw + self.ddp_buckets + self.workspace + self.activations

    def fits(self, gpu_gib: float, headroom_gib: float = 2.0) -> bool:
        """Whether the peak plus ``headroom_gib`` (CUDA context, fragmentation) stays under ``gpu_gib``."""
        return self.peak + headroom_gib * GIB <= gpu_gib * GIB

    def max_batch(self, gpu_gib: float, headroom_gib: float = 2.0) -> int:
        """The largest batch per GPU that :meth:`fits`."""
        free = gpu_gib * GIB - headroom_gib * GIB - (self.peak - self.activations)
        return max(0, int(free // self.per_sample)) if self.per_sample > 0 else 10 ** 9

    def as_dict(self) -> dict:
        return dict(asdict(self), activations=self.activations, peak=self.peak, peak_gib=self.peak / GIB)


def predict_dino_memory(model, sizes: list[int], batch: int, dtype: torch.dtype | None, device: str = 'cpu',
                        measure_batches: tuple[int, int] = (1, 2)) -> MemoryPrediction:
    """Measure ``model`` (an ``mmrats.DINO``, train mode) at two small batches and predict the peak at ``batch``.

    Args:
        model: the config's model, on ``device``.
        sizes: the crop side of every view (:func:`view_sizes`).
        batch: the batch per GPU to predict for.
        dtype: the autocast dtype (:func:`train_dtype`), None for float32.
        device: where to measure (the CPU's tensor-byte peak, or CUDA's allocator peak).
        measure_batches: the two small batches.
    """
    b1, b2 = measure_batches
    if not 0 < b1 < b2:
        raise ValueError(f'measure_batches must be two increasing batch sizes >= 1, got {measure_batches}')
    model.train()
    p1 = peak_memory(dino_step(model, sizes, b1, dtype, device), device)
    p2 = peak_memory(dino_step(model, sizes, b2, dtype, device), device)
    per_sample = max(0, (p2 - p1) // (b2 - b1))
    teacher = sum(p.numel() for p in model.teacher.parameters())
    student = sum(p.numel() for p in model.parameters()) - teacher
    trainable = sum(p.numel() for n, p in model.named_parameters() if not n.startswith('teacher.'))
    return MemoryPrediction(batch=batch, dtype=str(dtype or torch.float32).removeprefix('torch.'),
                            with_cp=getattr(model.backbone, 'with_cp', False), student_params=student,
                            teacher_params=teacher, weights=4 * (student + teacher), grads=4 * trainable,
                            adamw=8 * trainable, ddp_buckets=4 * trainable,
                            workspace=max(0, p1 - b1 * per_sample - 4 * trainable), per_sample=per_sample,
                            measured_batches=(b1, b2))


def measured_cuda_peak(model, sizes: list[int], batch: int, dtype: torch.dtype | None) -> int:
    """``max_memory_allocated`` of one real step on CUDA at ``batch``: forward, backward and an AdamW step."""
    model = copy.deepcopy(model).cuda().train()
    params = [p for n, p in model.named_parameters() if not n.startswith('teacher.') and p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-6)
    views = _views(sizes, batch, 'cuda')
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(2):  # the second step has AdamW's moments allocated, as every later one does
        with torch.autocast('cuda', dtype=dtype or torch.float32, enabled=dtype is not None):
            losses = model.loss(views)
            loss = sum(v for k, v in losses.items() if 'loss' in k)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del model, opt, views
    torch.cuda.empty_cache()
    return peak
