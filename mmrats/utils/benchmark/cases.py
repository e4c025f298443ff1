"""Benchmark rows: the cases of a section timed interleaved, their peak memory, and ratios to a reference.

A :class:`Case` is one row of a table: a model's forward step (optional) and
forward + backward step, with what is known before timing (parameters,
FLOPs). :func:`run_cases` times all cases of a section interleaved
(:func:`~.timing.time_interleaved`: median and minimum of the repeats), then
measures each one's peak memory; :func:`add_ratios` divides by the reference
row of the same section (compiled rows, named ``... [compiled]``, by the
compiled reference).
"""
from __future__ import annotations

import statistics
from collections.abc import Callable

from .timing import peak_memory, time_interleaved

__all__ = ['COMPILED', 'Case', 'add_ratios', 'run_cases']

COMPILED = ' [compiled]'


class Case:
    """One row: a model, its steps, and what is known about it before timing.

    Args:
        section: the table section (e.g. ``'512x512'``).
        name: the model's row name (``COMPILED`` appended for a compiled twin).
        batch: images per step.
        params: parameter count.
        fwd: the forward step, or None (training-only rows).
        fwdbwd: the forward + backward step.
        gflops_: forward GFLOPs per image, or None.
        step_tflop: TFLOP per image of the whole step (the DINO rows), or None.
    """

    def __init__(self, section: str, name: str, batch: int, params: int, fwd: Callable[[], None] | None,
                 fwdbwd: Callable[[], None], gflops_: float | None, step_tflop: float | None = None) -> None:
        self.section, self.name, self.batch, self.params = section, name, batch, params
        self.fwd, self.fwdbwd, self.gflops, self.step_tflop = fwd, fwdbwd, gflops_, step_tflop


def run_cases(cases: list[Case], device: str, repeats: int, peak_tflops: float | None = None) -> list[dict]:
    """Time the cases interleaved, then measure each one's peak memory; one row dict per case.

    Rows hold ``section, model, compiled, batch, params, gflops, fwd_s, fwd_min_s, fwdbwd_s, fwdbwd_min_s,
    fwdbwd_all_s, minor_faults (median page faults of a fwd+bwd call), peak_mem_fwdbwd_mb, img_per_s`` and, with
    a ``step_tflop``, ``step_tflop_per_img`` and
    ``achieved_tflops`` (and ``mfu`` given ``peak_tflops``). Each row is printed as it is done.
    """
    steps = {}
    for i, c in enumerate(cases):
        if c.fwd is not None:
            steps[(i, 'fwd')] = c.fwd
        steps[(i, 'fwdbwd')] = c.fwdbwd
    faults: dict = {}
    times = time_interleaved(steps, device, repeats, faults)
    rows = []
    for i, c in enumerate(cases):
        t = times[(i, 'fwdbwd')]
        row = dict(section=c.section, model=c.name, compiled=c.name.endswith(COMPILED), batch=c.batch,
                   params=c.params, gflops=c.gflops, fwd_s=None, fwd_min_s=None,
                   fwdbwd_s=statistics.median(t), fwdbwd_min_s=min(t), fwdbwd_all_s=t)
        if c.fwd is not None:
            row['fwd_s'], row['fwd_min_s'] = statistics.median(times[(i, 'fwd')]), min(times[(i, 'fwd')])
        row['minor_faults'] = statistics.median(faults[(i, 'fwdbwd')])
        row['peak_mem_fwdbwd_mb'] = peak_memory(c.fwdbwd, device) / 2**20
        row['img_per_s'] = c.batch / row['fwdbwd_s']
        if c.step_tflop is not None:
            row['step_tflop_per_img'] = c.step_tflop
            row['achieved_tflops'] = c.step_tflop * c.batch / row['fwdbwd_s']
            if peak_tflops:
                row['mfu'] = row['achieved_tflops'] / peak_tflops
        rows.append(row)
        print(f"{c.section:<24} {c.name:<40} fwd+bwd {row['fwdbwd_s'] * 1e3:9.1f} ms "
              f"(min {row['fwdbwd_min_s'] * 1e3:.1f})", flush=True)
    return rows


def add_ratios(rows: list[dict], reference: str) -> None:
    """Ratios to the ``reference`` model of the same section (compiled rows: to the compiled reference), in place:
    ``time_vs_ref``, ``time_vs_ref_min``, ``speedup_vs_ref``, ``mem_vs_ref``."""
    ref = {(r['section'], r['compiled']): r for r in rows if r['model'].removesuffix(COMPILED) == reference}
    for r in rows:
        base = ref.get((r['section'], r['compiled']))
        if base is None:
            continue
        r['time_vs_ref'] = r['fwdbwd_s'] / base['fwdbwd_s']
        r['time_vs_ref_min'] = r['fwdbwd_min_s'] / base['fwdbwd_min_s']
        r['speedup_vs_ref'] = base['fwdbwd_s'] / r['fwdbwd_s']
        r['mem_vs_ref'] = r['peak_mem_fwdbwd_mb'] / base['peak_mem_fwdbwd_mb']
