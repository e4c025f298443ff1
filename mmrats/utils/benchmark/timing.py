"""Timing and peak memory of benchmark steps.

Timing: all steps of a section are timed in turn, repeat after repeat
(interleaved), so that load from other processes falls on all of them alike.

Peak memory: CUDA ``max_memory_allocated``; CPU, the peak of live tensor bytes
replayed from the profiler's allocation events (one extra call under
``torch.profiler`` with ``profile_memory=True``), i.e. what the tensors
themselves need, not the process RSS.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Hashable

import torch

__all__ = ['minor_faults', 'peak_memory', 'profile_table', 'sync', 'time_interleaved']


def sync(device: str) -> None:
    """Wait for the device's queued work (CUDA); nothing on the CPU."""
    if device == 'cuda':
        torch.cuda.synchronize()


def minor_faults() -> int:
    """Minor page faults of this process so far (first touches of fresh memory pages; 0 where unknown)."""
    try:
        import resource
    except ImportError:  # not on every platform
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_interleaved(steps: dict[Hashable, Callable[[], None]], device: str, repeats: int,
                     faults: dict[Hashable, list[int]] | None = None) -> dict[Hashable, list[float]]:
    """Seconds of every step, ``repeats`` rounds over all steps after one warm-up round.

    ``faults``, if given, receives each timed call's minor page faults: on the CPU every page of memory the
    allocator takes fresh from the system is zeroed and mapped on first touch, inside the step's time.
    """
    times = {k: [] for k in steps}
    for i in range(repeats + 1):
        for key, step in steps.items():
            sync(device)
            f0, t0 = minor_faults(), time.perf_counter()
            step()
            sync(device)
            if i:
                times[key].append(time.perf_counter() - t0)
                if faults is not None:
                    faults.setdefault(key, []).append(minor_faults() - f0)
    return times


def peak_memory(step: Callable[[], None], device: str) -> int:
    """Peak bytes of live tensors during one call of ``step`` (see the module docstring)."""
    if device == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted((e for e in prof.events() if e.self_cpu_memory_usage), key=lambda e: e.time_range.start)
    cur = peak = 0
    for e in events:
        cur += e.self_cpu_memory_usage
        peak = max(peak, cur)
    return peak


def profile_table(step: Callable[[], None], top: int = 12) -> str:
    """``torch.profiler`` table (the ``top`` ops by self CPU time) of one call of ``step``, after a warm-up call."""
    from torch.profiler import ProfilerActivity, profile
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        step()
    return prof.key_averages().table(sort_by='self_cpu_time_total', row_limit=top)
