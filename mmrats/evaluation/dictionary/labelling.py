"""Naming the dictionary entries and measuring their purity (paper Appendix C.2, steps (i)-(iii); Fig. 6 left).

Step (i) maps every register to its nearest entry
(:func:`~mmrats.models.utils.entry_assignment.nearest_entry`), step (ii) to the
ground-truth part it attends to
(:func:`~mmrats.evaluation.dictionary.records.register_parts`); step (iii),
here, votes: an entry's **dominant part** is the most frequent part of its
registers (ties to the lowest label id) and its **purity** the share of its
registers with that part. Entries with fewer than ``min_registers`` (3)
registers are dropped (label ``-1``).

Metrics of a dictionary on a set of (entry, part) pairs:

* ``Pw``, the register-weighted mean purity over the kept entries,
  ``sum_k n_k p_k / sum_k n_k`` (``n_k`` registers of entry ``k``, ``p_k`` its
  purity). Measured on held-out registers (``valPw``), the purity of an entry
  is the share of its held-out registers whose part is the name the entry got
  on the labelling split **[ours]**, and the entries taken are those named on
  the labelling split with at least ``min_registers`` held-out registers.
* ``util%``, the share of the ``K`` entries with at least ``min_registers``
  registers.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

MIN_REGISTERS = 3


@dataclass
class EntryLabels:
    """The named dictionary.

    Attributes:
        label: ``(K,)`` dominant part id of each entry, ``-1`` for a dropped entry.
        purity: ``(K,)`` share of the entry's registers with its dominant part (0 when it has none).
        count: ``(K,)`` registers assigned to the entry.
        votes: ``(K, P)`` registers of each entry per part.
    """

    label: Tensor
    purity: Tensor
    count: Tensor
    votes: Tensor

    @property
    def kept(self) -> Tensor:
        return self.label >= 0


def vote_table(entry: Tensor, part: Tensor, num_entries: int, num_labels: int) -> Tensor:
    """``(K, P)`` counts of (entry, part) pairs; registers with ``part < 0`` are not counted."""
    keep = part >= 0
    if keep.any() and (int(part.max()) >= num_labels or int(entry.max()) >= num_entries or int(entry.min()) < 0):
        raise ValueError(f'entry ids must lie in [0, {num_entries}) and part ids in [0, {num_labels})')
    flat = entry[keep].long() * num_labels + part[keep].long()
    return torch.bincount(flat, minlength=num_entries * num_labels).view(num_entries, num_labels)


def label_entries(entry: Tensor, part: Tensor, num_entries: int, num_labels: int,
                  min_registers: int = MIN_REGISTERS) -> EntryLabels:
    """Step (iii): dominant part, purity and register count of every entry; small entries dropped."""
    votes = vote_table(entry, part, num_entries, num_labels)
    count = votes.sum(1)
    top, label = votes.max(1)  # ties: the lowest part id
    purity = top.double() / count.clamp_min(1).double()
    label = torch.where(count >= min_registers, label, torch.full_like(label, -1))
    return EntryLabels(label=label, purity=purity, count=count, votes=votes)


def weighted_purity(count: Tensor, purity: Tensor, kept: Tensor) -> float:
    """``sum n_k p_k / sum n_k`` over the kept entries (``nan`` if none is kept)."""
    n = count[kept].double()
    return float((n * purity[kept]).sum() / n.sum()) if n.sum() > 0 else float('nan')


def dictionary_scores(names: EntryLabels, entry: Tensor, part: Tensor,
                      min_registers: int = MIN_REGISTERS) -> dict:
    """``Pw`` / ``valPw`` and ``util%`` of a named dictionary on (entry, part) pairs of a split.

    Args:
        names: the dictionary named on the labelling split (:func:`label_entries`).
        entry, part: ``(R,)`` each register's nearest entry and ground-truth part on the scored split
            (the labelling split itself for ``Pw``, a held-out one for ``valPw``).

    Returns:
        ``pw`` (percent), ``util`` (percent of the ``K`` entries with at least ``min_registers`` registers
        here), ``entries_scored``, ``registers_scored`` (registers of the scored entries).
    """
    k, p = names.votes.shape
    votes = vote_table(entry, part, k, p)
    count = votes.sum(1)
    named = names.label >= 0
    hit = votes.gather(1, names.label.clamp_min(0)[:, None])[:, 0]
    purity = hit.double() / count.clamp_min(1).double()
    scored = named & (count >= min_registers)
    return dict(pw=100.0 * weighted_purity(count, purity, scored),
                util=100.0 * float((count >= min_registers).double().mean()),
                entries_scored=int(scored.sum()), registers_scored=int(count[scored].sum()))
