"""The DINO step row explained by its parts: local crops, global crops and the teacher, each timed alone.

The step (:class:`~.steps.Step` of ``benchmark.py``'s DINO section) runs the
student on the 2 global and the 10 local crops, one backward pass of the summed
loss, then the teacher on the global crops. Timed alone, the parts are the
student's forward + backward on the local crops, on the global crops, and the
teacher's forward. What the step costs beyond their sum is holding both crop
sizes' graphs at once: a higher peak of live memory, which on the CPU the
allocator takes fresh from the system (zeroed pages mapped on first touch, the
``minor_faults`` of each row) where the parts alone reuse what it already holds.
"""
from __future__ import annotations

__all__ = ['step_parts', 'step_parts_markdown']


def step_parts(rows: list[dict], step: str, local: str, glob: str, teacher: str) -> list[dict]:
    """For every model with all four rows: the step, its parts, their sum, the rest, and the page faults."""
    by = {(r['section'], r['model']): r for r in rows}
    out = []
    for r in rows:
        if r['section'] != step:
            continue
        parts = [by.get((s, r['model'])) for s in (local, glob, teacher)]
        if any(p is None for p in parts):
            continue
        total = sum(p['fwdbwd_s'] for p in parts)
        out.append(dict(model=r['model'], step_s=r['fwdbwd_s'], local_s=parts[0]['fwdbwd_s'],
                        global_s=parts[1]['fwdbwd_s'], teacher_s=parts[2]['fwdbwd_s'], parts_s=total,
                        rest_s=r['fwdbwd_s'] - total, step_faults=r.get('minor_faults'),
                        parts_faults=sum(p.get('minor_faults') or 0 for p in parts),
                        step_mem_mb=r['peak_mem_fwdbwd_mb'],
                        parts_mem_mb=max(p['peak_mem_fwdbwd_mb'] for p in parts)))
    return out


def step_parts_markdown(parts: list[dict]) -> list[str]:
    """Markdown table lines of :func:`step_parts` (empty if none)."""
    if not parts:
        return []
    lines = ['', '| DINO step by its parts | step ms | local fwd+bwd | global fwd+bwd | teacher fwd | sum of parts | '
             'rest | page faults: step / parts | peak MB: step / largest part |', '|---' * 9 + '|']
    for p in parts:
        lines.append(f"| {p['model']} | {p['step_s'] * 1e3:.0f} | {p['local_s'] * 1e3:.0f} | "
                     f"{p['global_s'] * 1e3:.0f} | {p['teacher_s'] * 1e3:.0f} | {p['parts_s'] * 1e3:.0f} | {p['rest_s'] * 1e3:+.0f} | "
                     f"{p['step_faults']:.0f} / {p['parts_faults']:.0f} | {p['step_mem_mb']:.0f} / "
                     f"{p['parts_mem_mb']:.0f} |")
    return lines
