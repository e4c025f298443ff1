"""The part dictionary end to end: records of a split, the dictionary file, its metrics (paper §4.4, App. C).

* :func:`collect_records`: one backbone pass per batch of a
  :class:`~mmrats.evaluation.dictionary.sources.LabelledSplit`; linear in the
  number of images.
* :class:`PartDictionary`: the entries (K-means centroids or a learned
  codebook), and after labelling their names; saved as one ``.pth``.
* :func:`evaluate_dictionary`: on a split, the nearest entry of every
  register, the bag-of-entries retrieval (mAP, R@1 at each retrieval level,
  by category), ``valPw`` and ``util%``.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from mmrats.models.utils.entry_assignment import nearest_entry
from mmrats.utils.images import normalize
from .labelling import EntryLabels, dictionary_scores, label_entries
from .records import BACKGROUND, RegisterRecords, batch_records
from .retrieval import bag_of_entries, retrieval_scores, tfidf
from .sources import LabelledSplit


def progress_lines(label: str = 'extract', every_s: float = 20.0) -> Callable[[int, int], None]:
    """A ``progress`` for :func:`collect_records` that prints ``'{label}: done/total images'`` at most every
    ``every_s`` seconds, and at the end."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        if time.time() - last[0] > every_s or done == total:
            last[0] = time.time()
            print(f'{label}: {done}/{total} images', flush=True)
    return report


@torch.no_grad()
def collect_records(backbone: nn.Module, split: LabelledSplit, batch_size: int = 32, device: str = 'cpu',
                    progress: Callable[[int, int], None] | None = None) -> RegisterRecords:
    """Register records (features, image, register, part, foreground peak) of every image of ``split``."""
    if batch_size < 1:
        raise ValueError(f'batch size must be >= 1, got {batch_size}')
    chunks = []
    for start in range(0, len(split), batch_size):
        idx = list(range(start, min(len(split), start + batch_size)))
        images, labels = split.load(idx)
        rec, _, _ = batch_records(backbone, normalize(images).to(device), torch.from_numpy(labels),
                                  split.num_labels, start, BACKGROUND)
        chunks.append(rec)
        if progress is not None:
            progress(idx[-1] + 1, len(split))
    return RegisterRecords.cat(chunks)


@dataclass
class PartDictionary:
    """Entries ``(K, C)``, how they were made, and (after labelling) their names.

    Attributes:
        entries: ``(K, C)`` float32.
        method: ``'kmeans'`` or ``'codebook'``.
        label_names: names of the label ids the entries are named with.
        names: the labelling (:class:`EntryLabels`), or None before it.
        meta: where it came from (backbone, split, settings).
    """

    entries: torch.Tensor
    method: str
    label_names: list[str] = field(default_factory=list)
    names: EntryLabels | None = None
    meta: dict = field(default_factory=dict)

    @property
    def num_entries(self) -> int:
        return int(self.entries.shape[0])

    def save(self, path: str) -> None:
        state = dict(entries=self.entries, method=self.method, label_names=self.label_names, meta=self.meta)
        if self.names is not None:
            state['names'] = dict(label=self.names.label, purity=self.names.purity, count=self.names.count,
                                  votes=self.names.votes)
        torch.save(state, path)

    @staticmethod
    def load(path: str) -> 'PartDictionary':
        state = torch.load(path, map_location='cpu', weights_only=True)
        if not isinstance(state, dict) or 'entries' not in state:
            raise ValueError(f'{path} is not a part dictionary (no "entries"); write one with '
                             'tools/analysis/part_dictionary.py build')
        names = EntryLabels(**state['names']) if 'names' in state else None
        return PartDictionary(state['entries'].float(), state['method'], list(state.get('label_names', [])),
                              names, dict(state.get('meta', {})))

    def assign(self, records: RegisterRecords) -> torch.Tensor:
        """Step (i): the nearest entry of every register record."""
        if records.features.shape[1] != self.entries.shape[1]:
            raise ValueError(f'the dictionary has {self.entries.shape[1]}-dim entries but the backbone gives '
                             f'{records.features.shape[1]}-dim registers: use the backbone it was built with')
        return nearest_entry(records.features, self.entries)

    def label(self, records: RegisterRecords, label_names: list[str]) -> 'PartDictionary':
        """Steps (i)-(iii) on a labelled split: names, purity, counts; small entries dropped."""
        names = label_entries(self.assign(records), records.part, self.num_entries, len(label_names))
        return PartDictionary(self.entries, self.method, list(label_names), names, dict(self.meta))


def evaluate_dictionary(dictionary: PartDictionary, records: RegisterRecords, split: LabelledSplit) -> dict:
    """Retrieval (mAP, R@1 per level and category) and ``valPw`` / ``util%`` of a named dictionary on a split."""
    if dictionary.names is None:
        raise ValueError('the dictionary is not labelled yet: run tools/analysis/part_dictionary.py label first')
    if dictionary.label_names != split.label_names:
        raise ValueError(f'the dictionary was labelled with the labels {dictionary.label_names} but the split has '
                         f'{split.label_names}: evaluate on the dataset it was labelled on')
    entry = dictionary.assign(records)
    vectors = tfidf(bag_of_entries(records.image, entry, len(split), dictionary.num_entries))
    out = dict(retrieval={level: retrieval_scores(vectors, cats, names)
                          for level, (cats, names) in split.levels().items()})
    out['dictionary'] = dictionary_scores(dictionary.names, entry, records.part)
    out['images'], out['registers'] = len(split), int(len(entry))
    return out
