"""Which ``scaled_dot_product_attention`` kernel every attention path of a backbone runs (docs/benchmarks.md).

For one forward + backward of a model, :func:`check_attention_paths` records
the exact tensors (shapes, strides, dtype) each SDPA call of the first block
receives, names the aten kernel an unrestricted call dispatches to, tries every
backend (``torch.nn.attention.sdpa_kernel``) on them, and on CUDA measures the
output's distance to float32 on the CPU.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

from .steps import loss_of, tokens

__all__ = ['SDPA_BACKENDS', 'RecordSDPA', 'attention_paths', 'backend_accepts', 'check_attention_paths',
           'sdpa_kernel_name']

SDPA_BACKENDS = ('flash', 'efficient', 'cudnn', 'math')


def _backends() -> dict:
    from torch.nn.attention import SDPBackend
    return dict(zip(SDPA_BACKENDS, (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                                    SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH)))


class RecordSDPA(TorchFunctionMode):
    """Record the arguments of every ``F.scaled_dot_product_attention`` call (copies, strides kept)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[torch.Tensor, ...]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is F.scaled_dot_product_attention:
            self.calls.append(tuple(torch.empty_strided(a.shape, a.stride(), dtype=a.dtype, device=a.device)
                                    .copy_(a) for a in args[:3]))
        return func(*args, **(kwargs or {}))


def attention_paths(model: nn.Module) -> list[str]:
    """The SDPA calls of one block, in order: RATS' compress, communicate, broadcast (+ parallel); else one."""
    attn = model.blocks[0].attn
    if getattr(model, 'mode', None) == 'rats':
        return ['compress', 'communicate', 'broadcast'] + (['parallel'] if attn.parallel else [])
    return ['attention']


def sdpa_kernel_name(q, k, v) -> str:
    """The aten SDPA kernel that one unrestricted call dispatches to."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        F.scaled_dot_product_attention(q, k, v)
    names = [e.name for e in prof.events() if 'scaled_dot_product' in e.name and e.name !=
             'aten::scaled_dot_product_attention']
    return names[0].removeprefix('aten::') if names else 'unknown'


def backend_accepts(backend, q, k, v) -> bool:
    """Whether SDPA restricted to ``backend`` runs forward and backward on these exact tensors."""
    from torch.nn.attention import sdpa_kernel
    q, k, v = (t.detach().requires_grad_() for t in (q, k, v))
    try:
        with sdpa_kernel([backend]), warnings.catch_warnings():
            warnings.simplefilter('ignore')
            F.scaled_dot_product_attention(q, k, v).float().sum().backward()
        return True
    except RuntimeError:
        return False


def check_attention_paths(model: nn.Module, x: torch.Tensor, amp: bool = False) -> list[dict]:
    """One row per attention path of the first block for input ``x`` (forward + backward, bf16 with ``amp``).

    Returns:
        ``dict(path, q, k, dtype, q_contiguous, kernel, accepts={backend: bool})`` per path, on CUDA also
        ``max_abs_err_vs_cpu_fp32`` and ``max_abs_ref``.
    """
    device = x.device.type
    rec = RecordSDPA()
    with torch.autocast(device, dtype=torch.bfloat16, enabled=amp), rec:
        loss_of(tokens(model, x)).backward()
    paths = attention_paths(model)
    rows = []
    for path, (q, k, v) in zip(paths, rec.calls[:len(paths)]):
        row = dict(path=path, q=list(q.shape), k=list(k.shape), dtype=str(q.dtype), q_contiguous=q.is_contiguous(),
                   kernel=sdpa_kernel_name(q, k, v),
                   accepts={key: backend_accepts(be, q, k, v) for key, be in _backends().items()})
        if device == 'cuda':  # this path's output against float32 on the CPU
            ref = F.scaled_dot_product_attention(*(t.detach().float().cpu() for t in (q, k, v)))
            out = F.scaled_dot_product_attention(q, k, v).float().cpu()
            row['max_abs_err_vs_cpu_fp32'] = (out - ref).abs().max().item()
            row['max_abs_ref'] = ref.abs().max().item()
        rows.append(row)
    return rows
